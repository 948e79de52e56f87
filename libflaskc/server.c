/* server.c — the daemons: one libmicrohttpd daemon per polling thread in
 * external-epoll mode on its own listening socket, driven by that thread's
 * loop; the two-pass access handler, bodies under their limit, suspend for
 * deferred and blocking requests, and the drain at stop. answer.c sends the
 * answers, conn.c keeps the connection table. */
#include "server_int.h"

#include <stdio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Threads. Each polling thread (an fc__loop) owns one daemon started without
 * an internal thread (MHD_USE_EPOLL, external polling) on its own listening
 * socket; the sockets share the port through SO_REUSEPORT, so the kernel
 * spreads connections across the threads. The daemon's epoll fd sits in the
 * loop's epoll next to the thread's database sockets and timers: a request,
 * its queries, their results, the answer and the resume all run on the
 * thread that accepted the connection. Every libmicrohttpd call on a daemon
 * happens on its thread: answers and stream wake-ups from other threads are
 * posted there. Without an internal thread libmicrohttpd has no
 * inter-thread channel, so a resume only marks the connection: the loop's
 * idle hook runs the daemon once more before it waits.
 */

static void srv_suspend(fc_request *req);
static const char *srv_remote_addr(fc_request *req);
static const char *srv_header(fc_request *req, const char *name);
static void srv_headers_copy(fc_request *req, fc__kvlist *out);

static const fc__transport server_tp = {
    .remote_addr = srv_remote_addr,
    .header = srv_header,
    .headers_copy = srv_headers_copy,
    .complete = fc__srv_complete,
    .suspend = srv_suspend,
    .stream_wake = fc__srv_stream_wake,
};

/* ---- libmicrohttpd callbacks ---- */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct srv_thread *st = cls;
    fc__conn_hide_cookies(conn);
    fc_request *req = fc__request_new(st->s->app, st->loop, &server_tp, NULL);
    if (!req)
        return NULL;
    struct srv_req *sr = fc__arena_calloc(req->arena, sizeof(*sr));
    if (!sr || !(sr->uri = fc__arena_strdup(req->arena, uri ? uri : "/"))) {
        req->teardown_done = true;
        fc__request_unref(req);
        return NULL;
    }
    sr->st = st;
    sr->conn = conn;
    req->tp_ctx = sr;
    if (!fc__conn_request_line(st->s->app, conn, req, sr->uri)) {
        req->teardown_done = true;
        fc__request_unref(req);
        return NULL; /* answered 414: the access handler refuses it */
    }
    return req;
}

/*
 * A request's headers and address live in libmicrohttpd's connection memory,
 * which is freed when the connection closes — also while the request lives
 * on (a client gone while its query runs, a blocking handler past the stop).
 * So what reaches the user is copied into the request's arena (valid until
 * the request ends, as the API promises), and every read of that memory is
 * a reader section that completed() waits for before the memory may go.
 */
/* A field value without its trailing whitespace (libmicrohttpd drops only
 * the leading; RFC 9112 and Werkzeug drop both). */
static size_t trimmed_len(const char *v, size_t n)
{
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return n;
}

static bool read_begin(struct srv_req *sr)
{
    atomic_fetch_add(&sr->readers, 1);
    if (!atomic_load(&sr->gone))
        return true;
    atomic_fetch_sub(&sr->readers, 1);
    return false;
}

static void read_end(struct srv_req *sr)
{
    atomic_fetch_sub(&sr->readers, 1);
}

static const char *srv_remote_addr(fc_request *req)
{
    struct srv_req *sr = SR(req);
    char *buf = fc__arena_alloc(req->arena, INET6_ADDRSTRLEN);
    if (!buf || !read_begin(sr))
        return NULL;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(sr->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const void *src = !sa                          ? NULL
                      : sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                                  : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    bool ok = src && inet_ntop(sa->sa_family, src, buf, INET6_ADDRSTRLEN);
    read_end(sr);
    return ok ? buf : NULL;
}

static const char *srv_header(fc_request *req, const char *name)
{
    struct srv_req *sr = SR(req);
    const char *v = NULL, *copy = NULL;
    size_t n = 0;
    if (!read_begin(sr))
        return NULL;
    if (fc__conn_header(sr->conn, name, &v, &n))
        copy = fc__arena_strndup(req->arena, v, trimmed_len(v, n));
    read_end(sr);
    return copy;
}

struct each_ctx {
    fc__arena *arena;
    fc__kvlist copy;
    bool oom;
};

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct each_ctx *c = cls;
    (void)kind;
    if (fc__conn_is_decoy(key))
        return MHD_YES;
    char *k = fc__arena_strdup(c->arena, key);
    char *v = fc__arena_strndup(c->arena, value ? value : "", value ? trimmed_len(value, strlen(value)) : 0);
    if (!k || !v || fc__kv_add(&c->copy, c->arena, k, v, strlen(v))) {
        c->oom = true;
        return MHD_NO;
    }
    return MHD_YES;
}

