/* response.c — building the response: status, headers, cookies, the body
 * kinds (memory, taken buffer, stream), redirects, abort and default error
 * bodies; the exactly-once answer protocol lives here. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the exactly-once protocol ----
 * answer_begin takes req->mu and fails when the request was answered;
 * answer_end marks it answered and, when the handler already returned
 * (deferred), finishes it on this thread. */
static int answer_begin(fc_request *req, const char *what)
{
    pthread_mutex_lock(&req->mu);
    if (req->answered) {
        pthread_mutex_unlock(&req->mu);
        if (!req->canceled)
            fc_log(FC_LOG_WARNING, "%s: %s %s answered twice (second answer ignored)",
                   req->route ? req->route->endpoint : "(no endpoint)", req->method, what);
        return FC_EALREADY;
    }
    return 0;
}

static void answer_end(fc_request *req)
{
    req->answered = true;
    bool finish = req->state == FC__ST_DEFERRED;
    if (finish)
        req->state = FC__ST_FINISHING;
    pthread_mutex_unlock(&req->mu);
    if (finish) {
        fc__async_answered(req);
        fc__dispatch_finish(req);
    }
}

/* ---- headers ---- */
static bool is_managed(const char *name)
{
    return !fc__strcasecmp(name, "Content-Length") || !fc__strcasecmp(name, "Transfer-Encoding") ||
           !fc__strcasecmp(name, "Connection");
}

static int header_add_locked(fc_request *req, const char *name, const char *value)
{
    char *n = fc__arena_strdup(req->arena, name);
    char *v = fc__arena_strdup(req->arena, value);
    if (!n || !v)
        return FC_ENOMEM;
    return fc__kv_add(&req->res.headers, req->arena, n, v, strlen(v));
}

static void header_del_locked(fc_request *req, const char *name)
{
    size_t j = 0;
    fc__kvlist *l = &req->res.headers;
    for (size_t i = 0; i < l->n; i++)
        if (fc__strcasecmp(l->items[i].key, name))
            l->items[j++] = l->items[i];
    l->n = j;
}

static int check_header(const char *name, const char *value)
{
    if (!name || !fc__token_ok(name) || (value && !fc__header_value_ok(value)))
        return FC_EINVAL;
    if (is_managed(name))
        return FC_EINVAL;
    return 0;
}

int fc_response_header(fc_request *req, const char *name, const char *value)
{
    int rc = check_header(name, value);
    if (rc || !value)
        return rc ? rc : FC_EINVAL;
    pthread_mutex_lock(&req->mu);
    rc = header_add_locked(req, name, value);
    pthread_mutex_unlock(&req->mu);
    return rc;
}

int fc_response_set_header(fc_request *req, const char *name, const char *value)
{
    int rc = check_header(name, value);
    if (rc)
        return rc;
    pthread_mutex_lock(&req->mu);
    header_del_locked(req, name);
    if (value)
        rc = header_add_locked(req, name, value);
    pthread_mutex_unlock(&req->mu);
    return rc;
}

const char *fc_response_get_header(fc_request *req, const char *name)
{
    return name ? fc__kv_get_ci(&req->res.headers, name) : NULL;
}

int fc_response_cookie(fc_request *req, const char *name, const char *value, const fc_cookie_opts *opts)
{
    fc_cookie_opts dflt = FC_COOKIE_OPTS_DEFAULT;
    if (!name || !value)
        return FC_EINVAL;
    if (!opts)
        opts = &dflt;
    if ((opts->path && !fc__header_value_ok(opts->path)) ||
        (opts->domain && !fc__header_value_ok(opts->domain)) ||
        (opts->path && strchr(opts->path, ';')) || (opts->domain && strchr(opts->domain, ';')))
        return FC_EINVAL;
    fc__buf b = {0};
    int rc = fc__cookie_format(&b, name, value, opts, (long long)time(NULL));
    if (rc == 0 && !fc__buf_cstr(&b))
        rc = FC_ENOMEM;
    if (rc == 0) {
        pthread_mutex_lock(&req->mu);
        rc = header_add_locked(req, "Set-Cookie", b.data);
        pthread_mutex_unlock(&req->mu);
    }
    fc__buf_free(&b);
    return rc;
}

int fc_response_delete_cookie(fc_request *req, const char *name, const char *path)
{
    if (!name)
        return FC_EINVAL;
    fc__buf b = {0};
    int rc = fc__buf_printf(&b, "%s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=%s", name,
                            path ? path : "/");
    if (rc == 0 && (!fc__token_ok(name) || (path && (!fc__header_value_ok(path) || strchr(path, ';')))))
        rc = FC_EINVAL;
    if (rc == 0) {
        pthread_mutex_lock(&req->mu);
        rc = header_add_locked(req, "Set-Cookie", b.data);
        pthread_mutex_unlock(&req->mu);
    }
    fc__buf_free(&b);
    return rc;
}

