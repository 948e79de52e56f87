/* async.c — deferred answers: fc_request_defer, timers (fc_after), work on
 * the pool (fc_pool_run), background tasks, the per-request deadline (504),
 * cancel on client disconnect, and cancel-all at shutdown. */
#include "internal.h"

#include <stdlib.h>

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

/* ---- deadline and disconnect watch (loop thread) ----
 * One timer per deferred request. It first fires after FC__WATCH_AFTER_MS:
 * a request still waiting then gets its socket watched for a disconnect
 * (most answers come sooner, and skip the two epoll_ctl calls), and the
 * timer is re-armed for the rest of the deadline, which answers 504. */
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
    fc__request_cancel(req, 504, "No answer within the request deadline.");
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
    fc__request_cancel(req, 499, "The client closed the connection.");
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

static void arm_on_loop(void *ud)
{
    fc_request *req = ud;
    pthread_mutex_lock(&req->mu);
    bool still = !req->answered;
    pthread_mutex_unlock(&req->mu);
    if (still)
        arm(req);
    fc__request_unref(req); /* the post's reference */
}

static void disarm_on_loop(void *ud)
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
    fc__request_unref(req); /* the post's reference */
}

void fc__async_deferred(fc_request *req)
{
    fc_app *app = req->app;
    pthread_mutex_lock(&app->deferred_mu);
    req->dprev = NULL;
    req->dnext = app->deferred_head;
    if (app->deferred_head)
        app->deferred_head->dprev = req;
    app->deferred_head = req;
    req->in_deferred_list = true;
    pthread_mutex_unlock(&app->deferred_mu);
    req->deferred_at = fc__now_ms();
    /* the deadline timer and the socket watch belong to the owning thread:
     * arming and disarming there makes them race-free with their firing */
    if (req->loop && (app->cfg.deadline_ms || req->sock_fd >= 0)) {
        if (fc__loop_is_current(req->loop)) {
            arm(req); /* mu is held, and the request is not answered */
        } else {
            fc__request_ref(req);
            if (fc__loop_post(req->loop, arm_on_loop, req) != 0)
                fc__request_unref(req);
        }
    }
}

void fc__async_answered(fc_request *req)
{
    fc_app *app = req->app;
    pthread_mutex_lock(&app->deferred_mu);
    if (req->in_deferred_list) {
        if (req->dprev)
            req->dprev->dnext = req->dnext;
        else
            app->deferred_head = req->dnext;
        if (req->dnext)
            req->dnext->dprev = req->dprev;
        req->in_deferred_list = false;
    }
    pthread_mutex_unlock(&app->deferred_mu);
    if (req->loop && (app->cfg.deadline_ms || req->sock_fd >= 0)) {
        fc__request_ref(req);
        if (fc__loop_is_current(req->loop))
            disarm_on_loop(req);
        else if (fc__loop_post(req->loop, disarm_on_loop, req) != 0)
            fc__request_unref(req);
    }
}

static void cancel_shutdown(void *ud)
{
    fc_request *req = ud;
    fc__request_cancel(req, 503, "The server is shutting down.");
    fc__request_unref(req);
}

void fc__async_cancel_all(fc_app *app)
{
    pthread_mutex_lock(&app->deferred_mu);
    for (fc_request *r = app->deferred_head; r; r = r->dnext) {
        fc__request_ref(r);
        if (!r->loop || fc__loop_post(r->loop, cancel_shutdown, r) != 0)
            fc__request_unref(r);
    }
    pthread_mutex_unlock(&app->deferred_mu);
}

/* ---- fc_after ----
 * The timer is armed, fired and canceled on the loop thread only, so the
 * three never race: the cancel callback also runs there. */
struct after_ctx {
    fc_request *req;
    fc__timer *timer;
    unsigned ms;
    bool canceled;
    void (*fn)(fc_request *, void *);
    void *ud;
};

static void after_done(struct after_ctx *c)
{
    fc_request *req = c->req;
    free(c);
    fc__request_unref(req);
}