static void srv_headers_copy(fc_request *req, fc__kvlist *out)
{
    struct srv_req *sr = SR(req);
    struct each_ctx c = {req->arena, {0}, false};
    if (!read_begin(sr))
        return;
    MHD_get_connection_values(sr->conn, MHD_HEADER_KIND, each_header, &c);
    read_end(sr);
    *out = c.copy;
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    fc__conn_request_ends(conn);
    fc_request *req = *req_cls;
    if (!req)
        return;
    *req_cls = NULL;
    struct srv_req *sr = SR(req);
    /* a late answer must not touch the connection now, nor a reader its
     * memory: wait for one inside (a header being copied, microseconds) */
    atomic_store(&sr->gone, true);
    while (atomic_load(&sr->readers) > 0)
        sched_yield();
    if (fc__list_linked(&sr->plink))
        fc__list_remove(&sr->plink);
    if (!sr->dispatched)
        req->teardown_done = true; /* no hook ever ran for it */
    fc__request_unref(req);
}

static void srv_suspend(fc_request *req)
{
    fc__srv_park(SR(req));
    req->suspended = true;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    struct srv_thread *th = cls;
    fc_app *app = th->s->app;
    fc_request *req = *req_cls;
    (void)url;
    (void)version;
    if (!req)
        return MHD_NO; /* out of memory in uri_log: drop the connection */
    struct srv_req *sr = SR(req);
    if (!sr->started) {
        sr->started = true;
        if (!fc__conn_request_begins(app, conn, req))
            return MHD_NO;
        int rc = fc__request_set_target(req, method, sr->uri);
        if (rc == FC_ENOMEM)
            req->oom = true;
        else if (rc)
            req->bad_request = "The request path is not valid: it must start with '/' and be valid UTF-8.";
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci)
            req->sock_fd = ci->connect_fd;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && app->cfg.max_body) {
            long long n;
            if (fc__parse_ll(cl, strlen(cl), false, &n) == 0 && (unsigned long long)n > app->cfg.max_body)
                req->body_too_large = true;
        }
        if (req->oom && !req->bad_request)
            req->bad_request = "out of memory";
        fc__dispatch_route(req);
        if (req->body_too_large || req->reject_status) {
            /* answer before reading the body; libmicrohttpd then closes the
             * connection instead of reading what we refused */
            sr->dispatched = true;
            fc__dispatch_start(req);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!sr->dispatched && !fc__request_body_append(req, upload_data, n)) {
            /* over the limit with no Content-Length (chunked): libmicrohttpd
             * takes no answer before the upload ends, so the rest is
             * discarded unread into memory, and a client that keeps sending
             * far past the limit is cut off */
            sr->discarded += n;
            if (sr->discarded > (app->cfg.max_body > (1u << 20) ? app->cfg.max_body : (1u << 20)))
                return MHD_NO;
        }
        return MHD_YES;
    }
    if (sr->dispatched)
        return MHD_YES;
    sr->dispatched = true;
    fc__dispatch_start(req);
    return MHD_YES;
}

/* ---- the daemon ---- */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    const fc_app *app = cls;
    if (app->cfg.log_level > FC_LOG_DEBUG)
        return; /* client-side trouble is logged at debug level only: nothing to format */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* client-side trouble (resets, bad requests) is routine: debug level */
    fc_log(FC_LOG_DEBUG, "libmicrohttpd: %s", msg);
}

static void raise_nofile(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t need = (rlim_t)want;
    if (rl.rlim_cur >= need)
        return;
    rl.rlim_cur = need <= rl.rlim_max ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
        fc_log(FC_LOG_WARNING, "open-file limit is %llu, below the %u that %u connections need; "
               "raise it (ulimit -n) or lower FLASKC_MAX_CONNECTIONS",
               (unsigned long long)rl.rlim_cur, want, want - 256);
}

/* ---- the listening sockets ---- */

