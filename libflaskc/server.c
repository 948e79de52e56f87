/* server.c — the only libmicrohttpd user: the daemon in thread-pool + epoll
 * mode, the two-pass access handler, bodies under their limit, suspend and
 * resume for deferred and blocking requests, streams, and the drain at stop. */
#include "internal.h"

#include <stdio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct srv_conn;

struct fc__server {
    struct MHD_Daemon *d;
    int port;
    MHD_socket listen_fd;
    fc_app *app;
    /* every open connection, for the header-timeout sweep and the count */
    pthread_mutex_t mu;
    struct srv_conn *conns;
    unsigned nconns;
    fc__timer *sweep;
    bool stopping;
};

/* A connection's state for the header timeout (slowloris): waiting for a
 * request's headers since `since`, or in a request. */
enum { CONN_WAITING = 0, CONN_IN_REQUEST, CONN_TIMED_OUT };
struct srv_conn {
    struct srv_conn *prev, *next;
    int fd;
    atomic_int state;
    _Atomic uint64_t since;
    bool over_limit; /* accepted beyond FLASKC_MAX_CONNECTIONS: answer 503 */
};

/* per-request transport state, in the request's arena */
struct srv_req {
    struct MHD_Connection *conn;
    char *uri;
    bool started;
    bool dispatched;
    pthread_mutex_t stream_mu;
    bool stream_parked;
    bool stream_mu_init;
    size_t discarded;
    bool stream_woken;
};

static struct srv_req *SR(fc_request *req)
{
    return req->tp_ctx;
}

static void srv_complete(fc_request *req);
static void srv_suspend(fc_request *req);
static void srv_stream_wake(fc_request *req);
static void srv_release(fc_request *req);
static const char *srv_remote_addr(fc_request *req);
static const char *srv_header(fc_request *req, const char *name);
static void srv_headers_each(fc_request *req, bool (*fn)(const char *, const char *, void *), void *ud);

static const fc__transport server_tp = {
    .remote_addr = srv_remote_addr,
    .header = srv_header,
    .headers_each = srv_headers_each,
    .complete = srv_complete,
    .suspend = srv_suspend,
    .stream_wake = srv_stream_wake,
    .release = srv_release,
};

/* ---- libmicrohttpd callbacks ---- */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    fc_app *app = cls;
    fc_request *req = fc__request_new(app, &server_tp, NULL);
    if (!req)
        return NULL;
    struct srv_req *sr = fc__arena_calloc(req->arena, sizeof(*sr));
    if (!sr || !(sr->uri = fc__arena_strdup(req->arena, uri ? uri : "/"))) {
        req->teardown_done = true;
        fc__request_unref(req);
        return NULL;
    }
    sr->conn = conn;
    req->tp_ctx = sr;
    return req;
}

static const char *srv_remote_addr(fc_request *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(SR(req)->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return NULL;
    char *buf = fc__arena_alloc(req->arena, INET6_ADDRSTRLEN);
    if (!buf)
        return NULL;
    const struct sockaddr *sa = ci->client_addr;
    const void *src = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                                : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, src, buf, INET6_ADDRSTRLEN))
        return NULL;
    return buf;
}

static void srv_release(fc_request *req)
{
    struct srv_req *sr = SR(req);
    if (sr && sr->stream_mu_init)
        pthread_mutex_destroy(&sr->stream_mu);
}

/* Headers are looked up in libmicrohttpd's own storage, never copied: it
 * stays put while the request runs, also while the connection is
 * suspended and another thread reads it. */
static const char *srv_header(fc_request *req, const char *name)
{
    return MHD_lookup_connection_value(SR(req)->conn, MHD_HEADER_KIND, name);
}

struct each_ctx {
    bool (*fn)(const char *, const char *, void *);
    void *ud;
};

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct each_ctx *c = cls;
    (void)kind;
    return c->fn(key, value ? value : "", c->ud) ? MHD_YES : MHD_NO;
}

static void srv_headers_each(fc_request *req, bool (*fn)(const char *, const char *, void *), void *ud)
{
    struct each_ctx c = {fn, ud};
    MHD_get_connection_values(SR(req)->conn, MHD_HEADER_KIND, each_header, &c);
}

