/* test_http.c — the server over real sockets: keep-alive, 308 Location from
 * Host, HEAD, 413 before reading, chunked streams, deferred answers, blocking
 * handlers that do not stall others, 100 async waits without threads, client
 * disconnect, and shutdown on SIGTERM that answers requests in flight. */
#include "internal.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "httpc.h"

static int port;

static bool roundtrip(const char *raw, resp *r, int ms)
{
    return http_raw(port, raw, strlen(raw), r, ms);
}

static resp R;

/* ---- the app ---- */
FC_BLUEPRINT(t, "");

FC_ROUTE(t, "GET", "/", hello)
{
    fc_response_json_str(req, 200, "{\"message\":\"hello\"}");
}

FC_ROUTE(t, "GET", "/films/<int:id>/", film)
{
    fc_response_text(req, 200, fc_request_printf(req, "film %lld", fc_arg_int(req, "id")));
}

FC_ROUTE(t, "POST", "/upload", upload)
{
    const fc_file *f = fc_request_file(req, "f");
    size_t n;
    fc_request_body(req, &n);
    fc_response_text(req, 200, fc_request_printf(req, "%s %zu body=%zu", f ? fc_file_filename(f) : "-",
                                                 f ? fc_file_size(f) : 0, n));
}

FC_ROUTE(t, "GET", "/stream", stream)
{
    stream_three_chunks(req);
}

static bool count_cookie_headers(const char *name, const char *value, void *ud)
{
    (void)value;
    *(int *)ud += !fc__strcasecmp(name, "Cookie");
    return true;
}

FC_ROUTE(t, "GET", "/cookies", cookies)
{
    int n = 0;
    const char *e = fc_request_cookie(req, "e"), *h = fc_request_header(req, "Cookie");
    fc_request_headers_each(req, count_cookie_headers, &n);
    fc_response_text(req, 200,
                     fc_request_printf(req, "e=%s x=%s header=%s n=%d", e ? e : "-",
                                       fc_request_cookie(req, "x") ? "yes" : "no", h ? h : "-", n));
}

FC_ROUTE_BLOCKING(t, "GET", "/sleep", sleep2)
{
    const char *ms = fc_query(req, "ms");
    usleep((useconds_t)(ms ? atoi(ms) : 2000) * 1000);
    fc_response_text(req, 200, "slept");
}

static void wake(fc_request *req, void *ud)
{
    (void)ud;
    fc_response_text(req, 200, "waited");
}

FC_ROUTE(t, "GET", "/wait", wait_async)
{
    const char *ms = fc_query(req, "ms");
    fc_after(req, (unsigned)(ms ? atoi(ms) : 2000), wake, NULL);
}

static atomic_int cancels;

FC_ROUTE(t, "GET", "/hang", hang)
{
    fc_request_defer(req, count_cancel, &cancels);
}

/* A header kept past the client's departure: the request lives on (its
 * pool work runs), so the string must too (it used to point into
 * libmicrohttpd's connection memory, freed at the close). */
static const char *kept;
static atomic_int keep_closed, keep_ok, keep_gone_null;
static char keep_want[3000];

static void keep_work(void *ud)
{
    fc_request *req = ud;
    for (int i = 0; i < 300 && !atomic_load(&keep_closed); i++)
        usleep(10 * 1000);
    usleep(400 * 1000); /* the server has seen the close and dropped the connection */
    atomic_store(&keep_ok, kept && !strcmp(kept, keep_want) ? 1 : -1);
    /* once the connection is gone a new lookup finds nothing */
    atomic_store(&keep_gone_null, fc_request_header(req, "X-Keep") == NULL ? 1 : -1);
}

static void keep_done(fc_request *req, void *ud)
{
    (void)ud;
    fc_response_text(req, 200, "kept"); /* answered 499 meanwhile: a no-op */
}

FC_ROUTE(t, "GET", "/keep", keep)
{
    kept = fc_request_header(req, "X-Keep");
    fc_pool_run(req, keep_work, keep_done, req);
}

static void test_header_outlives_connection(void)
{
    memset(keep_want, 'k', sizeof(keep_want) - 1);
    int fd = connect_to(port);
    char raw[3200];
    int n = snprintf(raw, sizeof(raw), "GET /keep HTTP/1.1\r\nHost: x\r\nX-Keep: %s\r\n\r\n", keep_want);
    send_all(fd, raw, (size_t)n);
    usleep(100 * 1000);
    close(fd);
    atomic_store(&keep_closed, 1);
    for (int i = 0; i < 300 && !atomic_load(&keep_gone_null); i++)
        usleep(10 * 1000);
    CHECK_INT(atomic_load(&keep_ok), 1);
    CHECK_INT(atomic_load(&keep_gone_null), 1);
}

