/* httpc.h — the small HTTP/1.1 client the socket tests share: a free
 * loopback port, connect to it, send everything, receive with a deadline,
 * find a response header, read one response, send a chunked body, and send
 * a request and read its answer on a connection of its own. Needs internal.h
 * first (fc__strncasecmp). */
#ifndef FC_TESTS_HTTPC_H
#define FC_TESTS_HTTPC_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int status;
    char head[32768];
    char body[65536];
    size_t len;
} resp;

/* a blocking TCP connection to 127.0.0.1:port, -1 when refused */
static inline int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* a loopback port free now (bound, then released), for a server that must
 * be told its port before it listens (fc_app_run in a child); 0 when none */
static inline int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &al) != 0)
        a.sin_port = 0;
    if (s >= 0)
        close(s);
    return ntohs(a.sin_port);
}

/* send everything; false when the peer closed or reset (which a server
 * refusing a request early may do) */
static inline bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* read with a deadline; bytes read, or -1 on timeout */
static inline ssize_t recv_some(int fd, char *buf, size_t n, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return -1;
    return recv(fd, buf, n, 0);
}

/* a header of a response read into r->head (case-insensitive name); the
 * value is copied into a per-thread buffer valid until the next call */
static inline const char *hdr(const resp *r, const char *name)
{
    static __thread char val[32768];
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (!fc__strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t k = strcspn(v, "\r");
            if (k >= sizeof(val))
                k = sizeof(val) - 1;
            memcpy(val, v, k);
            val[k] = '\0';
            return val;
        }
    }
    return NULL;
}

/* read more into buf (cap bytes, one kept free) after the *have bytes there;
 * false on a timeout, a close, or a full buffer */
static inline bool recv_more(int fd, char *buf, size_t cap, size_t *have, int ms)
{
    if (*have + 1 >= cap)
        return false;
    ssize_t n = recv_some(fd, buf + *have, cap - *have - 1, ms);
    if (n <= 0)
        return false;
    *have += (size_t)n;
    return true;
}

/* read one response from fd (after the request was sent): the status line
 * and headers into r->head, the body into r->body (NUL-terminated) and
 * r->len, by Content-Length or chunked; no body for a HEAD request
 * (head_request) or a 204 or 304. @p ms is the wait for each read. false on a
 * timeout, a close before the end, no HTTP/1.x status line, or a body that
 * does not fit r->body. */
static inline bool read_resp(int fd, resp *r, bool head_request, int ms)
{
    static __thread char buf[1 << 17];
    size_t have = 0;
    memset(r, 0, sizeof(*r));
    char *end;
    while (!(end = memmem(buf, have, "\r\n\r\n", 4)))
        if (!recv_more(fd, buf, sizeof(buf), &have, ms))
            return false;
    size_t hl = (size_t)(end - buf) + 4;
    memcpy(r->head, buf, hl < sizeof(r->head) - 1 ? hl : sizeof(r->head) - 1);
    if (strncmp(buf, "HTTP/1.", 7) != 0)
        return false;
    r->status = (int)strtol(buf + 9, NULL, 10);
    if (head_request || r->status == 304 || r->status == 204)
        return true;
    size_t off = hl;
    const char *te = hdr(r, "Transfer-Encoding");
    if (te && strstr(te, "chunked")) {
        for (;;) {
            char *crlf;
            while (!(crlf = memmem(buf + off, have - off, "\r\n", 2)))
                if (!recv_more(fd, buf, sizeof(buf), &have, ms))
                    return false;
            size_t sz = strtoul(buf + off, NULL, 16);
            size_t data = (size_t)(crlf - buf) + 2;
            if (sz >= sizeof(r->body) - r->len)
                return false;
            while (have < data + sz + 2)
                if (!recv_more(fd, buf, sizeof(buf), &have, ms))
                    return false;
            if (sz == 0)
                return true;
            memcpy(r->body + r->len, buf + data, sz);
            r->len += sz;
            off = data + sz + 2;
        }
    }
    const char *cl = hdr(r, "Content-Length");
    size_t want = cl ? strtoul(cl, NULL, 10) : 0;
    if (want >= sizeof(r->body))
        return false;
    while (have - off < want)
        if (!recv_more(fd, buf, sizeof(buf), &have, ms))
            return false;
    memcpy(r->body, buf + off, want);
    r->len = want;
    r->body[want] = '\0';
    return true;
}

/* send the n bytes of a raw request on a connection of its own and read the
 * answer (ms for each read). A send that fails half way is no failure by
 * itself: a server refusing a request early may close first; the answer
 * decides. */
static inline bool http_raw(int port, const char *raw, size_t n, resp *r, int ms)
{
    int fd = connect_to(port);
    if (fd < 0)
        return false;
    send_all(fd, raw, n);
    bool ok = read_resp(fd, r, n >= 4 && !memcmp(raw, "HEAD", 4), ms);
    close(fd);
    return ok;
}

/* POST to @p path on a connection of its own a chunked body of up to
 * @p count chunks of @p size bytes of @p fill, fewer when an answer comes
 * first (a server refusing the body early), then the last chunk; read the
 * answer (ms for each read). Send errors are no failure by themselves. */
static inline bool http_post_chunked(int port, const char *path, char fill, size_t size, int count,
                                     resp *r, int ms)
{
    char head[1024], piece[1024], sz[32];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof(head))
        return false;
    int fd = connect_to(port);
    if (fd < 0)
        return false;
    send_all(fd, head, (size_t)n);
    memset(piece, fill, sizeof(piece));
    bool answered = false;
    for (int i = 0; i < count && !answered; i++) {
        snprintf(sz, sizeof(sz), "%zx\r\n", size);
        send_all(fd, sz, strlen(sz));
        for (size_t left = size; left;) {
            size_t k = left < sizeof(piece) ? left : sizeof(piece);
            send_all(fd, piece, k);
            left -= k;
        }
        send_all(fd, "\r\n", 2);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        answered = poll(&p, 1, 50) > 0;
    }
    send_all(fd, "0\r\n\r\n", 5);
    bool ok = read_resp(fd, r, false, ms);
    close(fd);
    return ok;
}

/* GET @p path with Connection: close on a connection of its own */
static inline bool http_get(int port, const char *path, resp *r, int ms)
{
    char req[4096];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof(req))
        return false;
    return http_raw(port, req, (size_t)n, r, ms);
}
#endif
