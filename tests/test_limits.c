/* test_limits.c — issue 4 point 2: every request limit answers its exact
 * status over a real socket. 413 for a Content-Length over FLASKC_MAX_BODY
 * before the body is sent, and for a chunked body over it; 431 for one header
 * too large and for too many headers; 414 for a request line too long; 408
 * and a closed connection for headers sent too slowly (slowloris); 503 at
 * once past FLASKC_MAX_CONNECTIONS; 504 for a deferred request past its
 * deadline. Each limit gets its own app on port 0. */
#include "internal.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpc.h"

static int port;
static resp R;
static bool slow_host; /* valgrind: widen the timing bounds */

/* true when the server closes the connection within @p ms (EOF or reset) */
static bool closed_within(int fd, int ms)
{
    char b[512];
    uint64_t end = fc__now_ms() + (uint64_t)ms;
    while (fc__now_ms() < end) {
        ssize_t n = recv_some(fd, b, sizeof(b), (int)(end - fc__now_ms()) + 1);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false; /* timeout */
    }
    return false;
}

/* read everything until the server closes (at most @p ms): for answers
 * followed by a close, whose Content-Length must then match what came */
static bool read_to_close(int fd, resp *r, int ms, size_t *cl_claimed)
{
    static char buf[1 << 16];
    size_t have = 0;
    memset(r, 0, sizeof(*r));
    uint64_t end = fc__now_ms() + (uint64_t)ms;
    for (;;) {
        if (fc__now_ms() >= end)
            return false;
        ssize_t n = recv_some(fd, buf + have, sizeof(buf) - have - 1, (int)(end - fc__now_ms()) + 1);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        if (n < 0)
            return false;
        have += (size_t)n;
    }
    buf[have] = '\0';
    char *e = memmem(buf, have, "\r\n\r\n", 4);
    if (!e || strncmp(buf, "HTTP/1.", 7) != 0)
        return false;
    size_t hl = (size_t)(e - buf) + 4;
    memcpy(r->head, buf, hl < sizeof(r->head) - 1 ? hl : sizeof(r->head) - 1);
    r->status = (int)strtol(buf + 9, NULL, 10);
    r->len = have - hl < sizeof(r->body) - 1 ? have - hl : sizeof(r->body) - 1;
    memcpy(r->body, buf + hl, r->len);
    r->body[r->len] = '\0';
    const char *cl = hdr(r, "Content-Length");
    *cl_claimed = cl ? strtoul(cl, NULL, 10) : (size_t)-1;
    return true;
}

static bool roundtrip(const char *raw, size_t n, resp *r, int ms)
{
    /* the send may fail half way when the server refuses early: the answer decides */
    return http_raw(port, raw, n, r, ms);
}

#define ROUNDTRIP(s, r, ms) roundtrip((s), strlen(s), (r), (ms))

/* a request in raw: @p prefix, @p count times the byte @p fill, @p suffix
 * (NUL-terminated); its length, 0 when it does not fit @p cap */
static size_t filled(char *raw, size_t cap, const char *prefix, char fill, size_t count,
                     const char *suffix)
{
    size_t p = strlen(prefix), s = strlen(suffix);
    if (p + count + s >= cap)
        return 0;
    memcpy(raw, prefix, p);
    memset(raw + p, fill, count);
    memcpy(raw + p + count, suffix, s + 1);
    return p + count + s;
}

/* ---- the app ---- */
FC_BLUEPRINT(lim, "");

FC_ROUTE(lim, "GET", "/", hello)
{
    fc_response_text(req, 200, "hello");
}

FC_ROUTE(lim, "POST", "/upload", upload)
{
    size_t n;
    fc_request_body(req, &n);
    fc_response_text(req, 200, fc_request_printf(req, "body=%zu", n));
}

FC_ROUTE(lim, "GET", "/hang", hang)
{
    fc_request_defer(req, NULL, NULL); /* never answered: the deadline does it */
}

static void late(fc_request *req, void *ud)
{
    (void)ud;
    fc_response_text(req, 200, "late"); /* after the 504: a no-op */
}

FC_ROUTE(lim, "GET", "/late", late_answer)
{
    fc_after(req, 1500, late, NULL);
}

