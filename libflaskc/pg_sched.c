/* pg_sched.c — a polling thread's jobs: accepted from the incoming list, queued, placed on a
 * connection, completed (callbacks); transactions; start and teardown; run by that thread only. */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

#define PG_WAIT_DOWN_MS 1000 /* a query waits at most this long while no connection is up */
#define PG_SWEEP_MS 100      /* how often the queue is checked while no connection is up */
#define PG_SLOW_HEAD_MS 20   /* a connection whose oldest query runs this long takes no more */

/* ---- transactions ---- */

void fc__pg_tx_unpin(fc_pg_tx *tx)
{
    if (tx->conn) {
        if (tx->conn->pinned == tx)
            tx->conn->pinned = NULL;
        tx->conn = NULL;
    }
}

static void tx_unlink_free(fc_pg_tx *tx)
{
    fc__pg_tx_unpin(tx);
    if (fc__list_linked(&tx->link))
        fc__list_remove(&tx->link);
    free(tx);
}

static void tx_abandon(fc_pg_tx *tx)
{
    pgt *pg = tx->pg;
    tx->req_gone = true;
    tx->req = NULL;
    if (tx->state == TX_OPEN && tx->conn && !pg->stopping) {
        /* the request ended inside its transaction (canceled, or answered
         * without COMMIT): roll back, then give the connection back */
        struct job *j = fc__pg_job_new(pg, NULL, K_RB_INTERNAL, "ROLLBACK", 0, NULL);
        if (j) {
            fc_log(FC_LOG_WARNING, "a request ended inside its transaction: rolled back");
            tx->state = TX_CLOSING;
            j->tx = tx;
            fc__pg_conn_send(tx->conn, j);
            return;
        }
        tx->conn->failed = true; /* closing it rolls back just as well */
    }
    if (tx->state != TX_CLOSING)
        tx_unlink_free(tx);
}

/* ---- completing jobs ---- */

static void job_free(struct job *j)
{
    free(j->done_msg);
    fc_request *req = j->req;
    PQclear(j->res);
    PQclear(j->err);
    free(j);
    if (req)
        fc__request_unref(req);
}

/* fc_pg_query_worker: the callback on a pool thread (the result and the
 * error strings r points into stay with the job until it returns). */
static void job_worker_run(void *ud)
{
    struct job *j = ud;
    j->cb(j->req, &j->done, j->ud);
    job_free(j);
}

/* Transaction bookkeeping, then the callback, then the job is gone. */
void fc__pg_job_end(struct job *j, fc_pg_result *r)
{
    fc_pg_tx *tx = j->tx;
    switch (j->kind) {
    case K_BEGIN:
        if (!r->err && tx->conn) {
            tx->state = TX_OPEN;
        } else {
            fc__pg_tx_unpin(tx);
            tx->state = TX_ENDED;
        }
        break;
    case K_COMMIT:
    case K_ROLLBACK:
        if (j->sent) {
            fc__pg_tx_unpin(tx);
            tx->state = TX_ENDED;
        }
        break;
    case K_RB_INTERNAL:
        tx_unlink_free(tx);
        tx = NULL;
        break;
    default:
        break;
    }
    fc_request *req = j->req;
    if (req && j->on_worker) {
        fc__pg_detach_cancel(req, j);
        /* not while stopping: the answer then comes from here, at once */
        j->done = *r;
        if (r->msg) {
            /* a lost connection's message lives on conn_close's stack */
            j->done_msg = strdup(r->msg);
            j->done.msg = j->done_msg ? j->done_msg : "out of memory";
        }
        if (!j->pg->stopping && req->app->pool &&
            fc__pool_submit(req->app->pool, job_worker_run, j) == 0)
            return;
        j->cb(req, r, j->ud);
        job_free(j);
        return;
    }
    if (req) {
        fc__pg_detach_cancel(req, j);
        if (j->kind == K_BEGIN)
            j->txcb(req, r->err ? NULL : tx, r, j->ud);
        else if (j->kind == K_TXQ)
            j->txcb(req, tx, r, j->ud);
        else
            j->cb(req, r, j->ud);
    }
    job_free(j);
}

