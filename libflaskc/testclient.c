/* testclient.c — the in-process test client: a request built from
 * arguments runs the production router and dispatch without a socket; the
 * answer (also a deferred one, or a stream) is collected when it completes. */
#include "internal.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

struct fc_test_response {
    int status;
    char *headers; /* "Name: value\r\n"... */
    char **names;  /* parallel arrays for lookup */
    char **values;
    size_t nheaders;
    char *body;
    size_t len;
};

struct tc {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool released;
    bool stream_woken;
    fc_request *stream_req;
    fc_test_response *out;
};

static void tc_complete(fc_request *req);
static void tc_stream_wake(fc_request *req);
static void tc_release(fc_request *req);

static const fc__transport test_tp = {
    .complete = tc_complete,
    .suspend = NULL, /* nothing to park: the caller waits on the condition */
    .stream_wake = tc_stream_wake,
    .release = tc_release,
};

static void add_header(fc_test_response *o, fc__buf *hb, const char *name, const char *value)
{
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    o->names[o->nheaders] = n;
    o->values[o->nheaders] = v;
    o->nheaders++;
    fc__buf_printf(hb, "%s: %s\r\n", name, value);
}

static void copy_headers(fc_request *req, fc_test_response *o, fc__buf *hb, const char *mname,
                         const char *mvalue)
{
    size_t n = req->res.headers.n;
    o->names = calloc(n + 2, sizeof(char *));
    o->values = calloc(n + 2, sizeof(char *));
    if (!o->names || !o->values)
        return;
    for (size_t i = 0; i < n; i++)
        add_header(o, hb, req->res.headers.items[i].key, req->res.headers.items[i].value);
    if (mname)
        add_header(o, hb, mname, mvalue);
}

static void tc_complete(fc_request *req)
{
    struct tc *t = req->tp_ctx;
    fc_test_response *o = t->out;
    fc__request_unref(req); /* the transport's reference (the caller of complete holds one) */
    fc__buf hb = {0};
    fc__buf body = {0};
    o->status = req->res.status;
    bool head = req->mbit == FC__M_HEAD;
    char cl[32] = "0";
    const char *mname = "Content-Length";
    if (req->res.kind == FC__BODY_MEM || req->res.kind == FC__BODY_TAKEN) {
        snprintf(cl, sizeof(cl), "%zu", req->res.len);
        if (!head)
            fc__buf_append(&body, req->res.body, req->res.len);
    } else if (req->res.kind == FC__BODY_STREAM) {
        /* as the server sends it: libmicrohttpd announces the chunking also
         * on HEAD, where Werkzeug sends neither length nor chunking */
        mname = "Transfer-Encoding";
        snprintf(cl, sizeof(cl), "chunked");
    }
    copy_headers(req, o, &hb, mname, cl);
    o->headers = hb.data ? hb.data : strdup("");
    o->body = body.data ? body.data : strdup("");
    o->len = body.len;
    if (req->res.kind == FC__BODY_STREAM) {
        if (head) {
            if (req->res.stream_free)
                req->res.stream_free(req->res.stream_ud);
            req->res.stream_free = NULL;
            return;
        }
        /* the caller's thread drains it (as libmicrohttpd would), so a
         * stream fed from the loop thread cannot deadlock */
        fc__request_ref(req);
        pthread_mutex_lock(&t->mu);
        t->stream_req = req;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
}

static void tc_stream_wake(fc_request *req)
{
    struct tc *t = req->tp_ctx;
    pthread_mutex_lock(&t->mu);
    t->stream_woken = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void tc_release(fc_request *req)
{
    struct tc *t = req->tp_ctx;
    pthread_mutex_lock(&t->mu);
    t->released = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void drain_stream(struct tc *t, fc_request *req)
{
    fc__buf body = {0};
    char chunk[4096];
    uint64_t pos = 0;
    for (;;) {
        long n = req->res.stream_fn(req->res.stream_ud, pos, chunk, sizeof(chunk));
        if (n == FC_STREAM_END || n == FC_STREAM_ERROR || n < FC_STREAM_WAIT)
            break;
        if (n > 0) {
            fc__buf_append(&body, chunk, (size_t)n);
            pos += (uint64_t)n;
            continue;
        }
        pthread_mutex_lock(&t->mu);
        while (!t->stream_woken)
            pthread_cond_wait(&t->cv, &t->mu);
        t->stream_woken = false;
        pthread_mutex_unlock(&t->mu);
    }
    if (req->res.stream_free)
        req->res.stream_free(req->res.stream_ud);
    req->res.stream_free = NULL;
    free(t->out->body);
    t->out->body = body.data ? body.data : strdup("");
    t->out->len = body.len;
}

fc_test_response *fc_test_request(fc_app *app, const char *method, const char *path,
                                  const char *const *headers, const void *body, size_t len)
{
    if (!app || !method || !path || fc__app_freeze(app) != 0)
        return NULL;
    fc_test_response *o = calloc(1, sizeof(*o));
    struct tc *t = calloc(1, sizeof(*t));
    if (!o || !t) {
        free(o);
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->out = o;
    /* the request belongs to a polling thread, as a connection would */
    fc__loop *loop = app->loops[atomic_fetch_add(&app->next_loop, 1) % app->nloops];
    fc_request *req = fc__request_new(app, loop, &test_tp, t);
    if (!req)
        goto oom;
    req->remote_addr = "127.0.0.1";
    int rc = fc__request_set_target(req, method, path);
    if (rc == FC_ENOMEM)
        req->oom = true;
    else if (rc)
        req->bad_request = "The request path is not valid: it must start with '/' and be valid UTF-8.";
    bool has_host = false;
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2) {
        if (!fc__strcasecmp(headers[i], "Host"))
            has_host = true;
        char *k = fc__arena_strdup(req->arena, headers[i]);
        char *v = fc__arena_strdup(req->arena, headers[i + 1]);
        if (!k || !v || fc__kv_add(&req->headers, req->arena, k, v, strlen(v)))
            req->oom = true;
    }
    if (!has_host)
        fc__kv_add(&req->headers, req->arena, "Host", "localhost", 9);
    if (len)
        fc__request_body_append(req, body, len);
    if (req->oom && !req->bad_request)
        req->bad_request = "out of memory";
    fc__dispatch_route(req);
    fc__dispatch_start(req);
    pthread_mutex_lock(&t->mu);
    while (!t->released && !t->stream_req)
        pthread_cond_wait(&t->cv, &t->mu);
    fc_request *sreq = t->stream_req;
    pthread_mutex_unlock(&t->mu);
    if (sreq) {
        drain_stream(t, sreq);
        fc__request_unref(sreq);
    }
    pthread_mutex_lock(&t->mu);
    while (!t->released)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
    if (!o->headers) {
        /* never completed (out of memory): report a 500 */
        o->status = o->status ? o->status : 500;
        o->headers = strdup("");
        o->body = strdup("");
    }
    return o;
oom:
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
    free(o);
    return NULL;
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
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->names);
    free(r->values);
    free(r->headers);
    free(r->body);
    free(r);
}
