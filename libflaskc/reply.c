/* reply.c — the response object under construction: header list, status
 * and body, the out-of-memory fallback, and the default error bodies
 * (Werkzeug's HTML page, or JSON). Callers hold req->mu; no life cycle here. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int fc__reply_header_add(fc_request *req, const char *name, const char *value)
{
    char *n = fc__arena_strdup(req->arena, name);
    char *v = fc__arena_strdup(req->arena, value);
    if (!n || !v)
        return FC_ENOMEM;
    return fc__kv_add(&req->res.headers, req->arena, n, v, strlen(v));
}

void fc__reply_header_del(fc_request *req, const char *name)
{
    size_t j = 0;
    fc__kvlist *l = &req->res.headers;
    for (size_t i = 0; i < l->n; i++)
        if (fc__strcasecmp(l->items[i].key, name))
            l->items[j++] = l->items[i];
    l->n = j;
}

/* with req->mu held: set status, default content type, body */
int fc__reply_body(fc_request *req, int status, const char *ctype, const void *data,
                           size_t len, bool copy)
{
    if (ctype && !fc__kv_get_ci(&req->res.headers, "Content-Type")) {
        int rc = fc__reply_header_add(req, "Content-Type", ctype);
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
void fc__reply_oom(fc_request *req)
{
    req->res.status = 500;
    req->res.kind = FC__BODY_NONE;
    req->res.headers.n = 0;
    fc_log(FC_LOG_ERROR, "out of memory building the response of %s %s", req->method, req->path);
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

bool fc__reply_wants_json(fc_request *req)
{
    if (req->app->cfg.json_errors)
        return true;
    const char *accept = fc_request_header(req, "Accept");
    return accept && (strstr(accept, "application/json") || strstr(accept, "+json"));
}

/* The default error body for @p status (JSON when asked for). */
int fc__reply_error(fc_request *req, int status, const char *description, bool json)
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
        fc__reply_header_del(req, "Content-Type");
        rc = fc__reply_body(req, status, json ? "application/json" : "text/html; charset=utf-8",
                             b.data, b.len, true);
    }
    fc__buf_free(&b);
    return rc;
}

