/* test_reqline.c — a connection whose first bytes are not HTTP (binary junk,
 * a TLS handshake, a line without a method or a version) is answered 400 with
 * a JSON body naming the problem, within 100 ms, and closed, as nginx does;
 * valid requests (HTTP/1.0, keep-alive, pipelined, a request line split
 * across segments, a silent connection that speaks later) are unaffected.
 * First fc__reqline_check alone (libflaskc/reqline.c), then over a socket. */
#include "internal.h"
#include "tap.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpc.h"

static int port;
static bool slow_host; /* valgrind: widen the timing bounds */

#define S(lit) lit, sizeof(lit) - 1

struct line {
    const char *name;
    const char *bytes;
    size_t len;
};

/* the ClientHello of a TLS 1.2 handshake, shortened (record header, then the
 * handshake header and the start of the hello: no LF anywhere) */
static const char tls_hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"
                                "\x5b\x1f\x2c\x3d\x4e\x5f\x60\x71\x82\x93\xa4\xb5\xc6\xd7\xe8\xf9"
                                "\x00\x00\x04\x00\x2f\x00\xff\x01\x00\x00\x74\x00\x00\x00\x0e";
static char binary_junk[300];
static char long_method[5000 + 32];

/* every one of these is answered 400 by the screen; the comment says what
 * libmicrohttpd 0.9.75 did with it before */
static struct line garbage[] = {
    {"NUL first", S("\x00\x01\x02 garbage\r\n\r\n")}, /* skipped as an empty line: 408 after 30 s */
    {"no space, CRLF", S("GARBAGE\r\n\r\n")},         /* closed without an answer */
    {"no space, lower case, CRLF", S("no-spaces-at-all\r\n")},     /* closed without an answer */
    {"no space, no CRLF", S("no-spaces-at-all")},                  /* waited for a line end: 408 */
    {"one space", S("GET /\r\n\r\n")},                             /* HTML 400 */
    {"leading space", S(" / HTTP/1.1\r\nHost: x\r\n\r\n")},        /* closed without an answer */
    {"tabs for spaces", S("GET\t/\tHTTP/1.1\r\nHost: x\r\n\r\n")}, /* closed without an answer */
    {"binary junk", NULL, sizeof(binary_junk)},                    /* waited for a line end: 408 */
    {"TLS ClientHello", tls_hello, sizeof(tls_hello) - 1},         /* waited for a line end: 408 */
    {"valid line, then junk", S("GET / HTTP/1.1\x00\x01junk\r\n\r\n")}, /* HTML 400 */
    {"bad version", S("GET / FOO/1.1\r\nHost: x\r\n\r\n")},             /* HTML 400 */
    {"lower-case method", S("get / HTTP/1.1\r\nHost: x\r\n\r\n")},      /* 405 */
    {"over-long method", long_method, 0},                               /* 405 */
};
#define NGARBAGE (sizeof(garbage) / sizeof(garbage[0]))

static void init_lines(void)
{
    for (size_t i = 0; i < sizeof(binary_junk); i++)
        binary_junk[i] = (char)(0x80 + (i * 37) % 0x80); /* bytes 0x80-0xff: no LF */
    memset(long_method, 'A', 5000);
    static const char rest[] = " / HTTP/1.1\r\nHost: x\r\n\r\n";
    memcpy(long_method + 5000, rest, sizeof(rest));
    for (size_t i = 0; i < NGARBAGE; i++) {
        if (!strcmp(garbage[i].name, "binary junk"))
            garbage[i].bytes = binary_junk;
        if (!strcmp(garbage[i].name, "over-long method"))
            garbage[i].len = strlen(long_method);
    }
}

/* ---- the classifier alone ---- */

/* valid request heads: every prefix of each must pass (a line that arrives
 * in pieces is never refused for being short), and so must the whole */
static const char *const valid[] = {
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "POST /upload?x=1&y=%20 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n\x00\x01\x02",
    "\r\n\r\nGET / HTTP/1.1\r\n\r\n",  /* empty lines first (RFC 9112 2.2) */
    "\nGET / HTTP/1.1\n\n",            /* bare LFs */
    "GET   /a b   HTTP/1.1  \r\n\r\n", /* libmicrohttpd's leniency: spaces */
    "OPTIONS * HTTP/1.1\r\n\r\n",
    "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
    "GET http://x/y HTTP/1.1\r\n\r\n",
    "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", /* raw UTF-8 in the target */
    "PURGE / HTTP/1.1\r\n\r\n",          /* unknown but well-formed: the router's 405 */
    "UPDATEREDIRECTREF / HTTP/1.1\r\n\r\n",
    "M-SEARCH * HTTP/1.1\r\n\r\n",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", /* well-formed, libmicrohttpd answers 505 */
    "GET / HTTP/1.1\r\n\x00\x01 header junk is not the screen's business\r\n\r\n",
};

