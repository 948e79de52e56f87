/* answer.c — how an answer leaves through libmicrohttpd, on the owning
 * thread: the per-thread cache of the last small response, libmicrohttpd
 * responses built from ours (memory, taken buffer, stream), streams parked
 * and woken, the resume; answers from other threads are posted there. */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Resume a suspended connection on its own thread: the daemon runs it
 * before the loop waits again. */
void fc__srv_park(struct srv_req *sr)
{
    MHD_suspend_connection(sr->conn);
    fc__list_push_back(&sr->st->parked, &sr->plink);
}

static void resume(struct srv_req *sr)
{
    if (fc__list_linked(&sr->plink))
        fc__list_remove(&sr->plink);
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
        fc__srv_park(sr);
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
    if (sr->stream_over || sr->gone)
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
    fc_request *req = ud;
    /* a wake-up from now on posts again */
    atomic_store(&SR(req)->wake_posted, false);
    stream_wake_here(req);
    fc__request_unref(req);
}

/* Run @p here(req) on the request's owning thread: at once when this is it,
 * else posted there with the request's own node (@p posted runs it, then
 * drops the post's reference). Nothing to allocate: it cannot fail but for a
 * loop that is gone (the stop), whose connections are closed anyway. */
static void on_owner(fc_request *req, fc__post *node, void (*here)(fc_request *), void (*posted)(void *))
{
    if (fc__loop_is_current(req->loop)) {
        here(req);
        return;
    }
    fc__request_ref(req);
    if (fc__loop_post_node(req->loop, node, posted, req) != 0)
        fc__request_unref(req);
}

void fc__srv_stream_wake(fc_request *req)
{
    struct srv_req *sr = SR(req);
    if (!fc__loop_is_current(req->loop) && atomic_exchange(&sr->wake_posted, true))
        return; /* one is on its way: wake-ups in between fold into it */
    on_owner(req, &sr->wake_post, stream_wake_here, stream_wake_posted);
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

/* The header lines of an answer as libmicrohttpd writes them: ours, and
 * its status line, Date, Content-Length or chunking, Connection. */
static size_t answer_header_bytes(const fc__response *res)
{
    size_t n = 128;
    for (size_t i = 0; i < res->headers.n; i++)
        n += strlen(res->headers.items[i].key) + res->headers.items[i].vlen + 4;
    return n;
}

/* An answer whose header lines do not fit beside the request (a redirect
 * echoing a long path, huge cookies): libmicrohttpd would close the
 * connection without a word. Answer what it can instead: a 414 for a
 * redirect (the client's URL is what is too long), else a 500. */
static void answer_too_big(fc_request *req, size_t bytes)
{
    fc__response *res = &req->res;
    bool redirect = res->status >= 300 && res->status < 400 && fc__kv_get_ci(&res->headers, "Location");
    int status = redirect ? 414 : 500;
    char why[256];
    snprintf(why, sizeof(why), "%s (%zu bytes of header lines) does not fit in the connection's memory "
             "(FLASKC_CONNECTION_MEMORY=%zu) beside the request.",
             redirect ? "The redirect to this URL" : "The response", bytes, req->app->cfg.connection_memory);
    fc_log(FC_LOG_WARNING, "%s %.200s: %d: %s", req->method, req->path, status, why);
    if (res->kind == FC__BODY_TAKEN)
        free(res->taken);
    res->taken = NULL;
    if (res->kind == FC__BODY_STREAM && res->stream_free)
        res->stream_free(res->stream_ud);
    res->stream_free = NULL;
    res->kind = FC__BODY_NONE;
    res->headers.n = 0;
    if (fc__reply_error(req, status, why, fc__reply_wants_json(req)))
        fc__reply_oom(req);
}

/* The owning thread: hand the response to libmicrohttpd. */
static void complete_here(fc_request *req)
{
    struct srv_req *sr = SR(req);
    struct MHD_Response *r = NULL;
    fc__response *res = &req->res;
    if (sr->gone) {
        /* the connection was closed at stop before this answer came */
        if (res->kind == FC__BODY_STREAM && res->stream_free)
            res->stream_free(res->stream_ud);
        res->stream_free = NULL;
        return;
    }
    size_t hb = answer_header_bytes(res);
    if (!fc__conn_answer_fits(req->app, sr->conn, hb))
        answer_too_big(req, hb);
    /* a stopping server answers what it has and closes the connection */
    bool closing = sr->st->quiesced;
    if (!closing && (res->kind == FC__BODY_MEM || res->kind == FC__BODY_NONE) &&
        (r = cached_response(res))) {
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
    if (r && closing)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
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
void fc__srv_complete(fc_request *req)
{
    on_owner(req, &SR(req)->complete_post, complete_here, complete_posted);
}

void fc__srv_unpark_all(struct srv_thread *st)
{
    struct srv_req *sr;
    FC__LIST_EACH(sr, nx, &st->parked, struct srv_req, plink) {
        fc__list_remove(&sr->plink);
        sr->stream_parked = false;
        MHD_resume_connection(sr->conn);
    }
}