void fc__pg_job_fail(struct job *j, int err, const char *msg, const char *sqlstate)
{
    fc_pg_result r = {NULL, err, msg, sqlstate};
    fc__pg_job_end(j, &r);
}

/* ---- the wait queue ---- */

static void queue_append(pgt *pg, struct job *j)
{
    j->state = S_QUEUED;
    fc__list_push_back(&pg->queue, &j->qlink);
    pg->nqueued++;
}

void fc__pg_queue_push_front(pgt *pg, struct job *j)
{
    j->state = S_QUEUED;
    fc__list_push_front(&pg->queue, &j->qlink);
    pg->nqueued++;
}

static void queue_unlink(pgt *pg, struct job *j)
{
    fc__list_remove(&j->qlink);
    pg->nqueued--;
}

/* The oldest waiting job, NULL when none waits. (The analyzer loses track of
 * the unlink through the embedded link and takes a job freed after
 * queue_unlink for the new head.) */
static struct job *queue_first(pgt *pg)
{
    if (fc__list_empty(&pg->queue))
        return NULL;
    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
    return FC__CONTAINER(pg->queue.next, struct job, qlink);
}

void fc__pg_queue_fail_all(pgt *pg, const char *msg, const char *sqlstate)
{
    struct job *j;
    while ((j = queue_first(pg)) != NULL) {
        queue_unlink(pg, j);
        fc__pg_job_fail(j, FC_EDBDOWN, msg, sqlstate);
    }
}

static void sweep_fire(void *ud);

static void sweep_arm(pgt *pg)
{
    if (!pg->sweep && !fc__list_empty(&pg->queue) && pg->nup == 0 && !pg->stopping)
        pg->sweep = fc__loop_timer(pg->loop, PG_SWEEP_MS, sweep_fire, pg);
}

/* While no connection is up, queries wait at most PG_WAIT_DOWN_MS (503 stays fast). */
static void sweep_fire(void *ud)
{
    pgt *pg = ud;
    pg->sweep = NULL;
    if (pg->nup == 0) {
        uint64_t now = fc__now_ms();
        struct job *j;
        FC__LIST_EACH(j, nx, &pg->queue, struct job, qlink) {
            if (now - j->queued_at >= PG_WAIT_DOWN_MS) {
                queue_unlink(pg, j);
                fc__pg_job_fail(j, FC_EDBDOWN, "no database connection available", "08001");
            }
        }
    }
    sweep_arm(pg);
    fc__pg_kick(pg);
}

/* ---- placing jobs on connections ---- */

/* Up, and free for new work with fewer than @p limit queries in flight. */
static bool conn_free(const struct pconn *pc, unsigned limit)
{
    return pc->state == C_UP && !pc->failed && !pc->pinned && !pc->reserved && pc->inflight < limit;
}

/* An up connection free for new work: least loaded, under @p limit in flight. */
static struct pconn *pick(pgt *pg, unsigned limit)
{
    struct pconn *best = NULL;
    for (unsigned i = 0; i < pg->npool; i++) {
        struct pconn *pc = &pg->conns[i];
        if (!conn_free(pc, limit))
            continue;
        if (!best || pc->inflight < best->inflight)
            best = pc;
    }
    return best;
}

/* Where a query goes: the first free connection whose oldest query is not
 * slow, so that one connection per thread carries the load, pipelined (one
 * write for the queries of a loop iteration, one backend woken), and the
 * others take over behind a slow query or a transaction. */
static struct pconn *pick_fill(pgt *pg)
{
    uint64_t now = 0;
    for (unsigned i = 0; i < pg->npool; i++) {
        struct pconn *pc = &pg->conns[i];
        if (!conn_free(pc, pg->depth))
            continue;
        if (pc->flight.head) {
            if (!now)
                now = fc__now_ms();
            if (now - pc->flight.head->sent_at >= PG_SLOW_HEAD_MS)
                continue;
        }
        return pc;
    }
    return pick(pg, pg->depth); /* all busy with slow ones: the least loaded */
}

