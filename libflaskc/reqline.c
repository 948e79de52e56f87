/* reqline.c — is a new connection speaking HTTP at all? A pure classifier of
 * its first bytes (conn.c peeks and answers), and the deferred accept. */
#include "internal.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Why the screen exists: libmicrohttpd 0.9.75 answers a few malformed
 * request lines itself (HTML 400) but closes others without a word (no space
 * in the line: parse_initial_message_line fails and the connection is closed
 * with no response queued), skips a line that starts with a NUL byte as if it
 * were empty (MHD_connection_handle_idle tests line[0] == 0), and waits for a
 * line end that binary junk or a TLS handshake never sends
 * (get_next_header_line), so those clients met our 30 s header timeout.
 * nginx answers all of them 400 at once; so do we, from the first bytes. */

/* Longer than any registered HTTP method (UPDATEREDIRECTREF has 17 letters) */
#define FC__METHOD_MAX 32

static const char msg_not_http[] = "The request does not start with an HTTP request line: a method "
                                   "in capital letters, then a space.";
static const char msg_tls[] = "This is a TLS handshake, but the server speaks plain HTTP on this "
                              "port: use http://, not https://.";
static const char msg_long_method[] = "The request method is longer than any HTTP method.";
static const char msg_ctl[] = "The request line contains a control character.";
static const char msg_parts[] = "The request line must be a method, a target and an HTTP version, "
                                "separated by spaces.";
static const char msg_version[] =
    "The request line does not end with an HTTP version such as HTTP/1.1.";

/* nginx's method alphabet. RFC 9110 allows any token, but the router knows
 * nine capitalised methods only, so nothing servable is refused, and a line
 * like "no-spaces-at-all" is known to be junk from its first byte. */
static bool method_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

static bool digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int bad(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return 400;
}

/* Every test below is decided by the bytes seen so far: a verdict of 400
 * never depends on bytes that have not arrived, so a request line split
 * across segments is never refused for being short. What libmicrohttpd
 * tolerates (empty lines first, several spaces, a space inside the target,
 * a bare LF) is tolerated here too; what it refuses with an HTML 400 (no
 * version, a malformed one) gets our JSON 400 instead. */
int fc__reqline_check(const char *buf, size_t n, const char **why)
{
    const unsigned char *p = (const unsigned char *)buf, *end = p + n;
    /* empty lines before the request line (RFC 9112 section 2.2) */
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    const unsigned char *m = p;
    while (p < end && method_char(*p) && (size_t)(p - m) <= FC__METHOD_MAX)
        p++;
    if ((size_t)(p - m) > FC__METHOD_MAX)
        return bad(why, msg_long_method);
    if (p == end)
        return 0; /* nothing yet, or a method still arriving */
    if (p == m && *p == 0x16 && (p + 1 == end || p[1] == 0x03))
        return bad(why, msg_tls); /* TLS record type handshake, version 3.x */
    if (p == m || *p != ' ')
        return bad(why, msg_not_http);
    const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
    const unsigned char *le = lf ? lf : end;
    if (le > p && le[-1] == '\r')
        le--; /* the CR of CRLF (or of a CRLF still arriving) */
    for (const unsigned char *q = p; q < le; q++)
        if (*q < 0x20 || *q == 0x7f)
            return bad(why, msg_ctl);
    if (!lf)
        return 0; /* the line is still arriving: fine so far */
    /* libmicrohttpd's reading: the version is the last word, the target is
     * everything between the method's space and the version's */
    while (le > p && le[-1] == ' ')
        le--;
    const unsigned char *target = p;
    while (target < le && *target == ' ')
        target++;
    const unsigned char *v = le;
    while (v > target && v[-1] != ' ')
        v--;
    if (v <= target)
        return bad(why, msg_parts); /* "GET /" (HTTP/0.9) or "GET " */
    if (le - v != 8 || memcmp(v, "HTTP/", 5) != 0 || !digit(v[5]) || v[6] != '.' || !digit(v[7]))
        return bad(why, msg_version);
    return 0; /* HTTP/0.x and 2+ are well-formed: libmicrohttpd answers 505 */
}

void fc__reqline_defer_accept(int fd)
{
#ifdef TCP_DEFER_ACCEPT
    /* the value is a time in seconds: a connection silent that long is
     * accepted anyway (about one SYN-ACK retransmission, ~1 s) */
    int secs = 1;
    if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) != 0)
        fc_log(FC_LOG_DEBUG,
               "TCP_DEFER_ACCEPT refused: junk arriving with the handshake is "
               "still answered 400, junk arriving later waits for the header timeout");
#else
    (void)fd;
#endif
}
