/* life.c — a request's life, and its one owner: references, the answer
 * exactly once, defer, the deadline (504) and the disconnect watch (499),
 * cancel, the hand-over (after hooks, access log, teardown, transport), and
 * the shutdown's cancel-all. Calls upward only through callbacks: the
 * transport's, the app's hooks, a deferred request's cancel function. */
#include "internal.h"

#include <stdlib.h>

/*
 * States (req->state, under req->mu):
 *   RUNNING    the handler (or a hook) runs on some thread
 *   DEFERRED   the handler returned without answering: the connection is
 *              parked, the deadline and the disconnect watch are armed on
 *              the owning thread, and the first answer finishes it
 *   FINISHING  answered: after hooks and teardown run on the answering thread
 *   DONE       handed to the transport
 * req->answered flips once, under mu, in fc__life_answer_end or a cancel;
 * a second answer gets FC_EALREADY.
 */

void fc__request_ref(fc_request *req)
{
    atomic_fetch_add_explicit(&req->refs, 1, memory_order_relaxed);
}

static void run_teardown(fc_request *req)
{
    if (req->teardown_done)
        return;
    req->teardown_done = true;
    int status = req->res.status;
    /* innermost blueprint first, then the app, each in reverse order (Flask) */
    if (req->route)
        for (unsigned k = req->route->nchain; k-- > 0;) {
            fc_blueprint *bp = req->route->chain[k];
            for (size_t i = bp->teardown.n; i-- > 0;)
                bp->teardown.v[i](req, status);
        }
    for (size_t i = req->app->teardown.n; i-- > 0;)
        req->app->teardown.v[i](req, status);
}

void fc__request_unref(fc_request *req)
{
    if (atomic_fetch_sub_explicit(&req->refs, 1, memory_order_acq_rel) != 1)
        return;
    fc_app *app = req->app;
    run_teardown(req);
    for (size_t i = 0; i < req->bg.n; i++) {
        struct fc__bgtask t = req->bg.v[i];
        if (!app->pool || fc__pool_submit(app->pool, t.fn, t.ud) != 0)
            t.fn(t.ud); /* no pool (stopping): run it here rather than lose it */
    }
    free(req->bg.v);
    fc__request_free(req);
}

/* ---- the hand-over ---- */

static void run_after(fc_request *req)
{
    /* innermost blueprint first, then the app; each in reverse registration order */
    if (req->route)
        for (unsigned k = req->route->nchain; k-- > 0;) {
            fc_blueprint *bp = req->route->chain[k];
            for (size_t i = bp->after.n; i-- > 0;)
                bp->after.v[i](req);
        }
    fc_app *app = req->app;
    for (size_t i = app->after.n; i-- > 0;)
        app->after.v[i](req);
}

/* An answered request: after hooks, access log, teardown, hand-over. On the
 * thread that answered; the transport moves to the owning thread itself. */
static void finish(fc_request *req)
{
    fc__request_ref(req);
    run_after(req);
    if (req->app->cfg.access_log) {
        uint64_t bytes = req->res.kind == FC__BODY_STREAM ? 0 : req->res.len;
        fc__log_access(req->method, req->path, req->res.status, bytes,
                       (double)(fc__now_ms() - req->start_ms), fc_request_remote_addr(req));
    }
    /* teardown before the hand-over: once the transport has the response,
     * libmicrohttpd may reuse the connection's memory (headers) */
    run_teardown(req);
    pthread_mutex_lock(&req->mu);
    req->state = FC__ST_DONE;
    pthread_mutex_unlock(&req->mu);
    req->tp->complete(req);
    fc__request_unref(req);
}

static void deferred_answered(fc_request *req);

int fc__life_answer_begin(fc_request *req, const char *what)
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

void fc__life_answer_end(fc_request *req)
{
    req->answered = true;
    bool late = req->state == FC__ST_DEFERRED;
    if (late)
        req->state = FC__ST_FINISHING;
    pthread_mutex_unlock(&req->mu);
    if (late) {
        deferred_answered(req);
        finish(req);
    }
}

/* ---- defer, deadline, disconnect ---- */

int fc_request_defer(fc_request *req, void (*cancel)(fc_request *, void *), void *ud)
{
    if (!req)
        return FC_EINVAL;
    pthread_mutex_lock(&req->mu);
    if (req->answered) {
        pthread_mutex_unlock(&req->mu);
        return FC_EALREADY;
    }
    req->deferred = true;
    req->cancel_fn = cancel;
    req->cancel_ud = ud;
    pthread_mutex_unlock(&req->mu);
    return 0;
}

/* One timer per deferred request, on the owning thread. It first fires after
 * FC__WATCH_AFTER_MS: a request still waiting then gets its socket watched
 * for a disconnect (most answers come sooner, and skip the two epoll_ctl
 * calls), and the timer is re-armed for the rest of the deadline (504). */
#define FC__WATCH_AFTER_MS 100u

static void hup_fire(int fd, unsigned revents, void *ud);

