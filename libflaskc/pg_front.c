/* pg_front.c — the pool's front: fc_pg_query, fc_pg_begin, fc_pg_tx_*, jobs and the incoming
 * list (any thread); the pool's start and stop (the thread that starts and stops the app). */
#include "pg_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_START_WAIT_MS 5000 /* fc__pg_start waits this long for a first connection */

/* ---- jobs ---- */

/* One allocation: the job, then the parameter pointers, the SQL, the parameters. */
struct job *fc__pg_job_new(pgt *pg, fc_request *req, int kind, const char *sql, int nparams,
                           const char *const *params)
{
    size_t sl = strlen(sql) + 1, plen = 0;
    for (int i = 0; i < nparams; i++)
        if (params[i])
            plen += strlen(params[i]) + 1;
    size_t total = sizeof(struct job) + (size_t)nparams * sizeof(char *) + sl + plen;
    struct job *j = calloc(1, total);
    if (!j)
        return NULL;
    char *p = (char *)(j + 1);
    j->params = (char **)p;
    p += (size_t)nparams * sizeof(char *);
    j->sql = p;
    memcpy(p, sql, sl);
    p += sl;
    for (int i = 0; i < nparams; i++) {
        if (!params[i]) {
            j->params[i] = NULL;
            continue;
        }
        size_t l = strlen(params[i]) + 1;
        memcpy(p, params[i], l);
        j->params[i] = p;
        p += l;
    }
    j->nparams = nparams;
    j->pg = pg;
    j->req = req;
    j->kind = kind;
    j->state = S_INCOMING;
    return j;
}

/* ---- the incoming list ---- */

/* Any thread. On the owning thread the job is only listed: the idle hook
 * accepts it before the loop waits (a callback never runs inside the call
 * that submitted its query). */
static int incoming_push(pgt *pg, struct job *j, bool internal)
{
    bool post = false, here = fc__loop_is_current(pg->loop);
    pthread_mutex_lock(&pg->in_mu);
    if (pg->closed && !internal) {
        pthread_mutex_unlock(&pg->in_mu);
        return FC_ECANCELED;
    }
    FC__FIFO_PUSH(&pg->in, j);
    atomic_store_explicit(&pg->in_pending, true, memory_order_relaxed);
    if (!here && !pg->in_posted && !pg->in_node_queued)
        post = pg->in_posted = pg->in_node_queued = true;
    pthread_mutex_unlock(&pg->in_mu);
    if (here)
        fc__loop_poke(pg->loop);
    if (post && fc__loop_post_node(pg->loop, &pg->in_post, fc__pg_incoming_drain, pg) != 0) {
        /* stopping: the job stays listed; the teardown drains it */
        pthread_mutex_lock(&pg->in_mu);
        pg->in_posted = pg->in_node_queued = false;
        pthread_mutex_unlock(&pg->in_mu);
    }
    return 0;
}

/* ---- requests: submit ---- */

/* Under req->mu. */
static void detach_cancel_locked(fc_request *req, const struct job *j)
{
    if (req->cancel_fn == fc__pg_job_cancel && req->cancel_ud == j) {
        req->cancel_fn = NULL;
        req->cancel_ud = NULL;
    }
}

void fc__pg_detach_cancel(fc_request *req, struct job *j)
{
    pthread_mutex_lock(&req->mu);
    detach_cancel_locked(req, j);
    pthread_mutex_unlock(&req->mu);
}

static int job_submit(struct job *j)
{
    fc_request *req = j->req;
    pgt *pg = j->pg;
    pthread_mutex_lock(&req->mu);
    bool was_deferred = req->deferred;
    pthread_mutex_unlock(&req->mu);
    fc__request_ref(req);
    int rc = fc_request_defer(req, fc__pg_job_cancel, j);
    if (rc == 0) {
        rc = incoming_push(pg, j, false);
        if (rc) {
            pthread_mutex_lock(&req->mu);
            detach_cancel_locked(req, j);
            if (!was_deferred)
                req->deferred = false;
            pthread_mutex_unlock(&req->mu);
        }
    }
    if (rc) {
        free(j);
        fc__request_unref(req); /* the caller still holds the request */
    }
    return rc;
}

bool fc__pg_args_ok(const char *sql, int nparams, const char *const *params)
{
    return sql && nparams >= 0 && nparams <= 65535 && (nparams == 0 || params);
}

/* The part of the pool that belongs to the request's thread. */
static pgt *part(fc_request *req)
{
    fc__pg *top = req->app->pg;
    return top->t[fc__loop_index(req->loop) % top->n];
}

static int query_submit(fc_request *req, const char *sql, int nparams, const char *const *params,
                        fc_pg_cb cb, void *ud, bool on_worker)
{
    if (!req || !cb || !fc__pg_args_ok(sql, nparams, params) || !req->app->pg || !req->loop)
        return FC_EINVAL;
    struct job *j = fc__pg_job_new(part(req), req, K_QUERY, sql, nparams, params);
    if (!j)
        return FC_ENOMEM;
    j->cb = cb;
    j->ud = ud;
    j->on_worker = on_worker;
    return job_submit(j);
}