static struct srv_conn *conn_ctx(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    struct srv_conn *cc = conn_ctx(conn);
    if (cc) {
        /* the next request's headers are timed from now */
        atomic_store_explicit(&cc->since, fc__now_ms(), memory_order_relaxed);
        int st = CONN_IN_REQUEST;
        atomic_compare_exchange_strong(&cc->state, &st, CONN_WAITING);
    }
    fc_request *req = *req_cls;
    if (!req)
        return;
    *req_cls = NULL;
    struct srv_req *sr = SR(req);
    if (!sr->dispatched)
        req->teardown_done = true; /* no hook ever ran for it */
    fc__request_unref(req);
}

static void srv_suspend(fc_request *req)
{
    struct srv_req *sr = SR(req);
    MHD_suspend_connection(sr->conn);
    req->suspended = true;
}

static bool no_room_for_answer(const fc_app *app, struct MHD_Connection *conn);
static void answer_full(int fd);

static void run_blocking(void *ud)
{
    fc__dispatch_run(ud);
    fc__request_unref(ud); /* the pool job's reference */
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    fc_app *app = cls;
    fc_request *req = *req_cls;
    (void)url;
    (void)version;
    if (!req)
        return MHD_NO; /* out of memory in uri_log: drop the connection */
    struct srv_req *sr = SR(req);
    if (!sr->started) {
        sr->started = true;
        struct srv_conn *cc = conn_ctx(conn);
        if (cc) {
            int st = CONN_WAITING;
            if (!atomic_compare_exchange_strong(&cc->state, &st, CONN_IN_REQUEST) &&
                st == CONN_TIMED_OUT)
                return MHD_NO; /* the sweep answered 408 and shut the socket */
            if (cc->fd >= 0 && no_room_for_answer(app, conn)) {
                answer_full(cc->fd);
                return MHD_NO;
            }
            if (cc->over_limit) {
                req->reject_status = 503;
                req->reject_msg = "Too many connections. Please try again later.";
            }
        }
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
            fc__dispatch_run(req);
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
    if (fc__dispatch_is_blocking(req)) {
        srv_suspend(req);
        fc__request_ref(req);
        if (fc__pool_submit(app->pool, run_blocking, req) != 0) {
            fc__request_unref(req);
            /* the pool is saturated: say so at once instead of queueing
             * forever; the connection stays suspended until the answer
             * resumes it */
            req->reject_status = 503;
            req->reject_msg = "The worker pool is full. Please try again later.";
            fc__dispatch_run(req);
        }
        return MHD_YES;
    }
    fc__dispatch_run(req);
    return MHD_YES;
}

/* ---- responses ---- */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    fc_request *req = cls;
    struct srv_req *sr = SR(req);
    long n = req->res.stream_fn(req->res.stream_ud, pos, buf, max);
    if (n == FC_STREAM_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == FC_STREAM_ERROR || n < FC_STREAM_WAIT || (n > 0 && (size_t)n > max))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n > 0)
        return n;
    /* no data yet: park the connection until fc_stream_wake (returning 0
     * without suspending would make libmicrohttpd call us in a busy loop) */
    pthread_mutex_lock(&sr->stream_mu);
    if (sr->stream_woken) {
        sr->stream_woken = false;
    } else {
        sr->stream_parked = true;
        MHD_suspend_connection(sr->conn);
    }
    pthread_mutex_unlock(&sr->stream_mu);
    return 0;
}

static void stream_free(void *cls)
{
    fc_request *req = cls;
    if (req->res.stream_free)
        req->res.stream_free(req->res.stream_ud);
    req->res.stream_free = NULL;
    fc__request_unref(req);
}

static void srv_stream_wake(fc_request *req)
{
    struct srv_req *sr = SR(req);
    pthread_mutex_lock(&sr->stream_mu);
    if (sr->stream_parked) {
        sr->stream_parked = false;
        MHD_resume_connection(sr->conn);
    } else {
        sr->stream_woken = true;
    }
    pthread_mutex_unlock(&sr->stream_mu);
}

/* ---- a per-thread cache of the last small response ----
 * libmicrohttpd responses are immutable and reference-counted, so an answer
 * byte-identical to the previous one on this thread (same headers, same
 * body: hello, health checks, constant JSON) reuses it instead of building,
 * decorating and destroying a new one. The check is a few memcmp. */
