/* test_shutdown.c — issue 4 point 5: SIGTERM while 100 requests are in
 * flight. A child process runs fc_app_run with three kinds of 1 s requests:
 * blocking (FC_ROUTE_BLOCKING, sleep on a worker), async (fc_after) and
 * waiting on PostgreSQL (SELECT pg_sleep(1) through fc_pg_query, on a private
 * cluster from tests/pgcluster.sh). 300 ms after they were sent the child
 * gets SIGTERM. Every one of the 100 must get its 200 with the right body,
 * a connection attempt after the signal must be refused (or at least never
 * served), and the child must exit 0. Under the valgrind suite
 * (FC_UNDER_VALGRIND, set by tests/vg-run) the forked child runs under
 * valgrind too, whose --error-exitcode turns a leak into a non-zero exit.
 * Without PostgreSQL the database third is replaced by async requests and
 * the test says so. Every answer names the polling thread that owns its
 * connection (X-Thread): each kind must have been in flight on both. */
#include "internal.h"
#include "tap.h"
#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the app (runs in the child) ---- */
FC_BLUEPRINT(sd, "");

/* the polling thread that owns the request's connection */
static void tag(fc_request *req)
{
    char t[16];
    snprintf(t, sizeof(t), "%u", fc__loop_index(req->loop));
    fc_response_set_header(req, "X-Thread", t);
}

FC_ROUTE(sd, "GET", "/ping", ping)
{
    fc_response_text(req, 200, "pong");
}

FC_ROUTE_BLOCKING(sd, "GET", "/block", block)
{
    usleep(1000 * 1000);
    tag(req);
    fc_response_text(req, 200, "blocked 1 s");
}

static void woke(fc_request *req, void *ud)
{
    (void)ud;
    tag(req);
    fc_response_text(req, 200, "waited 1 s");
}

FC_ROUTE(sd, "GET", "/async", async_wait)
{
    fc_after(req, 1000, woke, NULL);
}

static void slept(fc_request *req, const fc_pg_result *r, void *ud)
{
    (void)ud;
    tag(req);
    if (fc_pg_ok(r) != 0)
        fc_abort(req, 503, fc_pg_error(r));
    else
        fc_response_text(req, 200, "pg slept 1 s");
}

FC_ROUTE(sd, "GET", "/pg", pg_wait)
{
    int rc = fc_pg_query(req, "SELECT pg_sleep(1)", 0, NULL, slept, NULL);
    if (rc)
        fc_abort(req, 503, fc_strerror(rc));
}

/* ---- the clients ---- */
struct call {
    const char *path, *want;
    int port;
    int status;
    int thread; /* X-Thread, -1 if none */
    uint64_t done_ms;
    char body[64];
    pthread_t th;
};

static void *call_run(void *p)
{
    struct call *c = p;
    c->status = -1;
    int fd = connect_to(c->port);
    if (fd < 0)
        return NULL;
    char raw[128];
    int n = snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", c->path);
    if (send(fd, raw, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return NULL;
    }
    char buf[2048];
    size_t have = 0;
    int wait_ms = getenv("FC_UNDER_VALGRIND") ? 60000 : 15000;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, wait_ms) <= 0)
            break;
        ssize_t r = recv(fd, buf + have, sizeof(buf) - have - 1, 0);
        if (r <= 0)
            break;
        have += (size_t)r;
        buf[have] = '\0';
        char *e = strstr(buf, "\r\n\r\n");
        const char *cl = e ? strcasestr(buf, "\r\nContent-Length:") : NULL;
        if (e && cl && have - (size_t)(e + 4 - buf) >= strtoul(cl + 17, NULL, 10)) {
            c->status = (int)strtol(buf + 9, NULL, 10);
            const char *th = strcasestr(buf, "\r\nX-Thread:");
            c->thread = th && th < e ? (int)strtol(th + 11, NULL, 10) : -1;
            snprintf(c->body, sizeof(c->body), "%s", e + 4);
            break;
        }
    }
    close(fd);
    c->done_ms = fc__now_ms();
    return NULL;
}

/* ---- the private cluster ---- */
static char pgdir[256];
static const char *srcdir;

static bool cluster_start(char *url, size_t n)
{
    char cmd[1024];
    snprintf(pgdir, sizeof(pgdir), "%s/flaskc-shutdown.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(pgdir))
        return false;
    chmod(pgdir, 0755);
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/pgcluster.sh' start '%s/pg' >/dev/null", srcdir, pgdir);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "pgcluster start: %s\n", WIFEXITED(rc) && WEXITSTATUS(rc) == 77 ? "skipped (no PostgreSQL)" : "failed");
        return false;
    }
    snprintf(cmd, sizeof(cmd), "%s/pg/env", pgdir);
    FILE *f = fopen(cmd, "r");
    char line[512];
    bool ok = false;
    while (f && fgets(line, sizeof(line), f)) {
        const char *k = strstr(line, "FLASKC_DATABASE_URL_TCP='");
        if (k) {
            k += strlen("FLASKC_DATABASE_URL_TCP='");
            size_t l = strcspn(k, "'");
            snprintf(url, n, "%.*s", (int)l, k);
            ok = l > 0;
        }
    }
    if (f)
        fclose(f);
    return ok;
}

