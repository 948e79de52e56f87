/* dispatch.c — one request through the app: routing, where its handler runs
 * (inline, on the worker pool, or a 503 when the pool is full: one decision
 * for both transports), before hooks, the handler, routing answers
 * (404/405/308/OPTIONS), "forgot to answer" → 500; then life.c takes over. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void fc__dispatch_route(fc_request *req)
{
    fc_app *app = req->app;
    if (fc__router_match(app->router, req->mbit, req->path, req->pathlen, req->arena, &req->match)) {
        req->match.kind = FC__MATCH_NOT_FOUND;
        req->oom = true;
    }
    req->route = req->match.kind == FC__MATCH_OK ? req->match.route : NULL;
}

static bool is_blocking(const fc_request *req)
{
    return req->route && (req->route->flags & FC_BLOCKING);
}

/* Location for a routing redirect: absolute, from the Host header, with the
 * path percent-encoded and the query string kept (Werkzeug). */
static void routing_redirect(fc_request *req)
{
    fc__buf b = {0};
    const char *host = fc_request_header(req, "Host");
    int rc;
    if (host && *host && fc__header_value_ok(host) && !strpbrk(host, "/\\ @"))
        rc = fc__buf_printf(&b, "http://%s", host);
    else
        rc = fc__buf_printf(&b, "http://%s:%d", req->app->cfg.host, fc_app_port(req->app));
    const char *p = req->match.redirect_path;
    rc = rc ? rc : fc__url_encode(&b, p, strlen(p), "/!$&'()*+,;=:@", false);
    if (rc == 0 && *req->query_raw) {
        rc = fc__buf_puts(&b, "?");
        /* the raw query is what the client sent; keep it, but never let
         * bytes through that cannot appear in a header */
        rc = rc ? rc : fc__url_encode(&b, req->query_raw, strlen(req->query_raw),
                                      "/?!$&'()*+,;=:@%", false);
    }
    if (rc == 0 && fc__buf_cstr(&b))
        fc_response_redirect(req, 308, b.data);
    else
        fc_abort(req, 500, NULL);
    fc__buf_free(&b);
}

static void routing_answer(fc_request *req)
{
    char allow[128];
    switch (req->match.kind) {
    case FC__MATCH_NOT_FOUND:
        fc_abort(req, req->oom ? 500 : 404, NULL);
        break;
    case FC__MATCH_METHOD_NOT_ALLOWED:
        fc__methods_format(req->match.allow, allow, sizeof(allow));
        fc_response_set_header(req, "Allow", allow);
        fc_abort(req, 405, NULL);
        break;
    case FC__MATCH_REDIRECT:
        routing_redirect(req);
        break;
    case FC__MATCH_OPTIONS:
        fc__methods_format(req->match.allow, allow, sizeof(allow));
        fc_response_set_header(req, "Allow", allow);
        fc_response_set_header(req, "Content-Type", "text/html; charset=utf-8");
        fc_response_empty(req, 200);
        break;
    case FC__MATCH_OK:
        break;
    }
}

static bool run_before(fc_request *req)
{
    fc_app *app = req->app;
    for (size_t i = 0; i < app->before.n; i++)
        if (!app->before.v[i](req) || req->answered)
            return false;
    if (req->route)
        for (unsigned k = 0; k < req->route->nchain; k++) {
            fc_blueprint *bp = req->route->chain[k];
            for (size_t i = 0; i < bp->before.n; i++)
                if (!bp->before.v[i](req) || req->answered)
                    return false;
        }
    return true;
}

void fc__dispatch_run(fc_request *req)
{
    fc__request_ref(req); /* an answer from another thread may finish it meanwhile */
    if (req->bad_request) {
        fc_abort(req, 400, req->bad_request);
    } else if (req->reject_status) {
        fc_abort(req, req->reject_status, req->reject_msg);
    } else if (req->body_too_large) {
        fc_abort(req, 413, NULL);
    } else if (run_before(req)) {
        if (req->match.kind == FC__MATCH_OK) {
            uint64_t t0 = req->app->cfg.watchdog_ms ? fc__now_ms() : 0;
            req->route->fn(req);
            if (t0 && !is_blocking(req)) {
                uint64_t dt = fc__now_ms() - t0;
                if (dt > req->app->cfg.watchdog_ms)
                    fc_log(FC_LOG_WARNING,
                           "%s held a polling thread for %llu ms (threshold %u ms): blocking "
                           "handlers stall other clients; register it with FC_BLOCKING or "
                           "answer asynchronously",
                           req->route->endpoint, (unsigned long long)dt, req->app->cfg.watchdog_ms);
            }
            if (!req->answered && !req->deferred) {
                fc_log(FC_LOG_ERROR, "%s: the handler of %s %s returned without answering",
                       req->route->endpoint, req->method, req->path);
                fc_abort(req, 500, NULL);
            }
        } else {
            routing_answer(req);
        }
    } else if (!req->answered) {
        fc_log(FC_LOG_ERROR, "a before_request hook stopped %s %s without answering", req->method,
               req->path);
        fc_abort(req, 500, NULL);
    }
    fc__life_returned(req);
    fc__request_unref(req);
}

static void run_on_worker(void *ud)
{
    fc__dispatch_run(ud);
    fc__request_unref(ud); /* the pool job's reference */
}

void fc__dispatch_start(fc_request *req)
{
    if (!is_blocking(req) || req->bad_request || req->reject_status ||
        req->body_too_large) {
        fc__dispatch_run(req);
        return;
    }
    /* a blocking handler: park the connection, run it on the worker pool */
    if (req->tp->suspend)
        req->tp->suspend(req);
    else
        req->suspended = true; /* nothing to park: the transport waits for its answer */
    fc__request_ref(req);
    if (fc__pool_submit(req->app->pool, run_on_worker, req) != 0) {
        fc__request_unref(req);
        /* the pool is saturated: say so at once instead of queueing forever */
        req->reject_status = 503;
        req->reject_msg = "The worker pool is full. Please try again later.";
        fc__dispatch_run(req);
    }
}