#define FC__CACHE_MAX_BODY 2048
#define FC__CACHE_MAX_HEADERS 8
struct resp_cache {
    struct MHD_Response *r;
    size_t len;
    size_t nh;
    char *body;        /* the body, owned by r (freed with its last reference) */
    char *hdrs;        /* name\0value\0... */
    size_t hdrs_len;
};
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static __thread struct resp_cache *rcache;

static void cache_free(void *p)
{
    struct resp_cache *c = p;
    if (c->r)
        MHD_destroy_response(c->r);
    free(c->hdrs);
    free(c);
}

static void cache_key_init(void)
{
    pthread_key_create(&cache_key, cache_free);
}

static size_t headers_size(const fc__response *res)
{
    size_t n = 0;
    for (size_t i = 0; i < res->headers.n; i++)
        n += strlen(res->headers.items[i].key) + res->headers.items[i].vlen + 2;
    return n;
}

static bool cache_hit(const struct resp_cache *c, const fc__response *res)
{
    if (!c || !c->r || c->len != res->len || c->nh != res->headers.n ||
        memcmp(c->body, res->len ? res->body : "", res->len) != 0)
        return false;
    const char *p = c->hdrs, *end = c->hdrs + c->hdrs_len;
    for (size_t i = 0; i < res->headers.n; i++) {
        const fc__kv *kv = &res->headers.items[i];
        size_t kl = strlen(kv->key) + 1, vl = kv->vlen + 1;
        if ((size_t)(end - p) < kl + vl || memcmp(p, kv->key, kl) != 0 ||
            memcmp(p + kl, kv->value, vl) != 0)
            return false;
        p += kl + vl;
    }
    return true;
}

static void add_headers(struct MHD_Response *r, const fc__response *res)
{
    for (size_t i = 0; i < res->headers.n; i++)
        MHD_add_response_header(r, res->headers.items[i].key, res->headers.items[i].value);
}

/* Build a response the cache keeps (body copied); NULL when not cacheable. */
static struct MHD_Response *cached_response(const fc__response *res)
{
    if (res->len > FC__CACHE_MAX_BODY || res->headers.n > FC__CACHE_MAX_HEADERS)
        return NULL;
    for (size_t i = 0; i < res->headers.n; i++)
        if (!fc__strcasecmp(res->headers.items[i].key, "Set-Cookie"))
            return NULL; /* per-client by nature */
    struct resp_cache *c = rcache;
    if (cache_hit(c, res))
        return c->r;
    if (!c) {
        pthread_once(&cache_once, cache_key_init);
        c = calloc(1, sizeof(*c));
        if (!c)
            return NULL;
        rcache = c;
        pthread_setspecific(cache_key, c);
    }
    size_t hl = headers_size(res);
    char *body = malloc(res->len + 1), *hdrs = malloc(hl + 1);
    /* the body belongs to the response: connections still sending it keep
     * it alive after the cache moves on */
    struct MHD_Response *r =
        body && hdrs ? MHD_create_response_from_buffer_with_free_callback(res->len, body, free) : NULL;
    if (!r) {
        free(body);
        free(hdrs);
        return NULL;
    }
    if (res->len)
        memcpy(body, res->body, res->len);
    char *p = hdrs;
    for (size_t i = 0; i < res->headers.n; i++) {
        const fc__kv *kv = &res->headers.items[i];
        size_t kl = strlen(kv->key) + 1;
        memcpy(p, kv->key, kl);
        memcpy(p + kl, kv->value, kv->vlen + 1);
        p += kl + kv->vlen + 1;
    }
    add_headers(r, res);
    if (c->r)
        MHD_destroy_response(c->r); /* connections still sending it hold their own reference */
    free(c->hdrs);
    c->r = r;
    c->body = body;
    c->hdrs = hdrs;
    c->hdrs_len = hl;
    c->len = res->len;
    c->nh = res->headers.n;
    return r;
}