static bool count_param(const char *k, const char *v, void *ud)
{
    (void)k;
    (void)v;
    ++*(int *)ud;
    return true;
}

FC_ROUTE(lim, "GET", "/qn", query_count)
{
    int n = 0;
    fc_query_each(req, count_param, &n);
    fc_response_text(req, 200, fc_request_printf(req, "%d", n));
}

FC_ROUTE(lim, "GET", "/r/<path:p>/", redirected)
{
    fc_response_text(req, 200, "here");
}

struct cfg {
    size_t max_body;
    unsigned header_timeout, max_connections, deadline_ms;
};

static fc_app *start(struct cfg c)
{
    fc_app *app = fc_app_new("limits");
    fc_app_set_port(app, 0);
    fc_app_set_threads(app, 2);
    if (c.max_body)
        CHECK_INT(fc_app_set_max_body(app, c.max_body), 0);
    CHECK_INT(fc_app_set_header_timeout(app, c.header_timeout), 0);
    if (c.max_connections)
        CHECK_INT(fc_app_set_max_connections(app, c.max_connections), 0);
    if (c.deadline_ms)
        CHECK_INT(fc_app_set_deadline(app, c.deadline_ms), 0);
    CHECK_INT(fc_app_register(app, lim), 0);
    CHECK_INT(fc_app_start(app), 0);
    port = fc_app_port(app);
    CHECK(port > 0);
    return app;
}

/* 413: Content-Length over the limit is refused before any body byte is sent;
 * a chunked body over the limit is refused once it passes the limit. */