static void cluster_stop(void)
{
    char cmd[1024];
    if (!pgdir[0])
        return;
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/pgcluster.sh' stop '%s/pg' >/dev/null 2>&1; rm -rf '%s'", srcdir,
             pgdir, pgdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cluster stop failed\n");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    srcdir = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
    bool vg = getenv("FC_UNDER_VALGRIND") != NULL;
    char url[512] = "";
    bool have_pg = cluster_start(url, sizeof(url));
    if (!have_pg)
        fprintf(stderr, "# no PostgreSQL: the database third of the requests is async instead\n");

    int port = free_port();
    CHECK(port > 0);
    pid_t pid = fork();
    if (pid == 0) {
        fc_app *app = fc_app_new("shutdown");
        fc_app_set_port(app, port);
        fc_app_set_threads(app, 2);
        fc_app_set_workers(app, 40); /* every blocking request runs at once */
        if (have_pg) {
            fc_app_set_database_url(app, url);
            fc_app_set_db_pool(app, 40);
            fc_app_set_db_pipeline(app, 1); /* pg_sleeps side by side, not queued on one connection */
        }
        fc_app_register(app, sd);
        int rc = fc_app_run(app);
        fc_app_free(app);
        _exit(rc == 0 ? 0 : 2);
    }
    /* wait until it answers; warm the database pool so the pg requests do
     * not also measure connection set-up */
    struct call warm = {.path = "/ping", .port = port};
    for (int i = 0; i < 300 && warm.status != 200; i++) {
        usleep(20 * 1000);
        call_run(&warm);
    }
    CHECK_INT(warm.status, 200);

    enum { N = 100 };
    static struct call calls[N];
    for (int i = 0; i < N; i++) {
        int kind = i % 3;
        if (kind == 2 && !have_pg)
            kind = 1;
        calls[i] = (struct call){
            .path = kind == 0 ? "/block" : kind == 1 ? "/async" : "/pg",
            .want = kind == 0 ? "blocked 1 s" : kind == 1 ? "waited 1 s" : "pg slept 1 s",
            .port = port,
        };
    }
    uint64_t t0 = fc__now_ms();
    for (int i = 0; i < N; i++)
        pthread_create(&calls[i].th, NULL, call_run, &calls[i]);
    usleep((vg ? 600 : 300) * 1000); /* all sent and in their handlers */
    CHECK_INT(kill(pid, SIGTERM), 0);
    uint64_t t_sig = fc__now_ms();

    /* after the signal: a new connection is refused, or at least never served */
    usleep(200 * 1000);
    int fd = connect_to(port);
    bool refused = fd < 0;
    bool served = false;
    if (fd >= 0) {
        const char *g = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
        if (send(fd, g, strlen(g), MSG_NOSIGNAL) > 0) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            char b[256];
            served = poll(&pf, 1, 500) > 0 && recv(fd, b, sizeof(b), 0) > 0;
        }
        close(fd);
    }
    fprintf(stderr, "connection 200 ms after SIGTERM: %s\n",
            refused ? "refused" : served ? "ACCEPTED and served" : "accepted by the kernel, never served");
    CHECK(refused);
    CHECK(!served);

    int n200 = 0;
    unsigned seen[3] = {0}; /* per kind: bit t = answered by polling thread t */
    uint64_t t_done = t_sig;
    for (int i = 0; i < N; i++) {
        pthread_join(calls[i].th, NULL);
        if (calls[i].thread >= 0 && calls[i].thread < 2)
            seen[calls[i].path[1] == 'b' ? 0 : calls[i].path[1] == 'a' ? 1 : 2] |= 1u << calls[i].thread;
        if (calls[i].done_ms > t_done)
            t_done = calls[i].done_ms;
        if (calls[i].status == 200 && !strcmp(calls[i].body, calls[i].want))
            n200++;
        else
            fprintf(stderr, "request %d %s: status %d body '%s'\n", i, calls[i].path, calls[i].status,
                    calls[i].body);
    }
    CHECK_INT(n200, N);
    /* the signal found each kind in flight on both polling threads */
    CHECK_INT(seen[0], 3);
    CHECK_INT(seen[1], 3);
    CHECK_INT(seen[2], have_pg ? 3 : 0);
    int st = 0;
    CHECK_INT(waitpid(pid, &st, 0), pid);
    uint64_t t_exit = fc__now_ms();
    CHECK(WIFEXITED(st));
    CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
    fprintf(stderr, "%d/%d answered 200 (%s); last answer %llu ms after the signal, exit %d %llu ms after%s\n",
            n200, N, have_pg ? "34 blocking, 33 async, 33 PostgreSQL" : "34 blocking, 66 async",
            (unsigned long long)(t_done - t_sig), WIFEXITED(st) ? WEXITSTATUS(st) : -1,
            (unsigned long long)(t_exit - t_sig), vg ? " (under valgrind: a leak would exit 99)" : "");
    CHECK(connect_to(port) < 0);
    (void)t0;
    cluster_stop();
    TAP_DONE();
}