/* ---- bodies ---- */
static bool status_ok(int status)
{
    return status >= 100 && status <= 999;
}

/* with req->mu held: set status, default content type, body */
static int set_body_locked(fc_request *req, int status, const char *ctype, const void *data,
                           size_t len, bool copy)
{
    if (ctype && !fc__kv_get_ci(&req->res.headers, "Content-Type")) {
        int rc = header_add_locked(req, "Content-Type", ctype);
        if (rc)
            return rc;
    }
    req->res.status = status;
    if (copy && len) {
        char *p = fc__arena_alloc(req->arena, len);
        if (!p)
            return FC_ENOMEM;
        memcpy(p, data, len);
        data = p;
    }
    req->res.kind = len ? FC__BODY_MEM : FC__BODY_NONE;
    req->res.body = data;
    req->res.len = len;
    return 0;
}

/* Out of memory while building an answer: a bare 500 that needs no memory. */
static void oom_locked(fc_request *req)
{
    req->res.status = 500;
    req->res.kind = FC__BODY_NONE;
    req->res.headers.n = 0;
    fc_log(FC_LOG_ERROR, "out of memory building the response of %s %s", req->method, req->path);
}

int fc__response_body(fc_request *req, int status, const char *ctype, const void *data, size_t len,
                      bool copy, const char *what);
int fc__response_body(fc_request *req, int status, const char *ctype, const void *data, size_t len,
                      bool copy, const char *what)
{
    if (!status_ok(status))
        return FC_EINVAL;
    int rc = answer_begin(req, what);
    if (rc)
        return rc;
    if (set_body_locked(req, status, ctype, data, len, copy))
        oom_locked(req);
    answer_end(req);
    return 0;
}

int fc_response_text(fc_request *req, int status, const char *text)
{
    if (!text)
        return FC_EINVAL;
    return fc__response_body(req, status, "text/plain; charset=utf-8", text, strlen(text), true, "text");
}

int fc_response_html(fc_request *req, int status, const char *html)
{
    if (!html)
        return FC_EINVAL;
    return fc__response_body(req, status, "text/html; charset=utf-8", html, strlen(html), true, "html");
}

int fc_response_bytes(fc_request *req, int status, const char *content_type, const void *data, size_t len)
{
    if (!data && len)
        return FC_EINVAL;
    if (content_type && !fc__header_value_ok(content_type))
        return FC_EINVAL;
    return fc__response_body(req, status, content_type ? content_type : "application/octet-stream",
                             data, len, true, "bytes");
}

int fc_response_bytes_take(fc_request *req, int status, const char *content_type, void *data, size_t len)
{
    if ((!data && len) || !status_ok(status) || (content_type && !fc__header_value_ok(content_type))) {
        free(data);
        return FC_EINVAL;
    }
    int rc = answer_begin(req, "bytes");
    if (rc) {
        free(data);
        return rc;
    }
    if (set_body_locked(req, status, content_type ? content_type : "application/octet-stream", NULL,
                        0, false)) {
        free(data);
        oom_locked(req);
    } else {
        req->res.kind = FC__BODY_TAKEN;
        req->res.taken = data;
        req->res.body = data;
        req->res.len = len;
    }
    answer_end(req);
    return 0;
}

int fc_response_empty(fc_request *req, int status)
{
    return fc__response_body(req, status, NULL, NULL, 0, false, "empty");
}

int fc_response_stream(fc_request *req, int status, const char *content_type, fc_stream_fn fn,
                       void *ud, void (*free_fn)(void *))
{
    if (!fn || !status_ok(status) || (content_type && !fc__header_value_ok(content_type))) {
        if (free_fn)
            free_fn(ud);
        return FC_EINVAL;
    }
    int rc = answer_begin(req, "stream");
    if (rc) {
        if (free_fn)
            free_fn(ud);
        return rc;
    }
    if (set_body_locked(req, status, content_type ? content_type : "application/octet-stream", NULL,
                        0, false)) {
        oom_locked(req);
        if (free_fn)
            free_fn(ud);
    } else {
        req->res.kind = FC__BODY_STREAM;
        req->res.stream_fn = fn;
        req->res.stream_ud = ud;
        req->res.stream_free = free_fn;
    }
    answer_end(req);
    return 0;
}

