/* request.c — the request object: arena, request line, headers, query,
 * cookies, route arguments, body and form accessors. Its life (references,
 * answer, defer, finish) belongs to life.c. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A request's mu is recursive: the lazy accessors (headers, cookies, forms)
 * take it, and some run while it is held (an error page reads Accept). */
static pthread_mutexattr_t mu_attr;
static pthread_once_t mu_attr_once = PTHREAD_ONCE_INIT;
static void mu_attr_init(void)
{
    pthread_mutexattr_init(&mu_attr);
    pthread_mutexattr_settype(&mu_attr, PTHREAD_MUTEX_RECURSIVE);
}

fc_request *fc__request_new(fc_app *app, fc__loop *loop, const fc__transport *tp, void *tp_ctx)
{
    fc__arena *a = fc__arena_new(4096);
    if (!a)
        return NULL;
    fc_request *req = fc__arena_calloc(a, sizeof(*req));
    if (!req) {
        fc__arena_free(a);
        return NULL;
    }
    req->app = app;
    req->loop = loop;
    req->arena = a;
    req->tp = tp;
    req->tp_ctx = tp_ctx;
    req->sock_fd = -1;
    req->res.status = 200;
    req->remote_addr = "";
    req->query_raw = "";
    atomic_init(&req->refs, 1);
    pthread_once(&mu_attr_once, mu_attr_init);
    pthread_mutex_init(&req->mu, &mu_attr);
    req->start_ms = fc__now_ms();
    atomic_fetch_add_explicit(&app->active, 1, memory_order_relaxed);
    return req;
}

void fc__request_free(fc_request *req)
{
    fc_app *app = req->app;
    if (req->res.kind == FC__BODY_TAKEN)
        free(req->res.taken);
    free(req->body);
    pthread_mutex_destroy(&req->mu);
    fc__arena_free(req->arena);
    atomic_fetch_sub_explicit(&app->active, 1, memory_order_release);
}

int fc__request_set_target(fc_request *req, const char *method, const char *target)
{
    req->method = fc__arena_strdup(req->arena, method);
    if (!req->method)
        return FC_ENOMEM;
    req->mbit = fc__method_bit(method);
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    /* a fragment is never sent by clients; cut it if one is */
    const char *h = memchr(target, '#', plen);
    if (h)
        plen = (size_t)(h - target);
    req->path = fc__arena_strndup(req->arena, target, plen);
    if (!req->path)
        return FC_ENOMEM;
    if (q) {
        const char *qe = strchr(q + 1, '#');
        req->query_raw = fc__arena_strndup(req->arena, q + 1, qe ? (size_t)(qe - q - 1) : strlen(q + 1));
        if (!req->query_raw)
            return FC_ENOMEM;
    }
    req->pathlen = fc__percent_decode(req->path, plen, false);
    if (req->pathlen == 0 || req->path[0] != '/')
        return FC_EINVAL;
    if (memchr(req->path, '\0', req->pathlen) || !fc__utf8_valid(req->path, req->pathlen))
        return FC_EINVAL;
    return 0;
}

bool fc__request_body_append(fc_request *req, const char *data, size_t len)
{
    size_t max = req->app->cfg.max_body;
    if (req->body_too_large)
        return false;
    if (max && (len > max || req->body_len > max - len)) {
        req->body_too_large = true;
        return false;
    }
    if (req->body_len + len + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 1024;
        while (cap < req->body_len + len + 1)
            cap *= 2;
        char *nb = realloc(req->body, cap);
        if (!nb) {
            req->body_too_large = true;
            return false;
        }
        req->body = nb;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
    return true;
}

/* ---- simple accessors ---- */
const char *fc_request_method(const fc_request *req) { return req->method; }
/* Werkzeug's request.path is "/" + path.lstrip("/"): the path routing
 * matched (router.c strips the same slashes). req->path keeps them all, for
 * the access log and error messages, which show what was sent. */
const char *fc_request_path(const fc_request *req)
{
    const char *p = req->path;
    while (p && p[0] == '/' && p[1] == '/')
        p++;
    return p;
}
const char *fc_request_query_string(const fc_request *req) { return req->query_raw; }
fc_app *fc_request_app(const fc_request *req) { return req->app; }
const char *fc_request_remote_addr(fc_request *req)
{
    if (!req->remote_addr_done) {
        pthread_mutex_lock(&req->mu);
        if (!req->remote_addr_done && req->tp && req->tp->remote_addr) {
            const char *a = req->tp->remote_addr(req);
            if (a)
                req->remote_addr = a;
        }
        req->remote_addr_done = true;
        pthread_mutex_unlock(&req->mu);
    }
    return req->remote_addr;
}

const char *fc_request_endpoint(const fc_request *req)
{
    return req->route ? req->route->endpoint : NULL;
}

const char *fc_request_blueprint(const fc_request *req)
{
    return req->route ? req->route->bpname : NULL;
}

static const fc__arg *find_arg(const fc_request *req, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < req->match.nargs; i++)
        if (!strcmp(req->match.args[i].name, name))
            return &req->match.args[i];
    return NULL;
}