static void srv_complete(fc_request *req)
{
    struct srv_req *sr = SR(req);
    struct MHD_Response *r = NULL;
    fc__response *res = &req->res;
    if ((res->kind == FC__BODY_MEM || res->kind == FC__BODY_NONE) && (r = cached_response(res))) {
        if (MHD_queue_response(sr->conn, (unsigned)res->status, r) != MHD_YES)
            fc_log(FC_LOG_ERROR, "libmicrohttpd refused the response to %s %s", req->method, req->path);
        goto resume;
    }
    switch (res->kind) {
    case FC__BODY_NONE:
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        break;
    case FC__BODY_MEM:
        /* the arena lives until libmicrohttpd reports the request completed */
        r = MHD_create_response_from_buffer(res->len, (void *)res->body, MHD_RESPMEM_PERSISTENT);
        break;
    case FC__BODY_TAKEN:
        r = MHD_create_response_from_buffer_with_free_callback(res->len, res->taken, free);
        if (r) {
            res->kind = FC__BODY_MEM; /* libmicrohttpd frees it now */
            res->taken = NULL;
        }
        break;
    case FC__BODY_STREAM:
        if (!sr->stream_mu_init) {
            pthread_mutex_init(&sr->stream_mu, NULL);
            sr->stream_mu_init = true;
        }
        fc__request_ref(req);
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, (size_t)16 * 1024, stream_read, req, stream_free);
        if (!r) {
            if (res->stream_free)
                res->stream_free(res->stream_ud);
            res->stream_free = NULL;
            fc__request_unref(req);
        }
        break;
    }
    unsigned status = (unsigned)res->status;
    if (!r) {
        status = 500;
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        add_headers(r, res);
    }
    if (r) {
        if (MHD_queue_response(sr->conn, status, r) != MHD_YES)
            fc_log(FC_LOG_ERROR, "libmicrohttpd refused the response to %s %s", req->method, req->path);
        MHD_destroy_response(r);
    }
resume:
    if (req->suspended) {
        req->suspended = false;
        MHD_resume_connection(sr->conn);
    }
}

/* ---- connections: count, limit, header timeout ---- */
static void notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    fc_app *app = cls;
    fc__server *s = app->server_ptr;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct srv_conn *cc = calloc(1, sizeof(*cc));
        *socket_context = cc;
        if (!cc)
            return;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        cc->fd = ci ? ci->connect_fd : -1;
        atomic_init(&cc->state, CONN_WAITING);
        atomic_init(&cc->since, fc__now_ms());
        /* first bytes that are not HTTP (junk, TLS): 400 and shut at once;
         * the state keeps the sweep and the access handler off the socket */
        if (cc->fd >= 0 && fc__reqline_screen(cc->fd))
            atomic_init(&cc->state, CONN_TIMED_OUT);
        pthread_mutex_lock(&s->mu);
        cc->next = s->conns;
        if (s->conns)
            s->conns->prev = cc;
        s->conns = cc;
        cc->over_limit = ++s->nconns > app->cfg.max_connections;
        pthread_mutex_unlock(&s->mu);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct srv_conn *cc = *socket_context;
        if (!cc)
            return;
        pthread_mutex_lock(&s->mu);
        if (cc->prev)
            cc->prev->next = cc->next;
        else
            s->conns = cc->next;
        if (cc->next)
            cc->next->prev = cc->prev;
        s->nconns--;
        pthread_mutex_unlock(&s->mu);
        free(cc);
        *socket_context = NULL;
    }
}

/* Answers written straight to the socket, for connections libmicrohttpd
 * can no longer answer itself (the connection is closed right after). */
#define STR2(x) #x
#define STR(x) STR2(x)
#define RAW_ANSWER(status, body_len, body)                                                   \
    "HTTP/1.1 " status "\r\nConnection: close\r\nContent-Type: application/json\r\n"       \
    "Content-Length: " STR(body_len) "\r\n\r\n" body
#define TIMEOUT_BODY                                                           \
    "{\"error\":\"Request Timeout\",\"status\":408,\"message\":\"The request headers did " \
    "not arrive in time.\"}\n"
#define TIMEOUT_BODY_LEN 97
static const char timeout_answer[] = RAW_ANSWER("408 Request Timeout", TIMEOUT_BODY_LEN, TIMEOUT_BODY);
_Static_assert(sizeof(TIMEOUT_BODY) - 1 == TIMEOUT_BODY_LEN, "Content-Length of the 408 body");
#define FULL_BODY                                                                            \
    "{\"error\":\"Request Header Fields Too Large\",\"status\":431,\"message\":\"The request " \
    "headers leave no room for the response in the connection's memory " \
    "(FLASKC_CONNECTION_MEMORY).\"}\n"