int fc_pg_query(fc_request *req, const char *sql, int nparams, const char *const *params,
                fc_pg_cb cb, void *ud)
{
    return query_submit(req, sql, nparams, params, cb, ud, false);
}

int fc_pg_query_worker(fc_request *req, const char *sql, int nparams, const char *const *params,
                       fc_pg_cb cb, void *ud)
{
    return query_submit(req, sql, nparams, params, cb, ud, true);
}

static void tx_req_gone(void *p)
{
    fc_pg_tx *tx = p;
    incoming_push(tx->pg, &tx->abandon, true);
}

int fc_pg_begin(fc_request *req, fc_pg_tx_cb cb, void *ud)
{
    if (!req || !cb || !req->app->pg || !req->loop)
        return FC_EINVAL;
    pgt *pg = part(req);
    fc_pg_tx *tx = calloc(1, sizeof(*tx));
    struct job *j = fc__pg_job_new(pg, req, K_BEGIN, "BEGIN", 0, NULL);
    if (!tx || !j)
        goto oom;
    tx->pg = pg;
    tx->req = req;
    tx->state = TX_BEGINNING;
    tx->abandon.kind = K_ABANDON;
    tx->abandon.pg = pg;
    tx->abandon.tx = tx;
    /* the tx lives until the request's memory goes: then an open tx is
     * rolled back and freed on the loop */
    if (fc_request_on_cleanup(req, tx_req_gone, tx) != 0)
        goto oom;
    j->tx = tx;
    j->txcb = cb;
    j->ud = ud;
    return job_submit(j);
oom:
    free(tx);
    free(j);
    return FC_ENOMEM;
}

static int tx_submit(fc_pg_tx *tx, int kind, const char *sql, int nparams,
                     const char *const *params, fc_pg_cb cb, fc_pg_tx_cb txcb, void *ud)
{
    if (!tx || tx->req_gone || !tx->req || (!cb && !txcb) || !fc__pg_args_ok(sql, nparams, params))
        return FC_EINVAL;
    struct job *j = fc__pg_job_new(tx->pg, tx->req, kind, sql, nparams, params);
    if (!j)
        return FC_ENOMEM;
    j->tx = tx;
    j->cb = cb;
    j->txcb = txcb;
    j->ud = ud;
    return job_submit(j);
}

int fc_pg_tx_query(fc_pg_tx *tx, const char *sql, int nparams, const char *const *params,
                   fc_pg_tx_cb cb, void *ud)
{
    return cb ? tx_submit(tx, K_TXQ, sql, nparams, params, NULL, cb, ud) : FC_EINVAL;
}

int fc_pg_tx_commit(fc_pg_tx *tx, fc_pg_cb cb, void *ud)
{
    return cb ? tx_submit(tx, K_COMMIT, "COMMIT", 0, NULL, cb, NULL, ud) : FC_EINVAL;
}

int fc_pg_tx_rollback(fc_pg_tx *tx, fc_pg_cb cb, void *ud)
{
    return cb ? tx_submit(tx, K_ROLLBACK, "ROLLBACK", 0, NULL, cb, NULL, ud) : FC_EINVAL;
}

/* ---- start and stop ---- */

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

