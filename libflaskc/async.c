/* async.c — ways to answer later, built on life.c's defer: timers
 * (fc_after, fc_app_timer), work on the pool (fc_pool_run), and background
 * tasks after the answer (fc_background). */
#include "internal.h"

#include <stdlib.h>

/* ---- fc_after ----
 * The timer is armed, fired and canceled on the loop thread only, so the
 * three never race: the cancel callback also runs there. */
struct after_ctx {
    fc__post post;
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

static void after_cancel(fc_request *req, void *p);

static void after_fire(void *p)
{
    struct after_ctx *c = p;
    fc_request *req = c->req;
    c->timer = NULL;
    pthread_mutex_lock(&req->mu);
    bool answered = req->answered;
    /* c is freed below: a later cancel (fn may hand the answer to another
     * thread) must not find it */
    if (req->cancel_fn == after_cancel && req->cancel_ud == c) {
        req->cancel_fn = NULL;
        req->cancel_ud = NULL;
    }
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
        fc__life_cancel(c->req, 500, "out of memory arming a timer");
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
    rc = fc__loop_post_node(req->loop, &c->post, after_arm, c);
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
    fc__post post;
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
    if (fc__loop_post_node(c->req->loop, &c->post, pool_done, c) != 0)
        pool_done(c); /* the loop is gone (the stop): answer from here */
}

int fc_pool_run(fc_request *req, void (*work)(void *), void (*done)(fc_request *, void *), void *ud)
{
    if (!req || !work || !done)
        return FC_EINVAL;
    struct pool_ctx *c = malloc(sizeof(*c));
    if (!c)
        return FC_ENOMEM;
    *c = (struct pool_ctx){.req = req, .work = work, .done = done, .ud = ud};
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