void fc_stream_wake(fc_request *req)
{
    if (req && req->tp && req->tp->stream_wake)
        req->tp->stream_wake(req);
}

int fc_response_status(const fc_request *req)
{
    return req->res.status;
}

int fc_response_set_status(fc_request *req, int status)
{
    if (!status_ok(status))
        return FC_EINVAL;
    req->res.status = status;
    return 0;
}

bool fc_request_answered(const fc_request *req)
{
    return req->answered;
}

/* ---- redirects ---- */
static int redirect_locked(fc_request *req, int status, const char *location)
{
    fc__buf b = {0};
    int rc = fc__buf_puts(&b, "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
                              "<h1>Redirecting...</h1>\n<p>You should be redirected automatically "
                              "to the target URL: <a href=\"");
    rc = rc ? rc : fc__html_escape(&b, location);
    rc = rc ? rc : fc__buf_puts(&b, "\">");
    rc = rc ? rc : fc__html_escape(&b, location);
    rc = rc ? rc : fc__buf_puts(&b, "</a>. If not, click the link.\n");
    if (rc == 0) {
        header_del_locked(req, "Location");
        rc = header_add_locked(req, "Location", location);
    }
    if (rc == 0)
        rc = set_body_locked(req, status, "text/html; charset=utf-8", b.data, b.len, true);
    fc__buf_free(&b);
    return rc;
}

int fc_response_redirect(fc_request *req, int status, const char *location)
{
    if (!status)
        status = 302;
    if (!location || !fc__header_value_ok(location) || status < 300 || status > 399)
        return FC_EINVAL;
    int rc = answer_begin(req, "redirect");
    if (rc)
        return rc;
    if (redirect_locked(req, status, location))
        oom_locked(req);
    answer_end(req);
    return 0;
}

/* ---- errors ---- */
static const char *default_description(int status)
{
    switch (status) {
    case 400:
        return "The browser (or proxy) sent a request that this server could not understand.";
    case 401:
        return "The server could not verify that you are authorized to access the URL requested. "
               "You either supplied the wrong credentials (e.g. a bad password), or your browser "
               "doesn't understand how to supply the credentials required.";
    case 403:
        return "You don't have the permission to access the requested resource. It is either "
               "read-protected or not readable by the server.";
    case 404:
        return "The requested URL was not found on the server. If you entered the URL manually "
               "please check your spelling and try again.";
    case 405:
        return "The method is not allowed for the requested URL.";
    case 408:
        return "The server closed the network connection because the browser didn't finish the "
               "request within the specified time.";
    case 409:
        return "A conflict happened while processing the request. The resource might have been "
               "modified while the request was being processed.";
    case 413:
        return "The data value transmitted exceeds the capacity limit.";
    case 414:
        return "The length of the requested URL exceeds the capacity limit for this server. The "
               "request cannot be processed.";
    case 415:
        return "The server does not support the media type transmitted in the request.";
    case 416:
        return "The server cannot provide the requested range.";
    case 418:
        return "This server is a teapot, not a coffee machine";
    case 422:
        return "The request was well-formed but was unable to be followed due to semantic errors.";
    case 429:
        return "This user has exceeded an allotted request count. Try again later.";
    case 431:
        return "One or more header fields exceeds the maximum size.";
    case 500:
        return "The server encountered an internal error and was unable to complete your "
               "request. Either the server is overloaded or there is an error in the application.";
    case 501:
        return "The server does not support the action requested by the browser.";
    case 502:
        return "The proxy server received an invalid response from an upstream server.";
    case 503:
        return "The server is temporarily unable to service your request due to maintenance "
               "downtime or capacity problems. Please try again later.";
    case 504:
        return "The connection to an upstream server timed out.";
    default:
        return "";
    }
}

static bool wants_json(fc_request *req)
{
    if (req->app->cfg.json_errors)
        return true;
    const char *accept = fc_request_header(req, "Accept");
    return accept && (strstr(accept, "application/json") || strstr(accept, "+json"));
}