/* Server-Sent Events fed by a loop timer: three events, 50 ms apart */
struct ticker {
    pthread_mutex_t mu;
    fc_request *req;
    int produced, sent, refs;
    bool closed;
};

static void ticker_unref(struct ticker *tk)
{
    pthread_mutex_lock(&tk->mu);
    bool last = --tk->refs == 0;
    pthread_mutex_unlock(&tk->mu);
    if (last) {
        pthread_mutex_destroy(&tk->mu);
        free(tk);
    }
}

static fc_app *the_app;
static void tick(void *ud)
{
    struct ticker *tk = ud;
    pthread_mutex_lock(&tk->mu);
    bool again = false;
    if (!tk->closed) {
        tk->produced++;
        fc_stream_wake(tk->req);
        again = tk->produced < 3;
    }
    pthread_mutex_unlock(&tk->mu);
    if (again && fc_app_timer(the_app, 50, tick, tk) == 0)
        return;
    ticker_unref(tk);
}

static long sse_read(void *ud, uint64_t pos, char *buf, size_t max)
{
    struct ticker *tk = ud;
    (void)pos;
    pthread_mutex_lock(&tk->mu);
    long n = FC_STREAM_WAIT;
    if (tk->sent == 3)
        n = FC_STREAM_END;
    else if (tk->sent < tk->produced)
        n = snprintf(buf, max, "data: %d\n\n", ++tk->sent);
    pthread_mutex_unlock(&tk->mu);
    return n;
}

static void sse_free(void *ud)
{
    struct ticker *tk = ud;
    pthread_mutex_lock(&tk->mu);
    tk->closed = true;
    pthread_mutex_unlock(&tk->mu);
    ticker_unref(tk);
}

FC_ROUTE(t, "GET", "/sse", sse)
{
    struct ticker *tk = calloc(1, sizeof(*tk));
    pthread_mutex_init(&tk->mu, NULL);
    tk->req = req;
    tk->refs = 2;
    if (fc_app_timer(the_app, 50, tick, tk) != 0)
        tk->refs = 1;
    fc_response_stream(req, 200, "text/event-stream", sse_read, tk, sse_free);
}

/* ---- answers from a foreign thread ----
 * /foreign/<id> defers; a thread of the test's own (no polling thread, no
 * worker) answers "<id> <owner thread>" a moment later, in a shuffled order.
 * Each client checks that it got its own id back. */
static pthread_mutex_t fq_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fq_cv = PTHREAD_COND_INITIALIZER;
static fc_request *fq[256];
static size_t fq_n;
static bool fq_stop;
static atomic_int fq_wrong_thread;

FC_ROUTE(t, "GET", "/foreign/<int:id>", foreign)
{
    if (fc_request_defer(req, NULL, NULL) != 0) {
        fc_abort(req, 500, "defer failed");
        return;
    }
    pthread_mutex_lock(&fq_mu);
    if (fq_n == sizeof(fq) / sizeof(fq[0])) {
        pthread_mutex_unlock(&fq_mu);
        fc_abort(req, 503, "queue full");
        return;
    }
    fq[fq_n++] = req;
    pthread_cond_signal(&fq_cv);
    pthread_mutex_unlock(&fq_mu);
}

static void *foreign_answerer(void *p)
{
    (void)p;
    unsigned seed = 7;
    pthread_mutex_lock(&fq_mu);
    for (;;) {
        while (!fq_n && !fq_stop)
            pthread_cond_wait(&fq_cv, &fq_mu);
        if (!fq_n)
            break;
        size_t k = (size_t)rand_r(&seed) % fq_n; /* not in arrival order */
        fc_request *req = fq[k];
        fq[k] = fq[--fq_n];
        pthread_mutex_unlock(&fq_mu);
        if (fc__loop_current())
            atomic_fetch_add(&fq_wrong_thread, 1);
        usleep((useconds_t)(rand_r(&seed) % 500));
        char body[64];
        snprintf(body, sizeof(body), "%lld %u", fc_arg_int(req, "id"), fc__loop_index(req->loop));
        fc_response_text(req, 200, body);
        pthread_mutex_lock(&fq_mu);
    }
    pthread_mutex_unlock(&fq_mu);
    return NULL;
}

struct fclient {
    pthread_t th;
    int i;
    int ok;
    unsigned threads; /* bit t: answered for a connection of polling thread t */
};