static void tx_pin_send(struct pconn *pc, struct job *j)
{
    pc->reserved = NULL;
    pc->pinned = j->tx;
    j->tx->conn = pc;
    fc__pg_conn_send(pc, j);
}

/* Send (or reserve a connection for) a job now; false when it must wait. */
static bool job_place(pgt *pg, struct job *j)
{
    struct pconn *pc;
    if (j->kind == K_BEGIN) {
        if ((pc = pick(pg, 1)) != NULL) {
            tx_pin_send(pc, j);
            return true;
        }
        if ((pc = pick(pg, ~0u)) != NULL) {
            /* no idle connection: take the least loaded one once it drains */
            pc->reserved = j;
            j->conn = pc;
            j->state = S_RESERVED;
            return true;
        }
        return false;
    }
    /* the queries of one loop iteration share a connection and go out in
     * one write (pipelined); the next iteration picks the least loaded */
    if ((pc = pick_fill(pg)) == NULL)
        return false;
    fc__pg_conn_send(pc, j);
    return true;
}

static void dispatch(pgt *pg)
{
    for (unsigned i = 0; i < pg->npool; i++) {
        struct pconn *pc = &pg->conns[i];
        if (pc->reserved && pc->inflight == 0 && pc->state == C_UP && !pc->failed)
            tx_pin_send(pc, pc->reserved);
    }
    /* placed jobs leave the queue; the first that cannot be placed stays at its head */
    struct job *j;
    while ((j = queue_first(pg)) != NULL && job_place(pg, j))
        queue_unlink(pg, j);
}

/* After every loop entry: dispatch waiting jobs, flush what was sent, close
 * connections that failed meanwhile (which may requeue a reserved BEGIN). */
void fc__pg_kick(pgt *pg)
{
    if (pg->stopping)
        return;
    bool again = true;
    while (again) {
        again = false;
        dispatch(pg);
        for (unsigned i = 0; i < pg->npool; i++)
            if (fc__pg_conn_settle(&pg->conns[i]))
                again = true;
    }
    sweep_arm(pg);
}

/* ---- accepting jobs ---- */

static void job_accept(pgt *pg, struct job *j)
{
    if (j->kind == K_ABANDON) {
        tx_abandon(j->tx);
        return;
    }
    if (pg->stopping) {
        fc__pg_job_fail(j, FC_EDBDOWN, "the server is stopping", "57P01");
        return;
    }
    if (j->canceled) {
        fc__pg_job_fail(j, FC_ETIMEDOUT, "the request was canceled before the query was sent",
                        "57014");
        return;
    }
    if (j->kind == K_QUERY || j->kind == K_BEGIN) {
        if (j->kind == K_BEGIN) {
            fc_pg_tx *tx = j->tx;
            fc__list_push_front(&pg->txs, &tx->link);
        }
        if (fc__list_empty(&pg->queue) && job_place(pg, j))
            return;
        if (pg->nup == 0 && pg->db_down) {
            fc__pg_job_fail(j, FC_EDBDOWN, "database unavailable", "08001");
            return;
        }
        if (pg->nqueued >= pg->queue_max) {
            fc__pg_job_fail(j, FC_EDBDOWN, "too many queries waiting for a database connection",
                            "53000");
            return;
        }
        j->queued_at = fc__now_ms();
        queue_append(pg, j);
        return;
    }
    fc_pg_tx *tx = j->tx;
    if (tx->state != TX_OPEN || !tx->conn) {
        if (tx->broken)
            fc__pg_job_fail(j, FC_EDBDOWN, "the transaction's database connection was lost",
                            "08006");
        else
            fc__pg_job_fail(j, FC_EDB, "the transaction is not open", "25000");
        return;
    }
    if (j->kind != K_TXQ)
        tx->state = TX_CLOSING;
    fc__pg_conn_send(tx->conn, j);
}

