/* testclient.c — the in-process test client. A request built from
 * arguments is written as HTTP/1.1 bytes into one end of a socket pair; the
 * other end goes to a polling thread's libmicrohttpd daemon as an accepted
 * connection (fc__server_adopt), so the request takes exactly the server's
 * path: libmicrohttpd's parsing and limits, the connection screen, routing,
 * hooks, handlers, deferred answers, streams, and the response framing with
 * its Date, Content-Length or chunking. The answer is read back and parsed
 * here (fc__test_parse, fuzzed). */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct fc_test_response {
    int status;
    char *headers; /* "Name: value\r\n"... */
    char **names;  /* parallel arrays for lookup */
    char **values;
    size_t nheaders;
    char *body;
    size_t len;
};

/* ---- the response parser ---- */

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

static bool parse_size(const char *p, const char *end, bool hex, size_t *out)
{
    size_t v = 0;
    if (p == end)
        return false;
    for (; p < end; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (hex && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (hex && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            return false;
        if (v > (SIZE_MAX - d) / (hex ? 16 : 10))
            return false;
        v = v * (hex ? 16 : 10) + d;
    }
    *out = v;
    return true;
}

static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static void response_clear(fc_test_response *o)
{
    for (size_t i = 0; i < o->nheaders; i++) {
        free(o->names[i]);
        free(o->values[i]);
    }
    free(o->names);
    free(o->values);
    free(o->headers);
    free(o->body);
    memset(o, 0, sizeof(*o));
}

static int add_header(fc_test_response *o, fc__buf *hb, const char *n, size_t nl, const char *v, size_t vl)
{
    char **names = realloc(o->names, (o->nheaders + 1) * sizeof(char *));
    if (names)
        o->names = names;
    char **values = realloc(o->values, (o->nheaders + 1) * sizeof(char *));
    if (values)
        o->values = values;
    char *name = names && values ? strndup(n, nl) : NULL;
    char *value = name ? strndup(v, vl) : NULL;
    int rc = !value ? FC_ENOMEM : !fc__token_ok(name) ? FC_EINVAL : fc__buf_printf(hb, "%s: %s\r\n", name, value);
    if (rc) {
        free(name);
        free(value);
        return rc;
    }
    o->names[o->nheaders] = name;
    o->values[o->nheaders] = value;
    o->nheaders++;
    return 0;
}

/* A chunked body from p: 1 complete (body in *body, *used bytes taken), 0
 * more needed, -1 malformed. */
static int dechunk(const char *p, const char *end, fc__buf *body, size_t *used)
{
    const char *start = p;
    for (;;) {
        const char *eol = find_crlf(p, end);
        if (!eol)
            return (size_t)(end - p) > 64 ? -1 : 0;
        const char *semi = memchr(p, ';', (size_t)(eol - p));
        const char *se = semi ? semi : eol;
        trim(&p, &se);
        size_t n;
        if (!parse_size(p, se, true, &n))
            return -1;
        p = eol + 2;
        if (n == 0) {
            /* trailer lines up to the empty one */
            for (;;) {
                eol = find_crlf(p, end);
                if (!eol)
                    return 0;
                bool last = eol == p;
                p = eol + 2;
                if (last) {
                    *used = (size_t)(p - start);
                    return 1;
                }
            }
        }
        if ((size_t)(end - p) < n || (size_t)(end - p) - n < 2)
            return 0;
        if (p[n] != '\r' || p[n + 1] != '\n')
            return -1;
        if (fc__buf_append(body, p, n))
            return -1;
        p += n + 2;
    }
}

static int parse(const char *buf, size_t len, bool head, bool eof, fc_test_response *o)
{
    const char *p = buf, *end = buf + len;
    for (;;) {
        /* the status line; 1xx interim answers (100 Continue) are skipped */
        const char *eol = find_crlf(p, end);
        if (!eol)
            return eof ? -1 : 0;
        size_t st = 0;
        if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || !parse_size(p + 9, p + 12, false, &st) ||
            st < 100 || (eol - p > 12 && p[12] != ' '))
            return -1;
        const char *hend = NULL;
        for (const char *q = eol; q + 3 < end; q++)
            if (memcmp(q, "\r\n\r\n", 4) == 0) {
                hend = q;
                break;
            }
        if (!hend)
            return eof ? -1 : 0;
        if (st >= 100 && st < 200 && st != 101) {
            p = hend + 4;
            continue;
        }
        o->status = (int)st;
        fc__buf hb = {0};
        bool chunked = false, has_cl = false;
        size_t cl = 0;
        for (const char *l = eol + 2; l < hend + 2;) {
            const char *le = find_crlf(l, hend + 2);
            const char *colon = memchr(l, ':', (size_t)(le - l));
            if (!colon || colon == l || memchr(l, '\0', (size_t)(le - l)) || memchr(l, '\r', (size_t)(le - l)) ||
                memchr(l, '\n', (size_t)(le - l)))
                goto bad;
            const char *v = colon + 1, *ve = le;
            trim(&v, &ve);
            if (add_header(o, &hb, l, (size_t)(colon - l), v, (size_t)(ve - v)))
                goto bad;
            if ((size_t)(colon - l) == 17 && !fc__strncasecmp(l, "Transfer-Encoding", 17))
                chunked = (size_t)(ve - v) >= 7 && !fc__strncasecmp(ve - 7, "chunked", 7);
            else if ((size_t)(colon - l) == 14 && !fc__strncasecmp(l, "Content-Length", 14)) {
                if (!parse_size(v, ve, false, &cl))
                    goto bad;
                has_cl = true;
            }
            l = le + 2;
        }
        o->headers = hb.data ? hb.data : strdup("");
        hb.data = NULL;
        fc__buf body = {0};
        const char *b = hend + 4;
        size_t have = (size_t)(end - b);
        if (head || st == 204 || st == 304 || (st >= 100 && st < 200)) {
            /* no body */
        } else if (chunked) {
            size_t used = 0;
            int r = dechunk(b, end, &body, &used);
            if (r <= 0) {
                fc__buf_free(&body);
                if (r < 0 || eof)
                    goto bad;
                response_clear(o);
                return 0;
            }
        } else if (has_cl) {
            if (have < cl) {
                response_clear(o);
                return eof ? -1 : 0;
            }
            if (fc__buf_append(&body, b, cl))
                goto bad;
        } else {
            /* delimited by the close */
            if (!eof) {
                response_clear(o);
                return 0;
            }
            if (fc__buf_append(&body, b, have))
                goto bad;
        }
        o->len = body.len;
        o->body = body.data ? body.data : strdup("");
        if (!o->headers || !o->body)
            goto bad;
        return 1;
    bad:
        fc__buf_free(&hb);
        response_clear(o);
        return -1;
    }
}

int fc__test_parse(const char *buf, size_t len, bool head, bool eof, fc_test_response **out)
{
    *out = NULL;
    fc_test_response *o = calloc(1, sizeof(*o));
    if (!o)
        return -1;
    int r = parse(buf, len, head, eof, o);
    if (r == 1)
        *out = o;
    else
        free(o);
    return r;
}

/* ---- the request ---- */

/* The request's bytes; FC_EINVAL for what no client could send (a method
 * that is not a token, a header line broken by CR or LF). Bytes that cannot
 * stand in a request target (controls, space, DEL, non-ASCII) are
 * percent-encoded, as a browser does. */
static int build(fc__buf *out, const char *method, const char *path, const char *const *headers,
                 const void *body, size_t len)
{
    if (!fc__token_ok(method))
        return FC_EINVAL;
    int rc = fc__buf_printf(out, "%s ", method);
    for (const unsigned char *p = (const unsigned char *)path; !rc && *p; p++)
        rc = *p <= 0x20 || *p >= 0x7f ? fc__buf_printf(out, "%%%02X", *p) : fc__buf_append(out, p, 1);
    rc = rc ? rc : fc__buf_puts(out, " HTTP/1.1\r\n");
    bool host = false, framed = false;
    for (size_t i = 0; !rc && headers && headers[i] && headers[i + 1]; i += 2) {
        const char *n = headers[i], *v = headers[i + 1];
        if (!fc__token_ok(n) || strpbrk(v, "\r\n"))
            return FC_EINVAL;
        host |= !fc__strcasecmp(n, "Host");
        framed |= !fc__strcasecmp(n, "Content-Length") || !fc__strcasecmp(n, "Transfer-Encoding");
        rc = fc__buf_printf(out, "%s: %s\r\n", n, v);
    }
    if (!rc && !host)
        rc = fc__buf_puts(out, "Host: localhost\r\n");
    /* a body goes with its length (also an empty one where a body is
     * expected), unless the caller framed it */
    bool expects = !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
    if (!rc && !framed && (len || body || expects))
        rc = fc__buf_printf(out, "Content-Length: %zu\r\n", len);
    rc = rc ? rc : fc__buf_puts(out, "\r\n");
    if (!rc && len)
        rc = fc__buf_append(out, body, len);
    return rc;
}

/* The server's side closed (on its polling thread). */
struct tc_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool closed;
};