static int listen_socket(const struct addrinfo *ai, bool reuseport)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    /* accept connections once their first bytes are in, for notify_conn's screen */
    fc__reqline_defer_accept(fd);
    return fd;
}

/* The port a bound socket got (network order), 0 on error. */
static uint16_t bound_port(int fd)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } u;
    memset(&u, 0, sizeof(u));
    socklen_t sl = sizeof(u);
    if (getsockname(fd, &u.sa, &sl) != 0)
        return 0;
    return u.sa.sa_family == AF_INET6 ? u.in6.sin6_port : u.in.sin_port;
}

static void set_port(struct addrinfo *ai, uint16_t port)
{
    if (ai->ai_family == AF_INET6)
        ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = port;
    else
        ((struct sockaddr_in *)ai->ai_addr)->sin_port = port;
}

/* One listening socket per polling thread on one port, so the kernel spreads
 * connections across the threads. The port is first bound without
 * SO_REUSEPORT: a port another program listens on fails the start as it
 * always did, instead of being shared with it (FLASKC_REUSEPORT=1 asks
 * for sharing, e.g. several processes behind one port). */
static int listen_all(fc__server *s, struct addrinfo *ai, bool share)
{
    /* port 0: the kernel picks a port nobody holds, also not through
     * SO_REUSEPORT, so a probe would only open a window for another program */
    if (!share && s->n > 1 && ((ai->ai_family == AF_INET6 && ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port) ||
                                (ai->ai_family != AF_INET6 && ((struct sockaddr_in *)ai->ai_addr)->sin_port))) {
        int probe = listen_socket(ai, false);
        if (probe < 0)
            return -1;
        /* a port-0 start: the group binds exactly the port the probe got */
        uint16_t port = bound_port(probe);
        close(probe);
        if (!port)
            return -1;
        set_port(ai, port);
    }
    for (unsigned i = 0; i < s->n; i++) {
        s->t[i].listen_fd = listen_socket(ai, share || s->n > 1);
        if (s->t[i].listen_fd < 0)
            return -1;
        if (i == 0) {
            uint16_t port = bound_port(s->t[0].listen_fd);
            if (!port)
                return -1;
            set_port(ai, port);
            s->port = ntohs(port);
        }
    }
    return 0;
}

/* ---- running the daemons on the loops ---- */

/* The daemon's epoll fd is ready: let libmicrohttpd read, accept, answer. */
static void mhd_ready(int fd, unsigned revents, void *ud)
{
    struct srv_thread *st = ud;
    (void)fd;
    (void)revents;
    st->run_due = false;
    MHD_run(st->d);
}

/* Before the loop waits: run the daemon for resumed connections or a due
 * connection timeout, and bound the wait by its next timeout. */
static int srv_idle(void *ud)
{
    struct srv_thread *st = ud;
    if (!st->d)
        return -1;
    if (st->run_due || fc__now_ms() >= st->mhd_due) {
        st->run_due = false;
        MHD_run(st->d);
    }
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(st->d, &t) != MHD_YES) {
        st->mhd_due = UINT64_MAX;
        return -1;
    }
    if (t == 0)
        st->run_due = true; /* data already pending in the daemon */
    if (t > INT_MAX)
        t = INT_MAX;
    st->mhd_due = fc__now_ms() + t;
    return (int)t;
}

/* Run fn(st) on every polling thread and wait until all have run it. Each
 * thread's node is its own (one run at a time: start and stop). */
struct on_all {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned left;
    void (*fn)(struct srv_thread *st);
};

static void on_one_run(void *ud)
{
    struct srv_thread *st = ud;
    struct on_all *all = st->on_all;
    all->fn(st);
    pthread_mutex_lock(&all->mu);
    if (--all->left == 0)
        pthread_cond_signal(&all->cv);
    pthread_mutex_unlock(&all->mu);
}

static void run_on_all(fc__server *s, void (*fn)(struct srv_thread *st))
{
    struct on_all all = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, s->n, fn};
    for (unsigned i = 0; i < s->n; i++) {
        s->t[i].on_all = &all;
        if (fc__loop_post_node(s->t[i].loop, &s->t[i].on_all_post, on_one_run, &s->t[i]) != 0)
            on_one_run(&s->t[i]); /* the loop is gone: nothing else runs the daemon now */
    }
    pthread_mutex_lock(&all.mu);
    while (all.left > 0)
        pthread_cond_wait(&all.cv, &all.mu);
    pthread_mutex_unlock(&all.mu);
}