const char *fc_arg(const fc_request *req, const char *name)
{
    const fc__arg *a = find_arg(req, name);
    return a ? a->value : NULL;
}

long long fc_arg_int(const fc_request *req, const char *name)
{
    const fc__arg *a = find_arg(req, name);
    return a && a->type == FC__ARG_INT ? a->i : 0;
}

double fc_arg_float(const fc_request *req, const char *name)
{
    const fc__arg *a = find_arg(req, name);
    if (!a)
        return 0.0;
    if (a->type == FC__ARG_FLOAT)
        return a->d;
    if (a->type == FC__ARG_INT)
        return (double)a->i;
    return 0.0;
}

/* ---- lazily parsed parts (under mu: a deferred request may be touched by
 * the loop thread while another thread reads it) ---- */
static void ensure_query(fc_request *req)
{
    if (req->query_parsed)
        return;
    pthread_mutex_lock(&req->mu);
    if (!req->query_parsed) {
        if (fc__query_parse(req->query_raw, strlen(req->query_raw), req->arena, &req->query))
            fc_log(FC_LOG_ERROR, "out of memory parsing the query string");
        req->query_parsed = true;
    }
    pthread_mutex_unlock(&req->mu);
}

const char *fc_query(fc_request *req, const char *key)
{
    ensure_query(req);
    return key ? fc__kv_get(&req->query, key) : NULL;
}

const char *const *fc_query_list(fc_request *req, const char *key, size_t *n)
{
    ensure_query(req);
    size_t dummy;
    if (!n)
        n = &dummy;
    *n = 0;
    if (!key)
        return NULL;
    pthread_mutex_lock(&req->mu);
    const char *const *l = fc__kv_list(&req->query, req->arena, key, n);
    pthread_mutex_unlock(&req->mu);
    return l;
}

int fc_query_int(fc_request *req, const char *key, long long dflt, long long *out)
{
    const char *v = fc_query(req, key);
    if (!v) {
        if (out)
            *out = dflt;
        return FC_ENOENT;
    }
    long long x;
    if (fc__parse_ll(v, strlen(v), true, &x) != 0) {
        if (out)
            *out = dflt;
        return FC_ERANGE;
    }
    if (out)
        *out = x;
    return 0;
}

void fc_query_each(fc_request *req, bool (*fn)(const char *, const char *, void *), void *ud)
{
    ensure_query(req);
    for (size_t i = 0; i < req->query.n; i++)
        if (!fn(req->query.items[i].key, req->query.items[i].value, ud))
            break;
}

/* Header values are copied into the arena (under mu, like every lazy part:
 * the owning thread may be answering a cancel meanwhile); the user's
 * callback runs outside it. */
const char *fc_request_header(fc_request *req, const char *name)
{
    if (!name)
        return NULL;
    pthread_mutex_lock(&req->mu);
    const char *v = req->tp->header(req, name);
    pthread_mutex_unlock(&req->mu);
    return v;
}

void fc_request_headers_each(fc_request *req, bool (*fn)(const char *, const char *, void *), void *ud)
{
    fc__kvlist all = {0};
    pthread_mutex_lock(&req->mu);
    req->tp->headers_copy(req, &all);
    pthread_mutex_unlock(&req->mu);
    for (size_t i = 0; i < all.n; i++)
        if (!fn(all.items[i].key, all.items[i].value, ud))
            break;
}

static bool cookie_header(const char *name, const char *value, void *ud)
{
    fc_request *req = ud;
    if (!fc__strcasecmp(name, "Cookie"))
        fc__cookies_parse(value, req->arena, &req->cookies);
    return true;
}