static bool incoming_take(pgt *pg, struct job **list)
{
    pthread_mutex_lock(&pg->in_mu);
    FC__FIFO_TAKE(&pg->in, *list);
    pg->in_posted = false;
    atomic_store_explicit(&pg->in_pending, false, memory_order_relaxed);
    pthread_mutex_unlock(&pg->in_mu);
    return *list != NULL;
}

/* Accept what the incoming list holds; false when it was empty. */
static bool incoming_accept(pgt *pg)
{
    struct job *list;
    if (!incoming_take(pg, &list))
        return false;
    while (list) {
        struct job *j = list;
        list = j->next;
        j->next = NULL;
        job_accept(pg, j);
    }
    return true;
}

static void incoming_drain(pgt *pg)
{
    if (incoming_accept(pg))
        fc__pg_kick(pg);
}

void fc__pg_incoming_drain(void *ud)
{
    pgt *pg = ud;
    pthread_mutex_lock(&pg->in_mu);
    pg->in_node_queued = false; /* the node may be posted again */
    pthread_mutex_unlock(&pg->in_mu);
    incoming_drain(pg);
}

/* The loop's idle hook: accept what this thread's handlers submitted. */
int fc__pg_idle(void *ud)
{
    pgt *pg = ud;
    if (atomic_load_explicit(&pg->in_pending, memory_order_relaxed))
        incoming_drain(pg);
    return -1;
}

/* Runs on the loop thread when the request is canceled (deadline, client
 * gone, shutdown). A job that has not been sent is answered now with
 * FC_ETIMEDOUT; one in flight gets its real result later (the callback still
 * runs; its answer is then a no-op). */
void fc__pg_job_cancel(fc_request *req, void *ud)
{
    struct job *j = ud;
    pgt *pg = j->pg;
    (void)req;
    j->canceled = true;
    switch (j->state) {
    case S_INCOMING:
        incoming_drain(pg); /* also covers a drain post that failed */
        return;
    case S_QUEUED:
        queue_unlink(pg, j);
        break;
    case S_RESERVED:
        j->conn->reserved = NULL;
        j->conn = NULL;
        break;
    default:
        return;
    }
    fc__pg_job_fail(j, FC_ETIMEDOUT, "the request was canceled while its query waited", "57014");
    fc__pg_kick(pg);
}

/* ---- start and stop ---- */

void fc__pg_start_all(void *ud)
{
    pgt *pg = ud;
    for (unsigned i = 0; i < pg->npool; i++)
        fc__pg_conn_connect(&pg->conns[i]);
    fc__pg_kick(pg);
}

void fc__pg_teardown(void *ud)
{
    pgt *pg = ud;
    struct job *list;
    pg->stopping = true;
    fc__pg_timer_stop(pg, &pg->sweep);
    do {
        /* callbacks run from here may end requests, whose open transactions
         * push their abandon nodes: loop until nothing is left */
        while (incoming_accept(pg))
            ;
        fc__pg_queue_fail_all(pg, "the server is stopping", "57P01");
        for (unsigned i = 0; i < pg->npool; i++)
            fc__pg_conn_stop(&pg->conns[i]);
        pthread_mutex_lock(&pg->in_mu);
        list = pg->in.head;
        if (!list)
            pg->closed = true;
        pthread_mutex_unlock(&pg->in_mu);
    } while (list);
    fc_pg_tx *tx;
    FC__LIST_EACH(tx, nx, &pg->txs, fc_pg_tx, link) {
        fc__list_remove(&tx->link);
        if (tx->req_gone) {
            tx_unlink_free(tx);
            continue;
        }
        /* its request is still alive (it must not be at this point):
         * leave the tx to the request's cleanup rather than free it */
        fc_log(FC_LOG_WARNING, "a database transaction outlives the app's database pool");
    }
    fc__loop_off_idle(pg->loop, fc__pg_idle, pg);
    pthread_mutex_lock(&pg->top->mu);
    pg->stop_done = true;
    pthread_cond_broadcast(&pg->top->cv);
    pthread_mutex_unlock(&pg->top->mu);
}