#define FULL_BODY_LEN 175
static const char full_answer[] = RAW_ANSWER("431 Request Header Fields Too Large", FULL_BODY_LEN, FULL_BODY);
_Static_assert(sizeof(FULL_BODY) - 1 == FULL_BODY_LEN, "Content-Length of the 431 body");

/* libmicrohttpd writes the response's header lines into the connection's
 * memory pool, which already holds the request's header lines, a record
 * for each header, query argument and cookie, and a copy of the Cookie
 * header. A request that fills the pool to within a few hundred bytes
 * passed its own 431 check, but its answer would not fit and the
 * connection would close with no answer at all. So a request that leaves
 * less than FC__RESPONSE_ROOM for the answer gets a 431 at once. */
#define FC__RESPONSE_ROOM 1024
#define FC__MHD_VALUE_COST 64 /* libmicrohttpd's record of one value, rounded up */
static bool no_room_for_answer(const fc_app *app, struct MHD_Connection *conn)
{
    size_t pool = app->cfg.connection_memory;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!ci)
        return false;
    size_t used = ci->header_size;
    /* every value takes at least 3 bytes of the header ("a:" CRLF, "a&"),
     * so small requests (nearly all) are done here without counting */
    if (used * (2 + FC__MHD_VALUE_COST / 3 + 1) + FC__RESPONSE_ROOM <= pool)
        return false;
    int n = MHD_get_connection_values(conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND | MHD_COOKIE_KIND, NULL, NULL);
    if (n > 0)
        used += (size_t)n * FC__MHD_VALUE_COST;
    const char *cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cookie");
    if (cookie)
        used += strlen(cookie) + 1;
    return used + FC__RESPONSE_ROOM > pool;
}

