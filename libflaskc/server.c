/* server.c — the only libmicrohttpd user: one daemon per polling thread in
 * external-epoll mode, driven by that thread's loop; the two-pass access
 * handler, bodies under their limit, suspend and resume for deferred and
 * blocking requests, streams, and the drain at stop. */
#include "internal.h"

#include <stdio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
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

struct srv_conn;
struct srv_thread;

struct fc__server {
    fc_app *app;
    int port;
    unsigned n;
    struct srv_thread *t;
    atomic_uint nconns; /* every open connection, all threads */
};

/* A polling thread's part of the server. Loop thread only, after start. */
struct srv_thread {
    fc__server *s;
    fc__loop *loop;
    struct MHD_Daemon *d;
    MHD_socket listen_fd;
    fc__watch *watch;       /* the daemon's epoll fd in the loop's epoll */
    struct srv_conn *conns; /* this thread's connections (header timeout) */
    fc__timer *sweep;
    bool run_due;           /* a connection was resumed: run the daemon before waiting */
    uint64_t mhd_due;       /* when the daemon's next connection timeout is due */
    bool quiesced;
};

/* A connection's state for the header timeout (slowloris): waiting for a
 * request's headers since `since`, or in a request. Owning thread only. */
enum { CONN_WAITING = 0, CONN_IN_REQUEST, CONN_TIMED_OUT };
struct srv_conn {
    struct srv_conn *prev, *next;
    int fd;
    int state;
    uint64_t since;
    bool over_limit; /* accepted beyond FLASKC_MAX_CONNECTIONS: answer 503 */
};

/* per-request transport state, in the request's arena */
struct srv_req {
    struct srv_thread *st;
    struct MHD_Connection *conn;
    char *uri;
    bool started;
    bool dispatched;
    bool stream_parked; /* owning thread only, like the two below */
    bool stream_woken;
    bool stream_over;   /* the stream's response is gone: wake-ups do nothing */
    size_t discarded;
};

static struct srv_req *SR(fc_request *req)
{
    return req->tp_ctx;
}

static void srv_complete(fc_request *req);
static void srv_suspend(fc_request *req);
static void srv_stream_wake(fc_request *req);
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
};

/* ---- libmicrohttpd callbacks ---- */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct srv_thread *st = cls;
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
    if (cc && cc->state == CONN_IN_REQUEST) {
        /* the next request's headers are timed from now */
        cc->since = fc__now_ms();
        cc->state = CONN_WAITING;
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
        struct srv_conn *cc = conn_ctx(conn);
        if (cc) {
            if (cc->state == CONN_TIMED_OUT)
                return MHD_NO; /* the sweep answered 408 and shut the socket */
            cc->state = CONN_IN_REQUEST;
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

/* ---- responses ---- */

/* Resume a suspended connection on its own thread: the daemon runs it
 * before the loop waits again. */
static void resume(struct srv_req *sr)
{
    MHD_resume_connection(sr->conn);
    sr->st->run_due = true;
    fc__loop_poke(sr->st->loop);
}

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
    if (sr->stream_woken) {
        sr->stream_woken = false;
    } else {
        sr->stream_parked = true;
        MHD_suspend_connection(sr->conn);
    }
    return 0;
}

static void stream_free(void *cls)
{
    fc_request *req = cls;
    SR(req)->stream_over = true;
    if (req->res.stream_free)
        req->res.stream_free(req->res.stream_ud);
    req->res.stream_free = NULL;
    fc__request_unref(req);
}

static void stream_wake_here(fc_request *req)
{
    struct srv_req *sr = SR(req);
    if (sr->stream_over)
        return;
    if (sr->stream_parked) {
        sr->stream_parked = false;
        resume(sr);
    } else {
        sr->stream_woken = true;
    }
}

static void stream_wake_posted(void *ud)
{
    stream_wake_here(ud);
    fc__request_unref(ud);
}

static void srv_stream_wake(fc_request *req)
{
    if (fc__loop_is_current(req->loop)) {
        stream_wake_here(req);
        return;
    }
    fc__request_ref(req);
    if (fc__loop_post(req->loop, stream_wake_posted, req) != 0) {
        fc_log(FC_LOG_ERROR, "out of memory waking the stream of %s %s", req->method, req->path);
        fc__request_unref(req);
    }
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

/* The owning thread: hand the response to libmicrohttpd. */
static void complete_here(fc_request *req)
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
        resume(sr);
    }
}