/* with mu held */
static int error_body_locked(fc_request *req, int status, const char *description, bool json)
{
    fc__buf b = {0};
    int rc;
    const char *phrase = fc__status_phrase(status);
    if (!description || !*description)
        description = default_description(status);
    if (json) {
        rc = fc__buf_puts(&b, "{\"error\":");
        rc = rc ? rc : fc__json_escape(&b, phrase);
        rc = rc ? rc : fc__buf_printf(&b, ",\"status\":%d,\"message\":", status);
        rc = rc ? rc : fc__json_escape(&b, description);
        rc = rc ? rc : fc__buf_puts(&b, "}\n");
    } else {
        rc = fc__buf_puts(&b, "<!doctype html>\n<html lang=en>\n<title>");
        rc = rc ? rc : fc__buf_printf(&b, "%d ", status);
        rc = rc ? rc : fc__html_escape(&b, phrase);
        rc = rc ? rc : fc__buf_puts(&b, "</title>\n<h1>");
        rc = rc ? rc : fc__html_escape(&b, phrase);
        rc = rc ? rc : fc__buf_puts(&b, "</h1>\n<p>");
        rc = rc ? rc : fc__html_escape(&b, description);
        rc = rc ? rc : fc__buf_puts(&b, "</p>\n");
    }
    if (rc == 0) {
        header_del_locked(req, "Content-Type");
        rc = set_body_locked(req, status, json ? "application/json" : "text/html; charset=utf-8",
                             b.data, b.len, true);
    }
    fc__buf_free(&b);
    return rc;
}

void fc__error_default_body(fc_request *req, int status, const char *description)
{
    pthread_mutex_lock(&req->mu);
    if (error_body_locked(req, status, description, wants_json(req)))
        oom_locked(req);
    pthread_mutex_unlock(&req->mu);
}

static fc_error_fn find_handler(const fc_request *req, int status)
{
    /* the blueprint chain, innermost first, exact status before catch-all;
     * routing errors have no route, so only app handlers see them */
    if (req->route)
        for (unsigned k = req->route->nchain; k-- > 0;) {
            const fc_blueprint *bp = req->route->chain[k];
            for (size_t i = 0; i < bp->errh.n; i++)
                if (bp->errh.v[i].status == status)
                    return bp->errh.v[i].fn;
            for (size_t i = 0; i < bp->errh.n; i++)
                if (bp->errh.v[i].status == 0)
                    return bp->errh.v[i].fn;
        }
    const fc_app *app = req->app;
    for (size_t i = 0; i < app->errh.n; i++)
        if (app->errh.v[i].status == status)
            return app->errh.v[i].fn;
    for (size_t i = 0; i < app->errh.n; i++)
        if (app->errh.v[i].status == 0)
            return app->errh.v[i].fn;
    return NULL;
}

static int abort_impl(fc_request *req, int status, const char *description, bool force_json)
{
    if (status < 400 || status > 599)
        return FC_EINVAL;
    pthread_mutex_lock(&req->mu);
    if (req->answered) {
        pthread_mutex_unlock(&req->mu);
        return FC_EALREADY;
    }
    bool nested = req->in_error_handler;
    fc_error_fn h = nested ? NULL : find_handler(req, status);
    req->error_status = status;
    if (h) {
        req->in_error_handler = true;
        fc__request_ref(req); /* the handler's answer may finish and release it */
        pthread_mutex_unlock(&req->mu);
        h(req, status);
        pthread_mutex_lock(&req->mu);
        req->in_error_handler = false;
        if (req->answered) {
            pthread_mutex_unlock(&req->mu);
            fc__request_unref(req);
            return 0;
        }
        fc__request_unref(req); /* not answered: the transport still holds it */
    }
    if (error_body_locked(req, status, description, force_json || wants_json(req)))
        oom_locked(req);
    answer_end(req);
    return 0;
}

int fc_abort(fc_request *req, int status, const char *description)
{
    return abort_impl(req, status, description, false);
}

int fc__abort_json(fc_request *req, int status, const char *description);
int fc__abort_json(fc_request *req, int status, const char *description)
{
    return abort_impl(req, status, description, true);
}

/* Claim an unanswered request for the library (deadline, disconnect,
 * shutdown): the cancel callback runs, then a default error answer. */
void fc__request_cancel(fc_request *req, int status, const char *why)
{
    pthread_mutex_lock(&req->mu);
    if (req->answered) {
        pthread_mutex_unlock(&req->mu);
        return;
    }
    req->answered = true; /* from here, late answers are no-ops */
    req->canceled = true;
    void (*cancel)(fc_request *, void *) = req->cancel_fn;
    void *ud = req->cancel_ud;
    req->cancel_fn = NULL;
    pthread_mutex_unlock(&req->mu);
    if (cancel)
        cancel(req, ud);
    pthread_mutex_lock(&req->mu);
    req->res.headers.n = 0;
    if (error_body_locked(req, status, why, wants_json(req)))
        oom_locked(req);
    bool finish = req->state == FC__ST_DEFERRED;
    if (finish)
        req->state = FC__ST_FINISHING;
    pthread_mutex_unlock(&req->mu);
    if (finish) {
        fc__async_answered(req);
        fc__dispatch_finish(req);
    }
}