static void raw_answer(int fd, const char *answer, size_t len)
{
    ssize_t w = send(fd, answer, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w; /* a few hundred bytes into an empty socket buffer; if not, the close says enough */
    shutdown(fd, SHUT_RDWR);
}

static void answer_full(int fd)
{
    fc_log(FC_LOG_DEBUG, "431: request headers leave no room for the answer");
    raw_answer(fd, full_answer, sizeof(full_answer) - 1);
}

/* Loop thread, every second: a connection that has been waiting longer than
 * the header timeout for its request's headers (slowloris, or idle) gets a
 * 408 and its socket shut; libmicrohttpd then closes it. Nothing else writes
 * to a connection in that state. */
static void sweep(void *ud)
{
    fc_app *app = ud;
    fc__server *s = app->server_ptr;
    uint64_t now = fc__now_ms(), limit = (uint64_t)app->cfg.header_timeout_s * 1000;
    pthread_mutex_lock(&s->mu);
    for (struct srv_conn *cc = s->conns; cc && limit; cc = cc->next) {
        /* a polling thread may have stamped `since` after we read `now`
         * (a request that just completed): that connection is fresh, not
         * 2^64 ms old — this wrap once sent 408s to busy keep-alive clients */
        uint64_t since = atomic_load_explicit(&cc->since, memory_order_relaxed);
        if (atomic_load(&cc->state) != CONN_WAITING || !fc__waited_at_least(now, since, limit) || cc->fd < 0)
            continue;
        int st = CONN_WAITING;
        if (atomic_compare_exchange_strong(&cc->state, &st, CONN_TIMED_OUT)) {
            raw_answer(cc->fd, timeout_answer, sizeof(timeout_answer) - 1);
        }
    }
    s->sweep = s->stopping ? NULL : fc__loop_timer(app->loop, 1000, sweep, app);
    pthread_mutex_unlock(&s->mu);
}

struct barrier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void barrier_cb(void *ud)
{
    struct barrier *b = ud;
    pthread_mutex_lock(&b->mu);
    b->done = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Stop the sweep and wait until the loop is past any running one. */
static void sweep_stop(fc_app *app, fc__server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    if (s->sweep && fc__loop_timer_cancel(app->loop, s->sweep) == 0)
        s->sweep = NULL;
    pthread_mutex_unlock(&s->mu);
    struct barrier b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    if (fc__loop_post(app->loop, barrier_cb, &b) == 0) {
        pthread_mutex_lock(&b.mu);
        while (!b.done)
            pthread_cond_wait(&b.cv, &b.mu);
        pthread_mutex_unlock(&b.mu);
    }
}

/* ---- the daemon ---- */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    if (!getenv("FLASKC_LOG_LEVEL"))
        return; /* default info level: nothing to format */
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

int fc__server_start(fc_app *app)
{
    fc__config *c = &app->cfg;
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
    fc__server *s = calloc(1, sizeof(*s));
    if (!s) {
        freeaddrinfo(ai);
        return FC_ENOMEM;
    }
    s->app = app;
    pthread_mutex_init(&s->mu, NULL);
    app->server_ptr = s; /* callbacks may run before MHD_start_daemon returns */
    raise_nofile(c->max_connections + 256);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    const char *reuse = getenv("FLASKC_REUSEPORT");
    unsigned reuse_port = reuse && (!strcmp(reuse, "1") || !fc__strcasecmp(reuse, "true")) ? 1 : 0;
    s->d = MHD_start_daemon(
        flags, (uint16_t)c->port, NULL, NULL, handle, app,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, app,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        /* one polling thread: no pool (a pool of 1 only adds a hand-off) */
        c->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_LISTENING_ADDRESS_REUSE,
        c->threads > 1 ? c->threads : reuse_port,
        /* past our limit, requests get a quick 503; libmicrohttpd's own
         * limit, a margin above, refuses connections outright */
        MHD_OPTION_CONNECTION_LIMIT, c->max_connections + (c->max_connections / 10 > 64 ? c->max_connections / 10 : 64),
        MHD_OPTION_NOTIFY_CONNECTION, notify_conn, app,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, c->connection_memory,
        MHD_OPTION_CONNECTION_TIMEOUT, c->timeout_s,
        MHD_OPTION_URI_LOG_CALLBACK, uri_log, app,
        MHD_OPTION_NOTIFY_COMPLETED, completed, app,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, reuse_port,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        fc_log(FC_LOG_ERROR, "cannot listen on %s:%d: %s", c->host, c->port, strerror(errno));
        app->server_ptr = NULL;
        pthread_mutex_destroy(&s->mu);
        free(s);
        return FC_ESYS;
    }
    if (c->header_timeout_s) {
        pthread_mutex_lock(&s->mu);
        s->sweep = fc__loop_timer(app->loop, 1000, sweep, app);
        pthread_mutex_unlock(&s->mu);
    }
    /* accept connections once their first bytes are in, for notify_conn's screen */
    const union MHD_DaemonInfo *li = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
    if (li)
        fc__reqline_defer_accept(li->listen_fd);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : c->port;
    s->listen_fd = MHD_INVALID_SOCKET;
    app->server = s;
    return 0;
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

void fc__server_stop(fc_app *app)
{
    fc__server *s = app->server;
    if (!s)
        return;
    app->shutting_down = true;
    s->listen_fd = MHD_quiesce_daemon(s->d);
    /* refuse new connections now: the kernel would otherwise complete their
     * handshakes during the drain and leave them unanswered. The socket is
     * closed only after MHD_stop_daemon (its threads may still hold it). */
    if (s->listen_fd != MHD_INVALID_SOCKET)
        shutdown(s->listen_fd, SHUT_RDWR);
    /* finish what is in flight; then answer still-deferred requests 503 and
     * wait for blocking handlers (a suspended connection must not meet
     * MHD_stop_daemon) */
    wait_idle(app, app->cfg.shutdown_grace_ms);
    if (atomic_load(&app->active) > 0) {
        fc__async_cancel_all(app);
        wait_idle(app, 2000);
    }
    if (atomic_load(&app->active) > 0)
        fc_log(FC_LOG_WARNING, "stopping with %ld requests still alive (keep-alive idle or "
               "handlers that never returned)", atomic_load(&app->active));
    sweep_stop(app, s);
    MHD_stop_daemon(s->d);
    if (s->listen_fd != MHD_INVALID_SOCKET)
        close(s->listen_fd);
    app->server = NULL;
    app->server_ptr = NULL;
    pthread_mutex_destroy(&s->mu);
    free(s);
}