static void deadline_fire(void *ud)
{
    fc_request *req = ud;
    fc_app *app = req->app;
    req->deadline = NULL;
    uint64_t waited = fc__ms_since(req->deferred_at);
    uint64_t limit = app->cfg.deadline_ms ? app->cfg.deadline_ms : UINT64_MAX;
    if (waited < limit) {
        if (req->sock_fd >= 0 && !req->hup_watch) {
            fc__request_ref(req);
            req->hup_watch = fc__loop_watch(req->loop, req->sock_fd, FC__EV_HUP, hup_fire, req);
            if (!req->hup_watch)
                fc__request_unref(req);
        }
        if (app->cfg.deadline_ms) {
            /* the timer's reference carries over */
            req->deadline = fc__loop_timer(req->loop, limit - waited, deadline_fire, req);
            if (req->deadline)
                return;
        }
        fc__request_unref(req);
        return;
    }
    fc__life_cancel(req, 504, "No answer within the request deadline.");
    fc__request_unref(req); /* the timer's reference */
}

static void hup_fire(int fd, unsigned revents, void *ud)
{
    fc_request *req = ud;
    (void)fd;
    if (!(revents & FC__EV_HUP) || !req->hup_watch)
        return;
    fc__loop_unwatch(req->loop, req->hup_watch);
    req->hup_watch = NULL;
    fc__life_cancel(req, 499, "The client closed the connection.");
    fc__request_unref(req); /* the watch's reference */
}

/* The owning thread, the request not answered yet. */
static void arm(fc_request *req)
{
    uint64_t first = req->app->cfg.deadline_ms;
    if (req->sock_fd >= 0 && (!first || first > FC__WATCH_AFTER_MS))
        first = FC__WATCH_AFTER_MS;
    if (first) {
        fc__request_ref(req);
        req->deadline = fc__loop_timer(req->loop, first, deadline_fire, req);
        if (!req->deadline)
            fc__request_unref(req);
    }
}

static void arm_posted(void *ud)
{
    fc_request *req = ud;
    pthread_mutex_lock(&req->mu);
    bool still = !req->answered;
    pthread_mutex_unlock(&req->mu);
    if (still)
        arm(req);
    fc__request_unref(req); /* the post's reference */
}

static void disarm_here(void *ud)
{
    fc_request *req = ud;
    if (req->deadline) {
        if (fc__loop_timer_cancel(req->loop, req->deadline) == 0)
            fc__request_unref(req);
        req->deadline = NULL;
    }
    if (req->hup_watch) {
        fc__loop_unwatch(req->loop, req->hup_watch);
        req->hup_watch = NULL;
        fc__request_unref(req);
    }
    fc__request_unref(req); /* the caller's (or the post's) reference */
}

static bool watched(const fc_request *req)
{
    return req->loop && (req->app->cfg.deadline_ms || req->sock_fd >= 0);
}

/* mu held: list the request for the shutdown, arm its deadline and watch;
 * the timer and the watch belong to the owning thread, which makes arming,
 * disarming and firing race-free */
static void park(fc_request *req)
{
    fc_app *app = req->app;
    pthread_mutex_lock(&app->deferred_mu);
    fc__list_push_front(&app->deferred, &req->dlink);
    pthread_mutex_unlock(&app->deferred_mu);
    req->deferred_at = fc__now_ms();
    if (!watched(req))
        return;
    if (fc__loop_is_current(req->loop)) {
        arm(req); /* not answered: mu is held */
    } else {
        fc__request_ref(req);
        if (fc__loop_post_node(req->loop, &req->arm_post, arm_posted, req) != 0)
            fc__request_unref(req);
    }
}

/* mu not held: the first answer of a parked request */
static void deferred_answered(fc_request *req)
{
    fc_app *app = req->app;
    pthread_mutex_lock(&app->deferred_mu);
    if (fc__list_linked(&req->dlink))
        fc__list_remove(&req->dlink);
    pthread_mutex_unlock(&app->deferred_mu);
    if (!watched(req))
        return;
    fc__request_ref(req);
    if (fc__loop_is_current(req->loop))
        disarm_here(req);
    else if (fc__loop_post_node(req->loop, &req->disarm_post, disarm_here, req) != 0)
        fc__request_unref(req);
}

void fc__life_returned(fc_request *req)
{
    pthread_mutex_lock(&req->mu);
    if (req->answered && req->state == FC__ST_RUNNING) {
        req->state = FC__ST_FINISHING;
        pthread_mutex_unlock(&req->mu);
        finish(req);
    } else if (!req->answered) {
        req->state = FC__ST_DEFERRED;
        if (!req->suspended && req->tp->suspend)
            req->tp->suspend(req);
        park(req);
        pthread_mutex_unlock(&req->mu);
    } else {
        pthread_mutex_unlock(&req->mu); /* canceled meanwhile: the cancel finished it */
    }
}

/* ---- cancel ---- */

void fc__life_cancel(fc_request *req, int status, const char *why)
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
    if (fc__reply_error(req, status, why, fc__reply_wants_json(req)))
        fc__reply_oom(req);
    fc__life_answer_end(req); /* a parked request is handed over now */
}

static void cancel_shutdown(void *ud)
{
    fc_request *req = ud;
    fc__life_cancel(req, 503, "The server is shutting down.");
    fc__request_unref(req);
}

void fc__life_cancel_all(fc_app *app)
{
    fc_request *r;
    pthread_mutex_lock(&app->deferred_mu);
    FC__LIST_EACH(r, nx, &app->deferred, fc_request, dlink) {
        if (r->cancel_posted)
            continue; /* an earlier stop's cancel is on its way */
        fc__request_ref(r);
        if (r->loop && fc__loop_post_node(r->loop, &r->cancel_post, cancel_shutdown, r) == 0)
            r->cancel_posted = true;
        else
            fc__request_unref(r);
    }
    pthread_mutex_unlock(&app->deferred_mu);
}
