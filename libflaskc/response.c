/* response.c — the public answers: status, headers, cookies, the body kinds
 * (memory, taken buffer, stream), redirects, fc_abort and the error handlers.
 * Each answer goes through life.c's exactly-once protocol. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- headers ---- */
static bool is_managed(const char *name)
{
    return !fc__strcasecmp(name, "Content-Length") || !fc__strcasecmp(name, "Transfer-Encoding") ||
           !fc__strcasecmp(name, "Connection");
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
    rc = fc__reply_header_add(req, name, value);
    pthread_mutex_unlock(&req->mu);
    return rc;
}

int fc_response_set_header(fc_request *req, const char *name, const char *value)
{
    int rc = check_header(name, value);
    if (rc)
        return rc;
    pthread_mutex_lock(&req->mu);
    fc__reply_header_del(req, name);
    if (value)
        rc = fc__reply_header_add(req, name, value);
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
        rc = fc__reply_header_add(req, "Set-Cookie", b.data);
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
        rc = fc__reply_header_add(req, "Set-Cookie", b.data);
        pthread_mutex_unlock(&req->mu);
    }
    fc__buf_free(&b);
    return rc;
}

/* ---- bodies ---- */
/* a final answer: 1xx codes are interim (libmicrohttpd would send one as
 * the answer, and the client would go on waiting for the real one) */
static bool status_ok(int status)
{
    return status >= 200 && status <= 999;
}

int fc__response_body(fc_request *req, int status, const char *ctype, const void *data, size_t len,
                      bool copy, const char *what);
int fc__response_body(fc_request *req, int status, const char *ctype, const void *data, size_t len,
                      bool copy, const char *what)
{
    if (!status_ok(status))
        return FC_EINVAL;
    int rc = fc__life_answer_begin(req, what);
    if (rc)
        return rc;
    if (fc__reply_body(req, status, ctype, data, len, copy))
        fc__reply_oom(req);
    fc__life_answer_end(req);
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
    int rc = fc__life_answer_begin(req, "bytes");
    if (rc) {
        free(data);
        return rc;
    }
    if (fc__reply_body(req, status, content_type ? content_type : "application/octet-stream", NULL,
                        0, false)) {
        free(data);
        fc__reply_oom(req);
    } else {
        req->res.kind = FC__BODY_TAKEN;
        req->res.taken = data;
        req->res.body = data;
        req->res.len = len;
    }
    fc__life_answer_end(req);
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
    int rc = fc__life_answer_begin(req, "stream");
    if (rc) {
        if (free_fn)
            free_fn(ud);
        return rc;
    }
    if (fc__reply_body(req, status, content_type ? content_type : "application/octet-stream", NULL,
                        0, false)) {
        fc__reply_oom(req);
        if (free_fn)
            free_fn(ud);
    } else {
        req->res.kind = FC__BODY_STREAM;
        req->res.stream_fn = fn;
        req->res.stream_ud = ud;
        req->res.stream_free = free_fn;
    }
    fc__life_answer_end(req);
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
        fc__reply_header_del(req, "Location");
        rc = fc__reply_header_add(req, "Location", location);
    }
    if (rc == 0)
        rc = fc__reply_body(req, status, "text/html; charset=utf-8", b.data, b.len, true);
    fc__buf_free(&b);
    return rc;
}

int fc_response_redirect(fc_request *req, int status, const char *location)
{
    if (!status)
        status = 302;
    if (!location || !fc__header_value_ok(location) || status < 300 || status > 399)
        return FC_EINVAL;
    int rc = fc__life_answer_begin(req, "redirect");
    if (rc)
        return rc;
    if (redirect_locked(req, status, location))
        fc__reply_oom(req);
    fc__life_answer_end(req);
    return 0;
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
    if (fc__reply_error(req, status, description, force_json || fc__reply_wants_json(req)))
        fc__reply_oom(req);
    fc__life_answer_end(req);
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