const char *fc_request_cookie(fc_request *req, const char *name)
{
    if (!req->cookies_parsed) {
        pthread_mutex_lock(&req->mu);
        if (!req->cookies_parsed) {
            /* several Cookie headers (HTTP/2 proxies) all count */
            fc_request_headers_each(req, cookie_header, req);
            req->cookies_parsed = true;
        }
        pthread_mutex_unlock(&req->mu);
    }
    return name ? fc__kv_get(&req->cookies, name) : NULL;
}

const void *fc_request_body(fc_request *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body_len ? req->body : NULL;
}

/* ---- forms ---- */
static void ensure_form(fc_request *req)
{
    if (req->form_parsed)
        return;
    pthread_mutex_lock(&req->mu);
    if (!req->form_parsed) {
        req->form_parsed = true;
        const char *ct = fc_request_header(req, "Content-Type");
        char *mt = ct ? fc__mimetype(req->arena, ct) : NULL;
        if (mt && req->body_len) {
            if (!strcmp(mt, "application/x-www-form-urlencoded")) {
                fc__form_urlencoded(req->body, req->body_len, req->arena, &req->form);
            } else if (!strcmp(mt, "multipart/form-data")) {
                fc__form_limits lim = {req->app->cfg.max_form_parts, req->app->cfg.max_form_field};
                const char *err = NULL;
                int rc = fc__form_multipart(req->body, req->body_len, ct, &lim, req->arena,
                                            &req->form, &req->files, &err);
                if (rc) {
                    req->form.n = 0;
                    req->files.n = 0;
                    req->form_error = rc;
                    req->form_error_msg = err;
                }
            }
        }
    }
    pthread_mutex_unlock(&req->mu);
}

const char *fc_form(fc_request *req, const char *name)
{
    ensure_form(req);
    return name ? fc__kv_get(&req->form, name) : NULL;
}

const char *const *fc_form_list(fc_request *req, const char *name, size_t *n)
{
    ensure_form(req);
    size_t dummy;
    if (!n)
        n = &dummy;
    *n = 0;
    if (!name)
        return NULL;
    pthread_mutex_lock(&req->mu);
    const char *const *l = fc__kv_list(&req->form, req->arena, name, n);
    pthread_mutex_unlock(&req->mu);
    return l;
}

void fc_form_each(fc_request *req, bool (*fn)(const char *, const char *, void *), void *ud)
{
    ensure_form(req);
    for (size_t i = 0; i < req->form.n; i++)
        if (!fn(req->form.items[i].key, req->form.items[i].value, ud))
            break;
}

int fc_request_form_error(fc_request *req, const char **why)
{
    ensure_form(req);
    if (why)
        *why = req->form_error_msg;
    return req->form_error;
}

const fc_file *fc_request_file(fc_request *req, const char *field)
{
    ensure_form(req);
    for (size_t i = 0; field && i < req->files.n; i++)
        if (!strcmp(req->files.items[i].field, field))
            return &req->files.items[i];
    return NULL;
}

void fc_request_files_each(fc_request *req, bool (*fn)(const fc_file *, void *), void *ud)
{
    ensure_form(req);
    for (size_t i = 0; i < req->files.n; i++)
        if (!fn(&req->files.items[i], ud))
            break;
}

const char *fc_file_field(const fc_file *f) { return f->field; }
const char *fc_file_filename(const fc_file *f) { return f->filename ? f->filename : ""; }
const char *fc_file_content_type(const fc_file *f)
{
    return f->content_type ? f->content_type : "application/octet-stream";
}
const void *fc_file_data(const fc_file *f) { return f->data; }
size_t fc_file_size(const fc_file *f) { return f->size; }

/* ---- user data and memory ---- */
void fc_request_set_data(fc_request *req, void *data) { req->user_data = data; }
void *fc_request_data(const fc_request *req) { return req->user_data; }

int fc_request_on_cleanup(fc_request *req, void (*fn)(void *), void *p)
{
    if (!fn)
        return FC_EINVAL;
    pthread_mutex_lock(&req->mu);
    int rc = fc__arena_defer(req->arena, fn, p);
    pthread_mutex_unlock(&req->mu);
    return rc;
}

void *fc_request_alloc(fc_request *req, size_t n)
{
    pthread_mutex_lock(&req->mu);
    void *p = fc__arena_alloc(req->arena, n ? n : 1);
    pthread_mutex_unlock(&req->mu);
    return p;
}

char *fc_request_printf(fc_request *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = fc_request_alloc(req, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