static void after_fire(void *p)
{
    struct after_ctx *c = p;
    fc_request *req = c->req;
    c->timer = NULL;
    pthread_mutex_lock(&req->mu);
    bool answered = req->answered;
    pthread_mutex_unlock(&req->mu);
    if (!answered)
        c->fn(req, c->ud);
    after_done(c);
}

static void after_arm(void *p)
{
    struct after_ctx *c = p;
    if (c->canceled) {
        after_done(c);
        return;
    }
    c->timer = fc__loop_timer(c->req->loop, c->ms, after_fire, c);
    if (!c->timer) {
        fc__request_cancel(c->req, 500, "out of memory arming a timer");
        after_done(c);
    }
}

static void after_cancel(fc_request *req, void *p)
{
    struct after_ctx *c = p;
    (void)req;
    if (c->timer) {
        if (fc__loop_timer_cancel(req->loop, c->timer) == 0) {
            c->timer = NULL;
            after_done(c);
        }
    } else {
        c->canceled = true; /* not armed yet: after_arm frees it */
    }
}

int fc_after(fc_request *req, unsigned ms, void (*fn)(fc_request *, void *), void *ud)
{
    if (!req || !fn || !req->loop)
        return FC_EINVAL;
    struct after_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return FC_ENOMEM;
    c->req = req;
    c->fn = fn;
    c->ud = ud;
    c->ms = ms;
    int rc = fc_request_defer(req, after_cancel, c);
    if (rc) {
        free(c);
        return rc;
    }
    fc__request_ref(req);
    rc = fc__loop_post(req->loop, after_arm, c);
    if (rc) {
        pthread_mutex_lock(&req->mu);
        req->cancel_fn = NULL;
        pthread_mutex_unlock(&req->mu);
        after_done(c);
        return rc;
    }
    return 0;
}

/* ---- fc_pool_run ---- */
struct pool_ctx {
    fc_request *req;
    void (*work)(void *);
    void (*done)(fc_request *, void *);
    void *ud;
};

static void pool_done(void *p)
{
    struct pool_ctx *c = p;
    c->done(c->req, c->ud); /* after a cancel its answer is a no-op */
    fc__request_unref(c->req);
    free(c);
}

static void pool_work(void *p)
{
    struct pool_ctx *c = p;
    c->work(c->ud);
    if (fc__loop_post(c->req->loop, pool_done, c) != 0)
        pool_done(c);
}

int fc_pool_run(fc_request *req, void (*work)(void *), void (*done)(fc_request *, void *), void *ud)
{
    if (!req || !work || !done)
        return FC_EINVAL;
    struct pool_ctx *c = malloc(sizeof(*c));
    if (!c)
        return FC_ENOMEM;
    *c = (struct pool_ctx){req, work, done, ud};
    int rc = fc_request_defer(req, NULL, NULL);
    if (rc) {
        free(c);
        return rc;
    }
    fc__request_ref(req);
    rc = fc__pool_submit(req->app->pool, pool_work, c);
    if (rc) {
        fc__request_unref(req);
        free(c);
        pthread_mutex_lock(&req->mu);
        req->deferred = false;
        pthread_mutex_unlock(&req->mu);
        return rc;
    }
    return 0;
}

int fc_background(fc_request *req, void (*fn)(void *), void *ud)
{
    if (!req || !fn)
        return FC_EINVAL;
    struct fc__bgtask t = {fn, ud};
    pthread_mutex_lock(&req->mu);
    int rc = FC__VEC_PUSH(req->bg, t);
    pthread_mutex_unlock(&req->mu);
    return rc;
}

int fc_app_timer(fc_app *app, unsigned ms, void (*fn)(void *), void *ud)
{
    if (!app || !fn || !app->nloops)
        return FC_EINVAL;
    /* not tied to a connection: the first polling thread runs it */
    return fc__loop_timer(app->loops[0], ms, fn, ud) ? 0 : FC_ENOMEM;
}