static void test_check(void)
{
    const char *why;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        size_t n = strlen(valid[i]);
        if (i == 2)
            n += 3; /* the body's NUL bytes */
        for (size_t k = 0; k <= n; k++) {
            why = NULL;
            int st = fc__reqline_check(valid[i], k, &why);
            if (st != 0)
                fprintf(stderr, "valid[%zu] refused at %zu bytes: %s\n", i, k, why);
            CHECK_INT(st, 0);
        }
    }
    for (size_t i = 0; i < NGARBAGE; i++) {
        why = NULL;
        CHECK_INT(fc__reqline_check(garbage[i].bytes, garbage[i].len, &why), 400);
        CHECK(why && strlen(why) > 20 && !strchr(why, '"') && !strchr(why, '\\'));
    }
    /* prefixes that cannot be told yet */
    CHECK_INT(fc__reqline_check(S("GET"), &why), 0);
    CHECK_INT(fc__reqline_check(S("GARBAGE"), &why), 0); /* as nginx: a method so far */
    CHECK_INT(fc__reqline_check(S("GET / HTTP/1.1\r"), &why), 0);
    CHECK_INT(fc__reqline_check(S("GET /\x80\xff"), &why), 0);
    CHECK_INT(fc__reqline_check(S(""), &why), 0);
    CHECK_INT(fc__reqline_check(S("\r\n"), &why), 0);
    /* decided from the first bytes */
    CHECK_INT(fc__reqline_check(S("\x16"), &why), 400);
    CHECK(strstr(why, "TLS") != NULL);
    CHECK_INT(fc__reqline_check(S("\x16\x03"), &why), 400);
    CHECK(strstr(why, "TLS") != NULL);
    CHECK_INT(fc__reqline_check(S("\x00"), &why), 400);
    CHECK_INT(fc__reqline_check(S("g"), &why), 400);
    CHECK_INT(fc__reqline_check(S("GET\r\n"), &why), 400);
    CHECK_INT(fc__reqline_check(S("GET \r\n"), &why), 400);
    CHECK_INT(fc__reqline_check(S("GET / HTTP/1.1\r\r\n"), &why), 400);
    CHECK_INT(fc__reqline_check(S("GET /\x7f HTTP/1.1"), &why), 400);
    CHECK_INT(fc__reqline_check(S("GET / HTTP/1.10\r\n"), &why), 400);
    CHECK_INT(fc__reqline_check(S("GET / http/1.1\r\n"), &why), 400);
    /* the method's length: 32 letters may be a method, 33 are not */
    char m[64];
    memset(m, 'A', sizeof(m));
    CHECK_INT(fc__reqline_check(m, 32, &why), 0);
    CHECK_INT(fc__reqline_check(m, 33, &why), 400);
    CHECK(strstr(why, "longer") != NULL);
    memcpy(m + 32, " / HTTP/1.1\r\n", 13);
    CHECK_INT(fc__reqline_check(m, 45, &why), 0);
    /* NULL why is allowed */
    CHECK_INT(fc__reqline_check(S("\x01"), NULL), 400);
}

/* ---- over a socket ---- */
FC_BLUEPRINT(rl, "");

FC_ROUTE(rl, "GET", "/", hello)
{
    fc_response_text(req, 200, "hello");
}

FC_ROUTE(rl, "POST", "/upload", upload)
{
    size_t n;
    fc_request_body(req, &n);
    fc_response_text(req, 200, fc_request_printf(req, "body=%zu", n));
}

/* read until the server closes, at most @p ms: the bytes in buf (NUL-ended),
 * their count; -1 when the server did not close in time */
static ssize_t read_all(int fd, char *buf, size_t cap, int ms)
{
    size_t have = 0;
    uint64_t end = fc__now_ms() + (uint64_t)ms;
    for (;;) {
        uint64_t now = fc__now_ms();
        if (now >= end)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(end - now)) <= 0)
            return -1;
        ssize_t n = recv(fd, buf + have, cap - have - 1, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        if (n < 0)
            return -1;
        have += (size_t)n;
        if (have + 1 >= cap)
            return -1;
    }
    buf[have] = '\0';
    return (ssize_t)have;
}

/* send @p l on a new connection: a JSON 400 naming the problem, and the
 * close, within 100 ms of the send */
static void expect_400(const struct line *l)
{
    static char buf[8192];
    int fd = connect_to(port);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    uint64_t t0 = fc__now_ms();
    send_all(fd, l->bytes, l->len); /* may fail half way once the server has answered */
    ssize_t n = read_all(fd, buf, sizeof(buf), slow_host ? 2000 : 1000);
    uint64_t dt = fc__now_ms() - t0;
    close(fd);
    resp r;
    memset(&r, 0, sizeof(r));
    const char *e = n > 0 ? strstr(buf, "\r\n\r\n") : NULL;
    if (e) {
        size_t hl = (size_t)(e - buf) + 4;
        memcpy(r.head, buf, hl < sizeof(r.head) ? hl : sizeof(r.head) - 1);
    }
    const char *body = e ? e + 4 : "";
    const char *cl = hdr(&r, "Content-Length");
    json_object *j = json_tokener_parse(body);
    json_object *st = NULL, *msg = NULL;
    bool ok = n > 0 && !strncmp(buf, "HTTP/1.1 400 ", 13) && cl &&
              strtoul(cl, NULL, 10) == strlen(body) && hdr(&r, "Content-Type") && hdr(&r, "Date") &&
              strlen(hdr(&r, "Date")) == 29 &&
              !strcmp(hdr(&r, "Content-Type"), "application/json") && j &&
              json_object_object_get_ex(j, "status", &st) && json_object_get_int(st) == 400 &&
              json_object_object_get_ex(j, "message", &msg) &&
              strlen(json_object_get_string(msg)) > 20;
    fprintf(stderr, "%-28s %s in %3llu ms: %s\n", l->name, ok ? "400 and closed" : "NOT a JSON 400",
            (unsigned long long)dt,
            n < 0    ? "(no close within the wait)"
            : n == 0 ? "(closed, no answer)"
                     : body);
    CHECK(ok);
    CHECK(n >= 0 && dt <= (slow_host ? 1000u : 100u));
    if (j)
        json_object_put(j);
}