static void test_413(void)
{
    fc_app *app = start((struct cfg){.max_body = 1000, .header_timeout = 30});
    int fd = connect_to(port);
    const char *h = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                    "Content-Length: 50000000\r\n\r\n";
    uint64_t t0 = fc__now_ms();
    CHECK(send_all(fd, h, strlen(h)));
    /* no body sent at all: the answer must come anyway */
    CHECK(read_resp(fd, &R, false, 2000));
    CHECK_INT(R.status, 413);
    fprintf(stderr, "413 for Content-Length 50000000 without a body byte sent: %llu ms\n",
            (unsigned long long)(fc__now_ms() - t0));
    CHECK(closed_within(fd, 2000)); /* the body is not read: the connection ends */
    close(fd);

    /* exactly the limit is fine, one more byte is not */
    char raw[1400];
    size_t n =
        filled(raw, sizeof(raw), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
               'a', 1000, "");
    CHECK(roundtrip(raw, n, &R, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(R.body, "body=1000");
    n = filled(raw, sizeof(raw), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n",
               'a', 1001, "");
    CHECK(roundtrip(raw, n, &R, 2000));
    CHECK_INT(R.status, 413);

    /* chunked, no Content-Length: 4 x 700 bytes, over the limit after the second */
    CHECK(http_post_chunked(port, "/upload", 'b', 700, 4, &R, 2000));
    CHECK_INT(R.status, 413);
    /* the server still serves */
    CHECK(ROUNDTRIP("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 200);
    fc_app_free(app);
}

/* Requests that fill the connection memory to within a few hundred bytes
 * used to pass libmicrohttpd's own check and then get no answer at all
 * (it had no room left for the response's header lines and closed the
 * connection). Across the edge, every request is answered: 200 while the
 * answer fits, then a JSON 431 — one header growing, then many small
 * headers, then many cookies (their bytes only: libmicrohttpd parses
 * conn.c's decoy Cookie header, not the client's, so it keeps no record per
 * cookie). (Without the check in server.c, 16, 1 and 1 requests of these
 * sweeps went unanswered.) */
static void test_edge_of_memory(char *raw, size_t cap)
{
    static const int los[] = {17000, 150, 2000}, his[] = {21000, 330, 2500}, steps[] = {8, 2, 4};
    for (int kind = 0; kind < 3; kind++) {
        int lo = los[kind], hi = his[kind], step = steps[kind];
        int ok = 0, full = 0, silent = 0, other = 0, first_silent = -1;
        for (int v = lo; v < hi; v += step) {
            size_t n;
            if (kind == 0) {
                n = filled(raw, cap, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ", 'v', (size_t)v, "\r\n\r\n");
            } else {
                int k = snprintf(raw, cap, "GET / HTTP/1.1\r\nHost: x\r\n%s", kind == 2 ? "Cookie: " : "");
                for (int i = 0; i < v; i++)
                    k += kind == 1 ? snprintf(raw + k, cap - (size_t)k, "X-H%d: v\r\n", i)
                                   : snprintf(raw + k, cap - (size_t)k, "%sc%d=v", i ? "; " : "", i);
                k += snprintf(raw + k, cap - (size_t)k, kind == 2 ? "\r\n\r\n" : "\r\n");
                n = (size_t)k;
            }
            if (!roundtrip(raw, n, &R, 3000)) {
                silent++;
                if (first_silent < 0)
                    first_silent = v;
            } else if (R.status == 200) {
                ok++;
            } else if (R.status == 431) {
                full++; /* ours (JSON) near the edge, libmicrohttpd's own past it */
            } else {
                other++;
            }
        }
        const char *what = kind == 0 ? "one header of N bytes" : kind == 1 ? "N small headers" : "N cookies";
        printf("# %s, N = %d..%d: %d answered 200, %d answered 431, %d silent (first at %d), %d other\n", what,
             lo, hi, ok, full, silent, first_silent, other);
        CHECK_INT(silent, 0);
        CHECK_INT(other, 0);
        CHECK(ok > 0 && full > 0);
    }
}

/* 431 / 414: what does not fit FLASKC_CONNECTION_MEMORY (20 KiB by default) */
static void test_431_414(void)
{
    fc_app *app = start((struct cfg){.header_timeout = 30});
    size_t cap = 200000;
    char *raw = malloc(cap);
    /* one header of 40,000 bytes */
    size_t n = filled(raw, cap, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ", 'v', 40000, "\r\n\r\n");
    CHECK(roundtrip(raw, n, &R, 3000));
    CHECK_INT(R.status, 431);

    /* 5,000 small headers (~60 KB) */
    int k = snprintf(raw, cap, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 5000; i++)
        k += snprintf(raw + k, cap - (size_t)k, "X-H%d: v\r\n", i);
    k += snprintf(raw + k, cap - (size_t)k, "\r\n");
    CHECK(roundtrip(raw, (size_t)k, &R, 3000));
    CHECK_INT(R.status, 431);

    /* a request line of 40,000 bytes */
    n = filled(raw, cap, "GET /", 'a', 40000, " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(roundtrip(raw, n, &R, 3000));
    CHECK_INT(R.status, 414);
    /* a long query string is the request line too */
    n = filled(raw, cap, "GET /?q=", 'a', 40000, " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(roundtrip(raw, n, &R, 3000));
    CHECK_INT(R.status, 414);
    /* below the limits all is well: with the default connection memory, a
     * Cookie line of 8,190 bytes (nginx's and gunicorn's most) beside a
     * browser's headers, and a 15 KB header */
    n = filled(raw, cap,
               "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) "
               "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36\r\n"
               "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
               "Accept-Language: en-US,en;q=0.5\r\nCookie: big=",
               'c', 8190 - 4, "\r\n\r\n");
    const char *cookie = strstr(raw, "\r\nCookie: ");
    CHECK_INT(cookie ? strcspn(cookie + 10, "\r") : 0, 8190); /* the value, "big=cc...c" */
    CHECK(roundtrip(raw, n, &R, 3000));
    CHECK_INT(R.status, 200);
    n = filled(raw, cap, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ", 'v', 15000, "\r\n\r\n");
    CHECK(roundtrip(raw, n, &R, 3000));
    CHECK_INT(R.status, 200);
    test_edge_of_memory(raw, cap);
    free(raw);
    CHECK(ROUNDTRIP("GET /?q=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 200);
    /* the requests libmicrohttpd refused before their handler ran are freed
     * with their connections (no completion callback comes for them) */
    for (int i = 0; i < 100 && atomic_load(&app->active) > 0; i++)
        usleep(10 * 1000);
    CHECK_INT(atomic_load(&app->active), 0);
    fc_app_free(app);
}

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A query string with more parameters than libmicrohttpd can record in the
 * connection's memory: once closed with no answer (or a 408 after 30 s),
 * leaking the request each time and holding the stop for its grace period.
 * Now a 414 with a JSON body, nothing kept; with more connection memory the
 * same request is served. */
static void test_many_query_params(void)
{
    fc_app *app = start((struct cfg){.header_timeout = 30});
    size_t cap = 16384;
    char *raw = malloc(cap);
    int k = snprintf(raw, cap, "GET /qn?");
    for (int i = 0; i < 400; i++)
        k += snprintf(raw + k, cap - (size_t)k, "%sk%d=%d", i ? "&" : "", i, i);
    k += snprintf(raw + k, cap - (size_t)k, " HTTP/1.1\r\nHost: x\r\n\r\n");
    int answered = 0, n = slow_host ? 300 : 2000;
    long rss0 = 0;
    for (int i = 0; i < n; i++) {
        if (i == n / 10)
            rss0 = rss_kib(); /* after the warm-up: arenas and caches in place */
        if (roundtrip(raw, (size_t)k, &R, 3000) && R.status == 414 && strstr(R.body, "query parameters") &&
            hdr(&R, "Content-Type") && !strcmp(hdr(&R, "Content-Type"), "application/json"))
            answered++;
        else if (i + 1 - answered > 5)
            break; /* not answered: no point waiting out the rest */
    }
    long grown = rss_kib() - rss0;
    fprintf(stderr, "# %d requests with 400 query parameters: %d answered 414; RSS grew %ld KiB\n", n,
            answered, grown);
    CHECK_INT(answered, n);
#ifndef __SANITIZE_ADDRESS__ /* ASan keeps freed memory in quarantine (its leak check covers this) */
    if (!slow_host)           /* nor is RSS under valgrind the program's own (valgrind's leak check is) */
        CHECK(grown < 1024); /* it was 4.8 KB a request */
#endif
    for (int i = 0; i < 100 && atomic_load(&app->active) > 0; i++)
        usleep(10 * 1000);
    CHECK_INT(atomic_load(&app->active), 0);
    uint64_t t0 = fc__now_ms();
    fc_app_free(app); /* the stop waits for nothing */
    CHECK(fc__now_ms() - t0 < 1000);
    /* clients that leave half way through their headers: their requests
     * (made at the request line) go with the connection — at once, or, when
     * the last bytes and the FIN came in one epoll edge (libmicrohttpd then
     * misses the FIN; 2 runs in 24 under load before conn.c's peer check),
     * within two of the sweep's seconds; then the stop waits for nothing */
    app = start((struct cfg){.header_timeout = 30});
    for (int i = 0; i < 50; i++) {
        int fd = connect_to(port);
        const char *half = "GET /qn?a=1 HTTP/1.1\r\nHost: x\r\nX-Half: ";
        CHECK(fd >= 0 && send_all(fd, half, strlen(half)));
        usleep(2000);
        close(fd);
    }
    uint64_t tw = fc__now_ms();
    for (int i = 0; i < 1000 && atomic_load(&app->active) > 0; i++)
        usleep(10 * 1000);
    fprintf(stderr, "# half-sent requests gone after %llu ms (active %d)\n",
            (unsigned long long)(fc__now_ms() - tw), (int)atomic_load(&app->active));
    CHECK_INT(atomic_load(&app->active), 0);
    t0 = fc__now_ms();
    fc_app_free(app);
    fprintf(stderr, "# stop took %llu ms\n", (unsigned long long)(fc__now_ms() - t0));
    CHECK(fc__now_ms() - t0 < 1000);
    /* with room for them the request is served, every parameter parsed */
    app = fc_app_new("limits-roomy");
    fc_app_set_port(app, 0);
    CHECK_INT(fc_app_set_connection_memory(app, 64 * 1024), 0);
    CHECK_INT(fc_app_register(app, lim), 0);
    CHECK_INT(fc_app_start(app), 0);
    port = fc_app_port(app);
    CHECK(roundtrip(raw, (size_t)k, &R, 3000));
    CHECK_INT(R.status, 200);
    CHECK_STR(R.body, "400");
    fc_app_free(app);
    free(raw);
}

/* A redirect whose Location echoes a long path (Werkzeug's 308 to the
 * slashed URL) must fit in the connection's memory beside the request;
 * it used to be closed with no answer and no log line. Across the sizes,
 * every request gets an answer: the 308 while it fits, then a JSON 414. */
static void test_long_redirect(void)
{
    fc_app *app = start((struct cfg){.header_timeout = 30});
    size_t cap = 32768;
    char *raw = malloc(cap);
    int moved = 0, too_long = 0, silent = 0, other = 0, first_silent = -1;
    for (int v = 4000; v < 20000; v += 100) {
        size_t n = filled(raw, cap, "GET /r/", 'a', (size_t)v, " HTTP/1.1\r\nHost: x\r\n\r\n");
        if (!roundtrip(raw, n, &R, 3000)) {
            silent++;
            if (first_silent < 0)
                first_silent = v;
        } else if (R.status == 308 && hdr(&R, "Location") && strlen(hdr(&R, "Location")) > (size_t)v) {
            moved++;
        } else if (R.status == 414 && strstr(R.body, "does not fit in the connection")) {
            too_long++;
        } else {
            other++;
        }
    }
    fprintf(stderr, "# redirect of a path of N bytes, N = 4000..20000: %d answered 308, %d answered 414, "
            "%d silent (first at %d), %d other\n", moved, too_long, silent, first_silent, other);
    CHECK_INT(silent, 0);
    CHECK_INT(other, 0);
    CHECK(moved > 0);
    free(raw);
    fc_app_free(app);
}

FC_ROUTE(lim, "GET", "/h", header_echo)
{
    const char *v = fc_request_header(req, "X-B");
    fc_response_text(req, 200, fc_request_printf(req, "[%s]", v ? v : "-"));
}

/* Header lines RFC 9112 says to reject: obs-fold (libmicrohttpd glued the
 * continuation to the header's name), whitespace before the colon or
 * before the first field. A JSON 400 each; values lose their surrounding
 * whitespace. */
static void test_header_syntax(void)
{
    fc_app *app = start((struct cfg){.header_timeout = 30});
    static const char *const bad[] = {
        "GET /h HTTP/1.1\r\nHost: x\r\nX-F: v\r\n  cont\r\nX-G: g\r\n\r\n",
        "GET /h HTTP/1.1\r\nHost: x\r\nX-F: v\r\n\tcont: x\r\n\r\n",
        "GET /h HTTP/1.1\r\n Host: x\r\n\r\n",
        "GET /h HTTP/1.1\r\nHost: x\r\nX-A :1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(ROUNDTRIP(bad[i], &R, 2000));
        CHECK_INT(R.status, 400);
        CHECK(strstr(R.body, "\"status\":400") && strstr(R.body, "obs-fold"));
    }
    CHECK(ROUNDTRIP("GET /h HTTP/1.1\r\nHost: x\r\nX-B: \t  b c \t \r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(R.body, "[b c]");
    fc_app_free(app);
}

/* 408: one header byte every 300 ms with a 1 s header timeout */
static void test_408(void)
{
    fc_app *app = start((struct cfg){.header_timeout = 1});
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\n\r\n";
    int fd = connect_to(port);
    uint64_t t0 = fc__now_ms();
    size_t sent = 0;
    bool answered = false;
    while (sent < strlen(req) && fc__now_ms() - t0 < 6000) {
        if (!send_all(fd, req + sent, 1))
            break;
        sent++;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 300) > 0) {
            answered = true;
            break;
        }
    }
    CHECK(answered);
    size_t claimed = 0;
    /* the answer, then the close: read_to_close fails if the server does not close */
    CHECK(read_to_close(fd, &R, 1000, &claimed));
    uint64_t dt = fc__now_ms() - t0;
    CHECK_INT(R.status, 408);
    CHECK_STR(hdr(&R, "Connection"), "close");
    CHECK_INT(claimed, R.len); /* Content-Length tells the truth */
    fprintf(stderr, "408 after %llu ms and %zu of %zu header bytes\n", (unsigned long long)dt, sent,
            strlen(req));
    /* the sweep runs every second: 1 s timeout + up to 1 s of sweep period */
    CHECK(dt >= 900);
    CHECK(dt <= (slow_host ? 4000u : 2100u));
    CHECK(sent < strlen(req));
    close(fd);

    /* a connection that sends nothing at all: the kernel hands it over after
     * ~1 s (TCP_DEFER_ACCEPT, for the first-bytes screen of reqline.c), then
     * 1 s timeout + up to 1 s of sweep period */
    fd = connect_to(port);
    CHECK(read_to_close(fd, &R, slow_host ? 6000 : 4000, &claimed));
    CHECK_INT(R.status, 408);
    CHECK_INT(claimed, R.len);
    close(fd);

    /* a prompt client on the same server is served, also on a kept-alive
     * connection whose second request comes quickly */
    fd = connect_to(port);
    const char *g = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(send_all(fd, g, strlen(g)) && read_resp(fd, &R, false, 2000));
    CHECK_INT(R.status, 200);
    usleep(300 * 1000);
    CHECK(send_all(fd, g, strlen(g)) && read_resp(fd, &R, false, 2000));
    CHECK_INT(R.status, 200);
    /* idle past the timeout after an answer: closed too */
    CHECK(closed_within(fd, slow_host ? 5000 : 3000));
    close(fd);

    /* a body may be slow: the header timeout is for headers only */
    fd = connect_to(port);
    const char *h = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n";
    CHECK(send_all(fd, h, strlen(h)));
    usleep(1600 * 1000);
    CHECK(send_all(fd, "abc", 3) && read_resp(fd, &R, false, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(R.body, "body=3");
    close(fd);
    fc_app_free(app);
}

/* 503: 4 idle keep-alive connections hold the limit of 4; the fifth is
 * answered 503 at once, with Connection: close; freeing one lets a new one in */
static void test_503(void)
{
    fc_app *app = start((struct cfg){.header_timeout = 30, .max_connections = 4});
    int held[4];
    const char *g = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 4; i++) {
        held[i] = connect_to(port);
        CHECK(send_all(held[i], g, strlen(g)) && read_resp(held[i], &R, false, 2000));
        CHECK_INT(R.status, 200);
    }
    uint64_t t0 = fc__now_ms();
    int fd = connect_to(port);
    CHECK(fd >= 0);
    CHECK(send_all(fd, g, strlen(g)));
    CHECK(read_resp(fd, &R, false, 2000));
    uint64_t dt = fc__now_ms() - t0;
    CHECK_INT(R.status, 503);
    CHECK(hdr(&R, "Connection") && !fc__strcasecmp(hdr(&R, "Connection"), "close"));
    fprintf(stderr, "503 past 4 connections in %llu ms\n", (unsigned long long)dt);
    CHECK(dt < 1000);
    CHECK(closed_within(fd, 1000));
    close(fd);
    /* the held connections still work */
    CHECK(send_all(held[0], g, strlen(g)) && read_resp(held[0], &R, false, 2000));
    CHECK_INT(R.status, 200);
    /* one goes away: a new client gets in (the server may need a moment to
     * notice the close) */
    close(held[3]);
    int status = 0;
    for (int i = 0; i < 50 && status != 200; i++) {
        usleep(20 * 1000);
        status = ROUNDTRIP("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &R, 2000) ? R.status : -1;
    }
    CHECK_INT(status, 200);
    for (int i = 0; i < 3; i++)
        close(held[i]);
    fc_app_free(app);
}

/* 504: a deferred request not answered within FLASKC_DEADLINE_MS */
static void test_504(void)
{
    fc_app *app = start((struct cfg){.header_timeout = 30, .deadline_ms = 300});
    uint64_t t0 = fc__now_ms();
    CHECK(ROUNDTRIP("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n", &R, 3000));
    uint64_t dt = fc__now_ms() - t0;
    CHECK_INT(R.status, 504);
    fprintf(stderr, "504 after %llu ms (deadline 300 ms)\n", (unsigned long long)dt);
    CHECK(dt >= 250);
    CHECK(dt < (slow_host ? 5000u : 1500u));
    /* an answer that comes after the deadline: still 504, and the late answer is harmless */
    CHECK(ROUNDTRIP("GET /late HTTP/1.1\r\nHost: x\r\n\r\n", &R, 3000));
    CHECK_INT(R.status, 504);
    usleep(1500 * 1000);
    CHECK(ROUNDTRIP("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 200);
    fc_app_free(app);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    slow_host = getenv("FC_UNDER_VALGRIND") != NULL;
    test_413();
    test_431_414();
    test_many_query_params();
    test_long_redirect();
    test_header_syntax();
    test_408();
    test_503();
    test_504();
    TAP_DONE();
}