static void complete_posted(void *ud)
{
    complete_here(ud);
    fc__request_unref(ud);
}

/* An answer from any thread; libmicrohttpd is called on the owning one. */
static void srv_complete(fc_request *req)
{
    if (fc__loop_is_current(req->loop)) {
        complete_here(req);
        return;
    }
    fc__request_ref(req);
    if (fc__loop_post(req->loop, complete_posted, req) != 0) {
        /* out of memory for the post: the connection stays suspended until
         * the shutdown; say so rather than hang silently */
        fc_log(FC_LOG_ERROR, "out of memory handing the answer of %s %s to its thread", req->method,
               req->path);
        fc__request_unref(req);
    }
}



/* ---- connections: count, limit, header timeout ---- */
static void notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    struct srv_thread *st = cls;
    fc__server *s = st->s;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct srv_conn *cc = calloc(1, sizeof(*cc));
        *socket_context = cc;
        if (!cc)
            return;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        cc->fd = ci ? ci->connect_fd : -1;
        cc->state = CONN_WAITING;
        cc->since = fc__now_ms();
        /* first bytes that are not HTTP (junk, TLS): 400 and shut at once;
         * the state keeps the sweep and the access handler off the socket */
        if (cc->fd >= 0 && fc__reqline_screen(cc->fd))
            cc->state = CONN_TIMED_OUT;
        cc->next = st->conns;
        if (st->conns)
            st->conns->prev = cc;
        st->conns = cc;
        cc->over_limit = atomic_fetch_add(&s->nconns, 1) + 1 > s->app->cfg.max_connections;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct srv_conn *cc = *socket_context;
        if (!cc)
            return;
        if (cc->prev)
            cc->prev->next = cc->next;
        else
            st->conns = cc->next;
        if (cc->next)
            cc->next->prev = cc->prev;
        atomic_fetch_sub(&s->nconns, 1);
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

/* The owning thread, every second: a connection that has been waiting
 * longer than the header timeout for its request's headers (slowloris, or
 * idle) gets a 408 and its socket shut; libmicrohttpd then closes it.
 * Nothing else writes to a connection in that state. */