static void tc_closed(void *ud)
{
    struct tc_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->closed = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Write the request and read until the response is complete. */
static fc_test_response *exchange(int fd, const fc__buf *req, bool head)
{
    fc__buf in = {0};
    fc_test_response *o = NULL;
    size_t sent = 0;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN | (sent < req->len ? POLLOUT : 0), 0};
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (sent < req->len && (pfd.revents & POLLOUT)) {
            ssize_t n = send(fd, req->data + sent, req->len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                sent = req->len; /* the server stopped reading (answered early): read its answer */
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            char chunk[16384];
            ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            bool eof = n <= 0;
            if (n > 0 && fc__buf_append(&in, chunk, (size_t)n))
                break;
            if (fc__test_parse(in.data ? in.data : "", in.len, head, eof, &o) != 0 || eof)
                break;
        }
    }
    fc__buf_free(&in);
    return o;
}

fc_test_response *fc_test_request(fc_app *app, const char *method, const char *path,
                                  const char *const *headers, const void *body, size_t len)
{
    /* on a polling thread the wait would stop the loop that serves it */
    if (!app || !method || !path || fc__loop_current() || fc__app_freeze(app) != 0)
        return NULL;
    fc__buf req = {0};
    int sv[2] = {-1, -1};
    if (build(&req, method, path, headers, body, len) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        fc__buf_free(&req);
        return NULL;
    }
    struct tc_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    if (fc__server_adopt(app, sv[0], tc_closed, &w) != 0) {
        close(sv[1]);
        fc__buf_free(&req);
        return NULL;
    }
    fc_test_response *o = exchange(sv[1], &req, !strcmp(method, "HEAD"));
    fc__buf_free(&req);
    /* our close ends the connection: wait until the server's side is
     * closed too, so the request's teardown and access log are done */
    close(sv[1]);
    pthread_mutex_lock(&w.mu);
    while (!w.closed)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return o;
}

int fc_test_status(const fc_test_response *r)
{
    return r ? r->status : 0;
}

const char *fc_test_header(const fc_test_response *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->nheaders; i++)
        if (!fc__strcasecmp(r->names[i], name))
            return r->values[i];
    return NULL;
}

const char *fc_test_headers(const fc_test_response *r)
{
    return r ? r->headers : NULL;
}

const char *fc_test_body(const fc_test_response *r, size_t *len)
{
    if (len)
        *len = r ? r->len : 0;
    return r ? r->body : NULL;
}

void fc_test_response_free(fc_test_response *r)
{
    if (!r)
        return;
    response_clear(r);
    free(r);
}