static void attach(struct srv_thread *st)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(st->d, MHD_DAEMON_INFO_EPOLL_FD);
    st->mhd_due = 0;
    if (!di || !(st->watch = fc__loop_watch(st->loop, di->epoll_fd, FC__EV_READ, mhd_ready, st)) ||
        fc__loop_on_idle(st->loop, 0, srv_idle, st) != 0)
        fc_log(FC_LOG_ERROR, "polling thread %u: cannot watch its daemon", fc__loop_index(st->loop));
    fc__conn_sweep_start(st);
}

static void quiesce(struct srv_thread *st)
{
    MHD_socket fd = MHD_quiesce_daemon(st->d);
    /* refuse new connections now: the kernel would otherwise complete their
     * handshakes during the drain and leave them unanswered. The socket is
     * closed after MHD_stop_daemon. */
    if (fd != MHD_INVALID_SOCKET) {
        shutdown(fd, SHUT_RDWR);
        st->quiesced = true;
    }
}

static void detach(struct srv_thread *st)
{
    fc__conn_sweep_stop(st);
    if (st->watch)
        fc__loop_unwatch(st->loop, st->watch);
    st->watch = NULL;
    fc__loop_off_idle(st->loop, srv_idle, st);
    fc__srv_unpark_all(st); /* a suspended connection must not meet MHD_stop_daemon */
    MHD_stop_daemon(st->d);
    st->d = NULL;
    if (st->quiesced)
        close(st->listen_fd); /* a quiesced daemon leaves its socket to us */
    st->listen_fd = MHD_INVALID_SOCKET;
}

static void server_free(fc__server *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->t[i].listen_fd != MHD_INVALID_SOCKET)
            close(s->t[i].listen_fd);
    free(s->t);
    free(s);
}

static fc__server *server_new(fc_app *app)
{
    fc__server *s = calloc(1, sizeof(*s));
    if (s)
        s->t = calloc(app->nloops, sizeof(*s->t));
    if (!s || !s->t) {
        free(s);
        return NULL;
    }
    s->app = app;
    s->n = app->nloops;
    atomic_init(&s->nconns, 0);
    for (unsigned i = 0; i < s->n; i++) {
        s->t[i].s = s;
        s->t[i].loop = app->loops[i];
        s->t[i].listen_fd = MHD_INVALID_SOCKET;
        fc__list_init(&s->t[i].conns);
        fc__list_init(&s->t[i].parked);
    }
    return s;
}

/* One daemon per polling thread, on its listening socket (or on none: the
 * test client's daemons, which get their connections from
 * fc__server_adopt), then attached to the loops. */
static int daemons_start(fc__server *s, unsigned flags)
{
    fc__config *c = &s->app->cfg;
    /* past our limit, requests get a quick 503; libmicrohttpd's own limit,
     * a margin above and split across the threads, refuses connections */
    unsigned margin = c->max_connections / 10 > 64 ? c->max_connections / 10 : 64;
    unsigned limit = (c->max_connections + margin + s->n - 1) / s->n;
    for (unsigned i = 0; i < s->n; i++) {
        struct srv_thread *st = &s->t[i];
        /* without a listening socket, the slot repeats the connection limit */
        bool listening = st->listen_fd != MHD_INVALID_SOCKET;
        st->d = MHD_start_daemon(
            flags, 0, NULL, NULL, handle, st,
            listening ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_CONNECTION_LIMIT,
            listening ? (unsigned)st->listen_fd : limit,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s->app,
            MHD_OPTION_CONNECTION_LIMIT, limit,
            MHD_OPTION_NOTIFY_CONNECTION, fc__conn_notify, st,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, c->connection_memory,
            MHD_OPTION_CONNECTION_TIMEOUT, c->timeout_s,
            MHD_OPTION_URI_LOG_CALLBACK, uri_log, st,
            MHD_OPTION_NOTIFY_COMPLETED, completed, st,
            MHD_OPTION_END);
        if (!st->d) {
            fc_log(FC_LOG_ERROR, "cannot start the server on %s:%d: %s", c->host, s->port, strerror(errno));
            for (unsigned k = 0; k < i; k++) {
                MHD_stop_daemon(s->t[k].d);
                s->t[k].listen_fd = MHD_INVALID_SOCKET; /* closed by the daemon */
            }
            /* some of libmicrohttpd's failure paths close the socket they were
             * given: never close it twice (it could be another thread's fd by now) */
            st->listen_fd = MHD_INVALID_SOCKET;
            server_free(s);
            return FC_ESYS;
        }
    }
    run_on_all(s, attach);
    return 0;
}