static void sweep(void *ud)
{
    struct srv_thread *st = ud;
    uint64_t now = fc__now_ms(), limit = (uint64_t)st->s->app->cfg.header_timeout_s * 1000;
    for (struct srv_conn *cc = st->conns; cc; cc = cc->next) {
        if (cc->state != CONN_WAITING || !fc__waited_at_least(now, cc->since, limit) || cc->fd < 0)
            continue;
        cc->state = CONN_TIMED_OUT;
        raw_answer(cc->fd, timeout_answer, sizeof(timeout_answer) - 1);
    }
    st->sweep = fc__loop_timer(st->loop, 1000, sweep, st);
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
    if (!share && s->n > 1) {
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

/* Run fn(st) on every polling thread and wait until all have run it. */
struct on_all {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned left;
    void (*fn)(struct srv_thread *st);
};
struct on_one {
    struct on_all *all;
    struct srv_thread *st;
};

static void on_one_run(void *ud)
{
    struct on_one *o = ud;
    o->all->fn(o->st);
    pthread_mutex_lock(&o->all->mu);
    if (--o->all->left == 0)
        pthread_cond_signal(&o->all->cv);
    pthread_mutex_unlock(&o->all->mu);
}

static void run_on_all(fc__server *s, void (*fn)(struct srv_thread *st))
{
    struct on_all all = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, s->n, fn};
    struct on_one *ones = calloc(s->n, sizeof(*ones));
    for (unsigned i = 0; i < s->n; i++) {
        if (ones) {
            ones[i] = (struct on_one){&all, &s->t[i]};
            if (fc__loop_post(s->t[i].loop, on_one_run, &ones[i]) == 0)
                continue;
        }
        /* no memory, or the loop is gone: nothing else runs the daemon now */
        struct on_one o = {&all, &s->t[i]};
        on_one_run(&o);
    }
    pthread_mutex_lock(&all.mu);
    while (all.left > 0)
        pthread_cond_wait(&all.cv, &all.mu);
    pthread_mutex_unlock(&all.mu);
    free(ones);
}

static void attach(struct srv_thread *st)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(st->d, MHD_DAEMON_INFO_EPOLL_FD);
    st->mhd_due = 0;
    if (!di || !(st->watch = fc__loop_watch(st->loop, di->epoll_fd, FC__EV_READ, mhd_ready, st)) ||
        fc__loop_on_idle(st->loop, 0, srv_idle, st) != 0)
        fc_log(FC_LOG_ERROR, "polling thread %u: cannot watch its daemon", fc__loop_index(st->loop));
    if (st->s->app->cfg.header_timeout_s)
        st->sweep = fc__loop_timer(st->loop, 1000, sweep, st);
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
    if (st->sweep && fc__loop_timer_cancel(st->loop, st->sweep) == 0)
        st->sweep = NULL;
    if (st->watch)
        fc__loop_unwatch(st->loop, st->watch);
    st->watch = NULL;
    fc__loop_off_idle(st->loop, srv_idle, st);
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

int fc__server_start(fc_app *app)
{
    fc__config *c = &app->cfg;
    unsigned n = app->nloops;
    if (!n)
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
    fc__server *s = calloc(1, sizeof(*s));
    if (s)
        s->t = calloc(n, sizeof(*s->t));
    if (!s || !s->t) {
        free(s);
        freeaddrinfo(ai);
        return FC_ENOMEM;
    }
    s->app = app;
    s->n = n;
    atomic_init(&s->nconns, 0);
    for (unsigned i = 0; i < s->n; i++) {
        s->t[i].s = s;
        s->t[i].loop = app->loops[i];
        s->t[i].listen_fd = MHD_INVALID_SOCKET;
    }
    raise_nofile(c->max_connections + 256);
    const char *reuse = getenv("FLASKC_REUSEPORT");
    bool share = reuse && (!strcmp(reuse, "1") || !fc__strcasecmp(reuse, "true"));
    if (listen_all(s, ai, share) != 0) {
        fc_log(FC_LOG_ERROR, "cannot listen on %s:%d: %s", c->host, c->port, strerror(errno));
        freeaddrinfo(ai);
        server_free(s);
        return FC_ESYS;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    freeaddrinfo(ai);
    /* past our limit, requests get a quick 503; libmicrohttpd's own limit,
     * a margin above and split across the threads, refuses connections */
    unsigned margin = c->max_connections / 10 > 64 ? c->max_connections / 10 : 64;
    unsigned limit = (c->max_connections + margin + n - 1) / n;
    for (unsigned i = 0; i < s->n; i++) {
        struct srv_thread *st = &s->t[i];
        st->d = MHD_start_daemon(
            flags, 0, NULL, NULL, handle, st,
            MHD_OPTION_LISTEN_SOCKET, st->listen_fd,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, app,
            MHD_OPTION_CONNECTION_LIMIT, limit,
            MHD_OPTION_NOTIFY_CONNECTION, notify_conn, st,
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
            server_free(s);
            return FC_ESYS;
        }
    }
    app->server = s;
    run_on_all(s, attach);
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
    app->server = NULL;
    server_free(s);
}