struct timespec fc__pg_mono_in(uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* A conninfo string or URI is checked once, so a typo fails the start
 * instead of retrying forever; a bare database name is left to libpq. */
static int check_url(const char *url)
{
    if (!strchr(url, '=') && strncmp(url, "postgresql://", 13) != 0 &&
        strncmp(url, "postgres://", 11) != 0)
        return 0;
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(url, &err);
    if (!o) {
        char buf[256];
        fc_log(FC_LOG_ERROR, "invalid database URL: %s",
               fc__pg_msg_line(buf, sizeof(buf), err ? err : "out of memory"));
        PQfreemem(err);
        return err ? FC_EINVAL : FC_ENOMEM;
    }
    PQconninfoFree(o);
    return 0;
}

static void part_free(pgt *pg)
{
    pthread_mutex_destroy(&pg->in_mu);
    free(pg->conns);
    free(pg);
}

static void pg_free(fc__pg *top)
{
    for (unsigned i = 0; top->t && i < top->n; i++)
        if (top->t[i])
            part_free(top->t[i]);
    free(top->t);
    fc__pg_hosts_free(top->hosts);
    pthread_mutex_destroy(&top->mu);
    pthread_cond_destroy(&top->cv);
    pthread_mutex_destroy(&top->bmu);
    pthread_cond_destroy(&top->bcv);
    free(top);
}

/* Thread i's part: its share of FLASKC_DB_POOL (at least one connection). */
static pgt *part_new(fc__pg *top, unsigned i)
{
    fc_app *app = top->app;
    pgt *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return NULL;
    pg->npool = top->npool / top->n + (i < top->npool % top->n);
    if (pg->npool == 0)
        pg->npool = 1;
    pg->conns = calloc(pg->npool, sizeof(*pg->conns));
    if (!pg->conns) {
        free(pg);
        return NULL;
    }
    pg->top = top;
    pg->app = app;
    pg->loop = app->loops[i];
    pg->url = app->cfg.database_url;
    pg->queue_max = app->cfg.db_queue;
    pg->depth = app->cfg.db_pipeline ? app->cfg.db_pipeline : 1;
    atomic_init(&pg->in_pending, false);
    fc__list_init(&pg->queue);
    fc__list_init(&pg->txs);
    for (unsigned k = 0; k < pg->npool; k++) {
        pg->conns[k].pg = pg;
        pg->conns[k].idx = k;
    }
    pthread_mutex_init(&pg->in_mu, NULL);
    return pg;
}

int fc__pg_start(fc_app *app)
{
    int rc = check_url(app->cfg.database_url);
    if (rc)
        return rc;
    fc__pg *top = calloc(1, sizeof(*top));
    if (!top)
        return FC_ENOMEM;
    top->app = app;
    top->url = app->cfg.database_url;
    if (fc__pg_hosts_new(top->url, &top->hosts) != 0) {
        free(top);
        return FC_ENOMEM;
    }
    top->npool = app->cfg.db_pool ? app->cfg.db_pool : 1;
    top->n = app->nloops;
    pthread_mutex_init(&top->mu, NULL);
    cond_init_mono(&top->cv);
    pthread_mutex_init(&top->bmu, NULL);
    cond_init_mono(&top->bcv);
    top->t = calloc(top->n, sizeof(*top->t));
    if (!top->t)
        goto oom;
    if (top->npool < 2 * top->n)
        /* a transaction pins its connection: with one per thread, the
         * thread's other queries wait for its COMMIT */
        fc_log(FC_LOG_WARNING, "%s: FLASKC_DB_POOL=%u gives some of the %u polling threads a single "
               "database connection (at least one each): while a transaction is open there, that "
               "thread's other queries wait; 2 per thread or more avoids it",
               app->name, top->npool, top->n);
    for (unsigned i = 0; i < top->n; i++)
        if (!(top->t[i] = part_new(top, i)))
            goto oom;
    /* before the loops run: the hooks go in, the connects wait in the queues */
    for (unsigned i = 0; i < top->n; i++)
        if (fc__loop_on_idle(top->t[i]->loop, 1, fc__pg_idle, top->t[i]) != 0 ||
            fc__loop_post_node(top->t[i]->loop, &top->t[i]->start_post, fc__pg_start_all, top->t[i]) != 0) {
            for (unsigned k = 0; k <= i; k++)
                fc__loop_off_idle(top->t[k]->loop, fc__pg_idle, top->t[k]);
            goto oom;
        }
    app->pg = top;
    return 0;
oom:
    pg_free(top);
    return FC_ENOMEM;
}

void fc__pg_wait_first(fc_app *app)
{
    fc__pg *top = app->pg;
    /* wait for one connection, or for every one to have failed once */
    struct timespec dl = fc__pg_mono_in(PG_START_WAIT_MS);
    pthread_mutex_lock(&top->mu);
    for (;;) {
        unsigned up = 0, att = 0, total = 0;
        for (unsigned i = 0; i < top->n; i++) {
            up += top->t[i]->pub_up;
            att += top->t[i]->pub_attempted;
            total += top->t[i]->npool;
        }
        if (up > 0) {
            pthread_mutex_unlock(&top->mu);
            return;
        }
        if (att >= total || pthread_cond_timedwait(&top->cv, &top->mu, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&top->mu);
    fc_log(FC_LOG_WARNING, "%s: no database connection yet; queries answer 503 until the "
           "database is reachable (retrying in the background)", app->name);
}

void fc__pg_stop(fc_app *app)
{
    fc__pg *top = app->pg;
    if (!top)
        return;
    for (unsigned i = 0; i < top->n; i++) {
        pgt *pg = top->t[i];
        pthread_mutex_lock(&pg->in_mu);
        pg->closed = true; /* new queries get FC_ECANCELED */
        pthread_mutex_unlock(&pg->in_mu);
        if (!fc__loop_started(pg->loop) || fc__loop_post_node(pg->loop, &pg->stop_post, fc__pg_teardown, pg) != 0)
            fc__pg_teardown(pg); /* no thread runs it: nothing runs concurrently */
    }
    pthread_mutex_lock(&top->mu);
    for (unsigned i = 0; i < top->n; i++)
        while (!top->t[i]->stop_done)
            pthread_cond_wait(&top->cv, &top->mu);
    pthread_mutex_unlock(&top->mu);
    fc__pg_blocking_close(top);
    app->pg = NULL;
    pg_free(top);
}