int fc__server_start(fc_app *app)
{
    fc__config *c = &app->cfg;
    if (!app->nloops)
        return FC_EINVAL;
    struct addrinfo hints = {0}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(c->host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        fc_log(FC_LOG_ERROR, "cannot resolve host %s: %s", c->host, gai_strerror(gai));
        return FC_EINVAL;
    }
    fc__server *s = server_new(app);
    if (!s) {
        freeaddrinfo(ai);
        return FC_ENOMEM;
    }
    raise_nofile(c->max_connections + 256);
    if (listen_all(s, ai, c->reuseport) != 0) {
        fc_log(FC_LOG_ERROR, "cannot listen on %s:%d: %s", c->host, c->port, strerror(errno));
        freeaddrinfo(ai);
        server_free(s);
        return FC_ESYS;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    freeaddrinfo(ai);
    int rc = daemons_start(s, flags);
    if (rc == 0)
        app->server = s;
    return rc;
}

/* ---- the test client's connections ---- */

struct adopt {
    fc__post post;
    struct srv_thread *st;
    int fd;
    void (*closed)(void *ud);
    void *ud;
};

static void adopt_run(void *ud)
{
    struct adopt *a = ud;
    struct srv_thread *st = a->st;
    /* as if accepted from 127.0.0.1 */
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    st->adopting = a->closed;
    st->adopting_ud = a->ud;
    enum MHD_Result ok = st->d ? MHD_add_connection(st->d, a->fd, (const struct sockaddr *)&peer, sizeof(peer))
                               : MHD_NO;
    bool taken = !st->adopting; /* the connection record took the close callback */
    st->adopting = NULL;
    st->adopting_ud = NULL;
    if (ok != MHD_YES && !st->d)
        close(a->fd);
    if (!taken)
        a->closed(a->ud); /* refused (and closed), or no record: nothing waits for it */
    st->run_due = true;   /* its first bytes may be in already */
    free(a);
}

int fc__server_adopt(fc_app *app, int fd, void (*closed)(void *ud), void *ud)
{
    pthread_mutex_lock(&app->start_mu);
    int rc = 0;
    if (!app->test_server) {
        fc__server *s = server_new(app);
        rc = !s ? FC_ENOMEM
                : daemons_start(s, MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                                       MHD_USE_NO_LISTEN_SOCKET);
        if (rc == 0)
            app->test_server = s;
    }
    pthread_mutex_unlock(&app->start_mu);
    struct adopt *a = rc ? NULL : malloc(sizeof(*a));
    if (!a) {
        close(fd);
        return rc ? rc : FC_ENOMEM;
    }
    fc__server *s = app->test_server;
    *a = (struct adopt){.st = &s->t[atomic_fetch_add(&app->next_loop, 1) % s->n], .fd = fd, .closed = closed, .ud = ud};
    rc = fc__loop_post_node(a->st->loop, &a->post, adopt_run, a);
    if (rc) {
        close(fd);
        free(a);
    }
    return rc;
}

int fc__server_port(const fc_app *app)
{
    return app->server ? app->server->port : 0;
}

static void wait_idle(fc_app *app, uint64_t ms)
{
    uint64_t end = fc__now_ms() + ms;
    while (atomic_load(&app->active) > 0 && fc__now_ms() < end)
        usleep(5000);
}

static void server_stop(fc_app *app, fc__server **sp)
{
    fc__server *s = *sp;
    if (!s)
        return;
    run_on_all(s, quiesce);
    /* finish what is in flight; then answer still-deferred requests 503 and
     * wait for blocking handlers (a suspended connection must not meet
     * MHD_stop_daemon) */
    wait_idle(app, app->cfg.shutdown_grace_ms);
    if (atomic_load(&app->active) > 0) {
        fc__life_cancel_all(app);
        wait_idle(app, 2000);
    }
    if (atomic_load(&app->active) > 0)
        fc_log(FC_LOG_WARNING, "stopping with %ld requests still alive (keep-alive idle or "
               "handlers that never returned)", atomic_load(&app->active));
    run_on_all(s, detach);
    *sp = NULL;
    server_free(s);
}

void fc__server_stop(fc_app *app)
{
    server_stop(app, &app->server);
}

void fc__server_stop_test(fc_app *app)
{
    server_stop(app, &app->test_server);
}