static void *foreign_client(void *p)
{
    struct fclient *c = p;
    int fd = connect_to(port);
    for (int k = 0; fd >= 0 && k < 25; k++) {
        char raw[128], want[32];
        int id = c->i * 1000 + k;
        int n = snprintf(raw, sizeof(raw), "GET /foreign/%d HTTP/1.1\r\nHost: x\r\n\r\n", id);
        static __thread resp r;
        if (!send_all(fd, raw, (size_t)n) || !read_resp(fd, &r, false, 10000))
            break;
        snprintf(want, sizeof(want), "%d ", id);
        unsigned th = 0;
        if (r.status == 200 && !strncmp(r.body, want, strlen(want)) &&
            sscanf(r.body + strlen(want), "%u", &th) == 1 && th < 2) {
            c->ok++;
            c->threads |= 1u << th;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void test_foreign_answers(void)
{
    pthread_t ans;
    pthread_create(&ans, NULL, foreign_answerer, NULL);
    enum { NC = 40 };
    static struct fclient c[NC];
    for (int i = 0; i < NC; i++) {
        c[i] = (struct fclient){.i = i};
        pthread_create(&c[i].th, NULL, foreign_client, &c[i]);
    }
    int ok = 0;
    unsigned threads = 0;
    for (int i = 0; i < NC; i++) {
        pthread_join(c[i].th, NULL);
        ok += c[i].ok;
        threads |= c[i].threads;
    }
    pthread_mutex_lock(&fq_mu);
    fq_stop = true;
    pthread_cond_broadcast(&fq_cv);
    pthread_mutex_unlock(&fq_mu);
    pthread_join(ans, NULL);
    /* every answer reached its own connection, on both polling threads */
    CHECK_INT(ok, NC * 25);
    CHECK_INT(threads, 3);
    CHECK_INT(atomic_load(&fq_wrong_thread), 0);
}

static char access_line[512];
static void capture_log(fc_log_level level, const char *line, void *ud)
{
    (void)ud;
    if (level == FC_LOG_INFO && strstr(line, "\"GET /films/7/\""))
        snprintf(access_line, sizeof(access_line), "%s", line);
}

static fc_app *start_app(void)
{
    fc_app *app = fc_app_new("http");
    fc_app_set_port(app, 0);
    fc_app_set_threads(app, 2);
    fc_app_set_max_body(app, 1000);
    fc_app_set_deadline(app, 5000);
    fc_app_set_max_connections(app, 2000);
    fc_app_set_access_log(app, true);
    CHECK_INT(fc_app_register(app, t), 0);
    the_app = app;
    CHECK_INT(fc_app_start(app), 0);
    port = fc_app_port(app);
    CHECK(port > 0);
    return app;
}

static void test_basics(void)
{
    /* keep-alive: two requests on one connection */
    int fd = connect_to(port);
    const char *g = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(send_all(fd, g, strlen(g)) && read_resp(fd, &R, false, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(R.body, "{\"message\":\"hello\"}\n");
    CHECK_STR(hdr(&R, "Content-Type"), "application/json");
    CHECK(send_all(fd, g, strlen(g)) && read_resp(fd, &R, false, 2000));
    CHECK_INT(R.status, 200);
    close(fd);
    /* 308 with an absolute Location from Host, query kept */
    CHECK(roundtrip("GET /films/5?x=1 HTTP/1.1\r\nHost: example.test:8080\r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 308);
    CHECK_STR(hdr(&R, "Location"), "http://example.test:8080/films/5/?x=1");
    /* 405 + Allow, 404 */
    CHECK(roundtrip("DELETE /films/5/ HTTP/1.1\r\nHost: x\r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 405);
    CHECK(hdr(&R, "Allow") && strstr(hdr(&R, "Allow"), "GET") && strstr(hdr(&R, "Allow"), "HEAD"));
    CHECK(roundtrip("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 404);
    CHECK_INT(R.len, 207); /* Werkzeug's 404 page, byte for byte */
    /* HEAD: the GET's Content-Length, no body */
    CHECK(roundtrip("HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(hdr(&R, "Content-Length"), "20");
    /* 413 answered before the body is read */
    CHECK(roundtrip("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 413);
    /* chunked upload over the limit */
    CHECK(http_post_chunked(port, "/upload", 'a', 700, 4, &R, 2000));
    CHECK_INT(R.status, 413);
    /* multipart upload */
    const char body[] = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n"
                        "0123456789\r\n--B--\r\n";
    char raw[512];
    snprintf(raw, sizeof(raw), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                               "boundary=B\r\nContent-Length: %zu\r\n\r\n%s", sizeof(body) - 1, body);
    CHECK(roundtrip(raw, &R, 2000));
    CHECK_STR(R.body, "a.bin 10 body=86");
    /* streaming */
    CHECK(roundtrip("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", &R, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(hdr(&R, "Transfer-Encoding"), "chunked");
    CHECK_STR(R.body, "chunk0\nchunk1\nchunk2\n");
    /* SSE: a stream parked with FC_STREAM_WAIT and woken from the loop */
    uint64_t t0 = fc__now_ms();
    CHECK(roundtrip("GET /sse HTTP/1.1\r\nHost: x\r\n\r\n", &R, 3000));
    CHECK_INT(R.status, 200);
    CHECK_STR(hdr(&R, "Content-Type"), "text/event-stream");
    CHECK_STR(R.body, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
    CHECK(fc__now_ms() - t0 >= 150);
    /* the access log line: address, method, path, status, bytes, duration */
    fc_log_set_handler(capture_log, NULL);
    CHECK(roundtrip("GET /films/7/ HTTP/1.1\r\nHost: x\r\n\r\n", &R, 2000));
    fc_log_set_handler(NULL, NULL);
    CHECK(strstr(access_line, "127.0.0.1 \"GET /films/7/\" 200 6 ") != NULL);
}

/* libmicrohttpd 0.9.75's own cookie parser failed on a Cookie header ending
 * in '="' (its 431 head, then ours: two answers) and read before its copy of
 * one beginning with ';'. It parses conn.c's decoy now; the decoy shows
 * nowhere. */
static void test_cookie_header(void)
{
    int fd = connect_to(port);
    const char *g1 = "GET /cookies HTTP/1.1\r\nHost: x\r\nCookie: a=1; e=\"\r\n\r\n";
    const char *g2 = "GET /cookies HTTP/1.1\r\nHost: x\r\nCookie: ; e=\"\\\"\r\nCookie: b=\"\r\n"
                     "Connection: close\r\n\r\n";
    CHECK(send_all(fd, g1, strlen(g1)) && read_resp(fd, &R, false, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(R.body, "e=\" x=no header=a=1; e=\" n=1");
    /* the next answer on the connection is the second request's: one head each */
    CHECK(send_all(fd, g2, strlen(g2)) && read_resp(fd, &R, false, 2000));
    CHECK_INT(R.status, 200);
    CHECK_STR(R.body, "e=\\ x=no header=; e=\"\\\" n=2");
    char extra[64];
    CHECK_INT(recv_some(fd, extra, sizeof(extra), 500), 0);
    close(fd);
    CHECK(roundtrip("GET /cookies HTTP/1.1\r\nHost: x\r\n\r\n", &R, 2000));
    CHECK_STR(R.body, "e=- x=no header=- n=0");
}

struct par {
    const char *path;
    int status;
    uint64_t ms;
};

static void *par_get(void *p)
{
    struct par *x = p;
    resp *r = malloc(sizeof(*r));
    uint64_t t0 = fc__now_ms();
    x->status = http_get(port, x->path, r, 10000) ? r->status : -1;
    x->ms = fc__now_ms() - t0;
    free(r);
    return NULL;
}

/* point 7: 20 requests sit in a 2 s blocking handler; a fast route answers within 50 ms */
static void test_blocking_does_not_stall(void)
{
    enum { N = 20 };
    pthread_t th[N];
    struct par p[N];
    for (int i = 0; i < N; i++) {
        p[i] = (struct par){"/sleep?ms=2000", 0, 0};
        pthread_create(&th[i], NULL, par_get, &p[i]);
    }
    usleep(300 * 1000); /* let them all reach the handler */
    uint64_t worst = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = fc__now_ms();
        CHECK(roundtrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &R, 2000));
        CHECK_INT(R.status, 200);
        uint64_t dt = fc__now_ms() - t0;
        if (dt > worst)
            worst = dt;
    }
    fprintf(stderr, "fast route while %d blocking handlers sleep: worst %llu ms\n", N,
            (unsigned long long)worst);
    if (!getenv("FC_UNDER_VALGRIND")) /* valgrind slows everything 20-50x */
        CHECK(worst < 50);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(p[i].status, 200);
    }
}

/* 100 concurrent async 2 s waits complete in about 2 s, with no thread per wait */
static void test_async_waits(void)
{
    enum { N = 100 };
    pthread_t th[N];
    struct par p[N];
    int before = count_threads();
    uint64_t t0 = fc__now_ms();
    for (int i = 0; i < N; i++) {
        p[i] = (struct par){"/wait?ms=2000", 0, 0};
        pthread_create(&th[i], NULL, par_get, &p[i]);
    }
    usleep(1000 * 1000);
    int during = count_threads() - N; /* minus our own client threads */
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(p[i].status, 200);
    }
    uint64_t total = fc__now_ms() - t0;
    fprintf(stderr, "%d async 2 s waits: %llu ms total, server threads %d before, %d during\n", N,
            (unsigned long long)total, before, during);
    CHECK(total >= 2000);
    if (!getenv("FC_UNDER_VALGRIND"))
        CHECK(total < 3000);
    CHECK(during <= before);
}

/* a client that goes away while its request waits: the cancel callback runs */
static void test_disconnect(void)
{
    int fd = connect_to(port);
    const char *g = "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, g, strlen(g));
    usleep(100 * 1000);
    close(fd);
    for (int i = 0; i < 100 && atomic_load(&cancels) == 0; i++)
        usleep(10 * 1000);
    CHECK_INT(atomic_load(&cancels), 1);
}

/* fc_app_run + SIGTERM in a child: requests in flight get their answers,
 * the process exits 0 */
/* a forked server: wait (up to 2 s) until it accepts connections */
static void wait_listening(int p)
{
    for (int i = 0; i < 100; i++) {
        int fd = connect_to(p);
        if (fd >= 0) {
            close(fd);
            return;
        }
        usleep(20 * 1000);
    }
}

static void test_sigterm(void)
{
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        fc_app *app = fc_app_new("child");
        fc_app_set_port(app, 0);
        fc_app_register(app, t);
        /* report the port once listening: start in a thread-free way by
         * running fc_app_start first is not possible with fc_app_run, so
         * use a fixed free port found by binding */
        int p = free_port();
        fc_app_set_port(app, p);
        if (write(pfd[1], &p, sizeof(p)) != sizeof(p))
            _exit(3);
        close(pfd[1]);
        int rc = fc_app_run(app);
        fc_app_free(app);
        _exit(rc == 0 ? 0 : 2);
    }
    close(pfd[1]);
    int cport = 0;
    CHECK(read(pfd[0], &cport, sizeof(cport)) == sizeof(cport));
    close(pfd[0]);
    int saved = port;
    port = cport;
    wait_listening(port);
    enum { N = 6 };
    pthread_t th[N];
    struct par p[N];
    const char *paths[N] = {"/sleep?ms=800", "/sleep?ms=800", "/wait?ms=800", "/wait?ms=800", "/sleep?ms=300", "/wait?ms=300"};
    for (int i = 0; i < N; i++) {
        p[i] = (struct par){paths[i], 0, 0};
        pthread_create(&th[i], NULL, par_get, &p[i]);
    }
    usleep(150 * 1000);
    kill(pid, SIGTERM);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(p[i].status, 200);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* no new connection after the stop */
    CHECK(connect_to(port) < 0);
    port = saved;
}

/* SIGTERM while a blocking handler outlives the grace period (200 ms) and
 * the 2 s that deferred requests then get: the stop resumes its suspended
 * connection by force (libmicrohttpd aborts the process when a daemon stops
 * with one still suspended), the child exits 0, the client sees a close,
 * and the handler's late answer touches nothing. */
static void test_sigterm_overrun(void)
{
    int p = free_port();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("FLASKC_SHUTDOWN_GRACE_MS", "200", 1);
        fc_app *app = fc_app_new("overrun");
        fc_app_set_port(app, p);
        fc_app_register(app, t);
        int rc = fc_app_run(app);
        fc_app_free(app);
        _exit(rc == 0 ? 0 : 2);
    }
    int saved = port;
    port = p;
    wait_listening(port);
    pthread_t th;
    struct par x = {"/sleep?ms=4000", 0, 0};
    pthread_create(&th, NULL, par_get, &x);
    usleep(300 * 1000);
    uint64_t t0 = fc__now_ms();
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    uint64_t dt = fc__now_ms() - t0;
    pthread_join(th, NULL);
    CHECK(WIFEXITED(st));
    CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -(WIFSIGNALED(st) ? WTERMSIG(st) : 0), 0);
    CHECK(x.status != 200); /* closed without the answer */
    fprintf(stderr, "overrun: exit after %llu ms, client status %d\n", (unsigned long long)dt, x.status);
    port = saved;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    fc_app *app = start_app();
    test_basics();
    test_cookie_header();
    test_blocking_does_not_stall();
    test_async_waits();
    test_disconnect();
    test_header_outlives_connection();
    test_foreign_answers();
    fc_app_free(app);
    test_sigterm();
    test_sigterm_overrun();
    TAP_DONE();
}