static bool get_ok(int fd, const char *raw, const char *want_body)
{
    resp r;
    if (!send_all(fd, raw, strlen(raw)) || !read_resp(fd, &r, false, 2000))
        return false;
    return r.status == 200 && !strcmp(r.body, want_body);
}

static void test_valid_unaffected(void)
{
    static resp R;
    /* HTTP/1.1 and HTTP/1.0 */
    CHECK(http_get(port, "/", &R, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(R.body, "hello");
    const char *h10 = "GET / HTTP/1.0\r\n\r\n";
    CHECK(http_raw(port, h10, strlen(h10), &R, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(R.body, "hello");

    /* keep-alive: three requests one after the other, then HTTP/1.0 keep-alive */
    int fd = connect_to(port);
    const char *g = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 3; i++)
        CHECK(get_ok(fd, g, "hello"));
    close(fd);
    fd = connect_to(port);
    for (int i = 0; i < 2; i++)
        CHECK(get_ok(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "hello"));
    close(fd);

    /* pipelined: three requests in one segment, the last a POST with a binary
     * body (its NUL bytes arrive with the request line) that closes */
    fd = connect_to(port);
    static const char pipe3[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                                "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
                                "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                "Connection: close\r\n\r\n\x00\x01\x02\x03";
    CHECK(send_all(fd, pipe3, sizeof(pipe3) - 1));
    static char all[8192];
    ssize_t n = read_all(fd, all, sizeof(all), 2000);
    close(fd);
    CHECK(n > 0);
    const char *want[] = {"hello", "hello", "body=4"};
    const char *p = n > 0 ? all : "";
    for (int i = 0; i < 3; i++) {
        const char *e = strstr(p, "\r\n\r\n");
        const char *cl = strstr(p, "Content-Length: ");
        bool ok = !strncmp(p, "HTTP/1.1 200 ", 13) && e && cl && cl < e &&
                  strtoul(cl + 16, NULL, 10) == strlen(want[i]) &&
                  !strncmp(e + 4, want[i], strlen(want[i]));
        if (!ok)
            fprintf(stderr, "pipelined answer %d: %.60s\n", i, p);
        CHECK(ok);
        if (!ok)
            break;
        p = e + 4 + strlen(want[i]);
    }
    CHECK(!*p); /* nothing after the three answers */

    /* the request line in pieces: the screen sees "GE" only, which may
     * still become a request, and lets it through */
    fd = connect_to(port);
    CHECK(send_all(fd, "GE", 2));
    usleep(50 * 1000);
    CHECK(get_ok(fd, "T / HTTP/1.1\r\nHost: x\r\n\r\n", "hello"));
    close(fd);

    /* empty lines before the request line */
    fd = connect_to(port);
    CHECK(get_ok(fd, "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "hello"));
    close(fd);

    /* a request line longer than the screen's peek (1024 bytes) */
    char longq[3000];
    memset(longq, 'q', sizeof(longq));
    memcpy(longq, "/?x=", 4);
    longq[sizeof(longq) - 1] = '\0';
    CHECK(http_get(port, longq, &R, 2000));
    CHECK_INT(R.status, 200);

    /* a well-formed unknown method still reaches the router: 405 */
    const char *purge = "PURGE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CHECK(http_raw(port, purge, strlen(purge), &R, 2000));
    CHECK_INT(R.status, 405);

    /* a connection silent past the kernel's deferral (~1 s), then a request */
    fd = connect_to(port);
    usleep(1300 * 1000);
    CHECK(get_ok(fd, g, "hello"));
    close(fd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    slow_host = getenv("FC_UNDER_VALGRIND") != NULL;
    init_lines();
    test_check();

    fc_app *app = fc_app_new("reqline");
    fc_app_set_port(app, 0);
    fc_app_set_threads(app, 2);
    CHECK_INT(fc_app_register(app, rl), 0);
    CHECK_INT(fc_app_start(app), 0);
    port = fc_app_port(app);
    CHECK(port > 0);
    for (size_t i = 0; i < NGARBAGE; i++)
        expect_400(&garbage[i]);
    test_valid_unaffected();
    /* and the server still serves after all that */
    static resp R;
    CHECK(http_get(port, "/", &R, 2000));
    CHECK_INT(R.status, 200);
    fc_app_free(app);
    TAP_DONE();
}
