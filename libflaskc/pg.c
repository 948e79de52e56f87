/* pg.c — the PostgreSQL pool: pipelined async queries on the polling threads, wait queue,
 * reconnects, transactions (the blocking pool: pg_sync.c; results: pg_result.c). */
#include "pg_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_STMT_MAX 512          /* prepared statements per connection (then unnamed) */
#define PG_WAIT_DOWN_MS 1000     /* a query waits at most this long while no connection is up */
#define PG_SWEEP_MS 100          /* how often the queue is checked while no connection is up */
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 2000
#define PG_STABLE_MS 1000        /* a connection up this long reconnects at once when lost */
#define PG_CONNECT_TIMEOUT_MS 5000
#define PG_START_WAIT_MS 5000    /* fc__pg_start waits this long for a first connection */
#define PG_SLOW_HEAD_MS 20       /* a connection whose oldest query runs this long takes no more */

struct stmt {
    struct stmt *next;
    uint32_t hash;
    char name[16];
    char sql[];
};

static void pg_kick(pgt *pg);
static void stmt_drop(struct pconn *pc, const char *sql, const char *name);
static void conn_connect(struct pconn *pc);
static void conn_lost(struct pconn *pc, const char *why);
static void incoming_drain(void *ud);

/* ---- small helpers ---- */

/* The first line of a libpq message, without trailing blanks, into buf. */
const char *fc__pg_msg_line(char *buf, size_t cap, const char *msg)
{
    if (!msg || !*msg)
        msg = "connection to the database lost";
    size_t n = strcspn(msg, "\n");
    while (n && (msg[n - 1] == ' ' || msg[n - 1] == '\r' || msg[n - 1] == '\t'))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, msg, n);
    buf[n] = '\0';
    return buf;
}

/* Cancel a timer of this thread if it is pending; from its own callback the
 * loop frees it when the callback returns. Either way it is no longer ours. */
static void timer_stop(pgt *pg, fc__timer **t)
{
    if (*t)
        (void)fc__loop_timer_cancel(pg->loop, *t);
    *t = NULL;
}

static uint32_t str_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void start_signal(pgt *pg)
{
    unsigned att = 0;
    for (unsigned i = 0; i < pg->npool; i++)
        att += pg->conns[i].attempted;
    pthread_mutex_lock(&pg->top->mu);
    pg->pub_up = pg->nup;
    pg->pub_attempted = att;
    pthread_cond_broadcast(&pg->top->cv);
    pthread_mutex_unlock(&pg->top->mu);
}

/* ---- jobs ---- */

/* One allocation: the job, then the parameter pointers, the SQL, the parameters. */
static struct job *job_new(pgt *pg, fc_request *req, int kind, const char *sql, int nparams,
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

static void tx_unpin(fc_pg_tx *tx)
{
    if (tx->conn) {
        if (tx->conn->pinned == tx)
            tx->conn->pinned = NULL;
        tx->conn = NULL;
    }
}

static void tx_unlink_free(fc_pg_tx *tx)
{
    pgt *pg = tx->pg;
    tx_unpin(tx);
    if (tx->linked) {
        if (tx->prev)
            tx->prev->next = tx->next;
        else
            pg->txs = tx->next;
        if (tx->next)
            tx->next->prev = tx->prev;
    }
    free(tx);
}

/* The request no longer points at this job: a later cancel must not find it. */
static void detach_cancel(fc_request *req, struct job *j);

static void job_free(struct job *j)
{
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
static void job_end(struct job *j, fc_pg_result *r)
{
    fc_pg_tx *tx = j->tx;
    switch (j->kind) {
    case K_BEGIN:
        if (!r->err && tx->conn) {
            tx->state = TX_OPEN;
        } else {
            tx_unpin(tx);
            tx->state = TX_ENDED;
        }
        break;
    case K_COMMIT:
    case K_ROLLBACK:
        if (j->sent) {
            tx_unpin(tx);
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
        detach_cancel(req, j);
        /* not while stopping: the answer then comes from here, at once */
        j->done = *r;
        if (!j->pg->stopping && req->app->pool && fc__pool_submit(req->app->pool, job_worker_run, j) == 0)
            return;
        j->cb(req, r, j->ud);
        job_free(j);
        return;
    }
    if (req) {
        detach_cancel(req, j);
        if (j->kind == K_BEGIN)
            j->txcb(req, r->err ? NULL : tx, r, j->ud);
        else if (j->kind == K_TXQ)
            j->txcb(req, tx, r, j->ud);
        else
            j->cb(req, r, j->ud);
    }
    job_free(j);
}

static void job_fail(struct job *j, int err, const char *msg, const char *sqlstate)
{
    fc_pg_result r = {NULL, err, msg, sqlstate};
    job_end(j, &r);
}

/* The job's Sync arrived: report what its statement did. */
static void job_complete(struct pconn *pc, struct job *j)
{
    fc_pg_result r = {0};
    if (j->err) {
        r.sqlstate = PQresultErrorField(j->err, PG_DIAG_SQLSTATE);
        r.msg = PQresultErrorField(j->err, PG_DIAG_MESSAGE_PRIMARY);
        if (!r.msg)
            r.msg = PQresultErrorMessage(j->err);
        r.err = r.sqlstate ? FC_EDB : FC_EDBDOWN;
        if (!r.sqlstate)
            r.sqlstate = "08006";
        /* a plan whose result type changed (ALTER TABLE): prepare it again next time */
        if (!strcmp(r.sqlstate, "0A000") && j->stmt_name[0])
            stmt_drop(pc, j->sql, j->stmt_name);
    } else if (j->aborted || !j->res) {
        r.err = FC_EDB;
        r.msg = "the statement was not executed (pipeline aborted)";
        r.sqlstate = "25P02";
    } else {
        r.res = j->res;
        if (j->kind == K_COMMIT && !strcmp(PQcmdStatus(j->res), "ROLLBACK")) {
            /* COMMIT of a transaction in which a statement failed */
            r.err = FC_EDB;
            r.msg = "the transaction was rolled back because a statement in it failed";
            r.sqlstate = "25P02";
        }
    }
    job_end(j, &r);
}

/* ---- the prepared-statement cache (per connection) ---- */

static struct stmt *stmt_get(struct pconn *pc, const char *sql, bool *fresh)
{
    uint32_t h = str_hash(sql);
    struct stmt **b = &pc->stmts[h % PG_STMT_BUCKETS];
    *fresh = false;
    for (struct stmt *s = *b; s; s = s->next)
        if (s->hash == h && !strcmp(s->sql, sql))
            return s;
    if (pc->nstmts >= PG_STMT_MAX)
        return NULL; /* dynamic SQL: unnamed statements from here on */
    size_t l = strlen(sql) + 1;
    struct stmt *s = malloc(sizeof(*s) + l);
    if (!s)
        return NULL;
    s->hash = h;
    snprintf(s->name, sizeof(s->name), "s%u", pc->next_stmt++);
    memcpy(s->sql, sql, l);
    s->next = *b;
    *b = s;
    pc->nstmts++;
    *fresh = true;
    return s;
}

static void stmt_drop(struct pconn *pc, const char *sql, const char *name)
{
    struct stmt **pp = &pc->stmts[str_hash(sql) % PG_STMT_BUCKETS];
    for (; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->name, name)) {
            struct stmt *s = *pp;
            *pp = s->next;
            free(s);
            pc->nstmts--;
            return;
        }
}

static void stmt_clear(struct pconn *pc)
{
    for (unsigned i = 0; i < PG_STMT_BUCKETS; i++) {
        struct stmt *s = pc->stmts[i];
        while (s) {
            struct stmt *n = s->next;
            free(s);
            s = n;
        }
        pc->stmts[i] = NULL;
    }
    pc->nstmts = 0;
}

/* ---- the wait queue ---- */

static void queue_append(pgt *pg, struct job *j)
{
    j->state = S_QUEUED;
    j->next = NULL;
    j->prev = pg->qtail;
    if (pg->qtail)
        pg->qtail->next = j;
    else
        pg->qhead = j;
    pg->qtail = j;
    pg->nqueued++;
}

static void queue_push_front(pgt *pg, struct job *j)
{
    j->state = S_QUEUED;
    j->prev = NULL;
    j->next = pg->qhead;
    if (pg->qhead)
        pg->qhead->prev = j;
    else
        pg->qtail = j;
    pg->qhead = j;
    pg->nqueued++;
}

static void queue_unlink(pgt *pg, struct job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        pg->qhead = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        pg->qtail = j->prev;
    j->next = j->prev = NULL;
    pg->nqueued--;
}

static void queue_fail_all(pgt *pg, const char *msg, const char *sqlstate)
{
    while (pg->qhead) {
        struct job *j = pg->qhead;
        queue_unlink(pg, j);
        job_fail(j, FC_EDBDOWN, msg, sqlstate);
    }
}

static void sweep_fire(void *ud);

static void sweep_arm(pgt *pg)
{
    if (!pg->sweep && pg->qhead && pg->nup == 0 && !pg->stopping)
        pg->sweep = fc__loop_timer(pg->loop, PG_SWEEP_MS, sweep_fire, pg);
}

/* While no connection is up, queries wait at most PG_WAIT_DOWN_MS (503 stays fast). */
static void sweep_fire(void *ud)
{
    pgt *pg = ud;
    pg->sweep = NULL;
    if (pg->nup == 0) {
        uint64_t now = fc__now_ms();
        struct job *j = pg->qhead;
        while (j) {
            struct job *n = j->next;
            if (now - j->queued_at >= PG_WAIT_DOWN_MS) {
                queue_unlink(pg, j);
                job_fail(j, FC_EDBDOWN, "no database connection available", "08001");
            }
            j = n;
        }
    }
    sweep_arm(pg);
    pg_kick(pg);
}

/* ---- sending ---- */

static bool is_plain_command(int kind)
{
    return kind == K_BEGIN || kind == K_COMMIT || kind == K_ROLLBACK || kind == K_RB_INTERNAL;
}

/* Queue [Parse] + Bind/Execute + Sync on the connection. A failure marks the
 * connection failed; pg_kick closes it, which fails this job too. */
static void conn_send(struct pconn *pc, struct job *j)
{
    PGconn *c = pc->conn;
    const char *const *params = (const char *const *)j->params;
    int ok = 1;
    j->conn = pc;
    j->state = S_INFLIGHT;
    j->sent = true;
    j->sent_at = fc__now_ms();
    j->next = NULL;
    if (pc->tail)
        pc->tail->next = j;
    else
        pc->head = j;
    pc->tail = j;
    pc->inflight++;
    pc->dirty = true;
    if (pc->failed || !c)
        return;
    if (is_plain_command(j->kind)) {
        ok = PQsendQueryParams(c, j->sql, 0, NULL, NULL, NULL, NULL, 0);
    } else {
        bool fresh = false;
        struct stmt *s = stmt_get(pc, j->sql, &fresh);
        if (s && fresh) {
            ok = PQsendPrepare(c, s->name, j->sql, 0, NULL);
            j->prep_pending = true;
        }
        if (s) {
            memcpy(j->stmt_name, s->name, sizeof(j->stmt_name));
            ok = ok && PQsendQueryPrepared(c, s->name, j->nparams, params, NULL, NULL, 0);
        } else {
            ok = PQsendQueryParams(c, j->sql, j->nparams, NULL, params, NULL, NULL, 0);
        }
    }
    ok = ok && PQpipelineSync(c);
    if (!ok)
        pc->failed = true;
}

static void conn_set_events(struct pconn *pc, unsigned ev)
{
    if (pc->watch && pc->events != ev && fc__loop_watch_modify(pc->pg->loop, pc->watch, ev) == 0)
        pc->events = ev;
}

static void conn_flush(struct pconn *pc)
{
    int r = PQflush(pc->conn);
    if (r < 0) {
        pc->failed = true;
        return;
    }
    pc->want_write = r == 1;
    conn_set_events(pc, FC__EV_READ | (pc->want_write ? FC__EV_WRITE : 0));
}

/* Up, and free for new work with fewer than @p limit queries in flight. */
static bool conn_free(const struct pconn *pc, unsigned limit)
{
    return pc->state == C_UP && !pc->failed && !pc->pinned && !pc->reserved &&
           pc->inflight < limit;
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
        if (pc->head) {
            if (!now)
                now = fc__now_ms();
            if (now - pc->head->sent_at >= PG_SLOW_HEAD_MS)
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
    conn_send(pc, j);
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
    conn_send(pc, j);
    return true;
}

static void dispatch(pgt *pg)
{
    for (unsigned i = 0; i < pg->npool; i++) {
        struct pconn *pc = &pg->conns[i];
        if (pc->reserved && pc->inflight == 0 && pc->state == C_UP && !pc->failed)
            tx_pin_send(pc, pc->reserved);
    }
    while (pg->qhead) {
        struct job *j = pg->qhead;
        queue_unlink(pg, j);
        if (!job_place(pg, j)) {
            queue_push_front(pg, j);
            break;
        }
    }
}

/* After every loop entry: dispatch waiting jobs, flush what was sent, close
 * connections that failed meanwhile (which may requeue a reserved BEGIN). */
static void pg_kick(pgt *pg)
{
    if (pg->stopping)
        return;
    bool again = true;
    while (again) {
        again = false;
        dispatch(pg);
        for (unsigned i = 0; i < pg->npool; i++) {
            struct pconn *pc = &pg->conns[i];
            if (pc->state != C_UP)
                continue;
            if (pc->dirty && !pc->failed) {
                pc->dirty = false;
                conn_flush(pc);
            }
            if (pc->failed) {
                conn_lost(pc, PQerrorMessage(pc->conn));
                again = true;
            }
        }
    }
    sweep_arm(pg);
}

/* ---- receiving ---- */

static void job_result(struct pconn *pc, struct job *j, PGresult *r)
{
    switch (PQresultStatus(r)) {
    case PGRES_PIPELINE_SYNC:
        PQclear(r);
        pc->head = j->next;
        if (!pc->head)
            pc->tail = NULL;
        pc->inflight--;
        j->next = NULL;
        job_complete(pc, j);
        return;
    case PGRES_PIPELINE_ABORTED:
        j->aborted = true;
        PQclear(r);
        return;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
        /* COPY cannot run in pipeline mode: drop the connection */
        PQclear(r);
        pc->failed = true;
        return;
    case PGRES_FATAL_ERROR:
    case PGRES_NONFATAL_ERROR:
    case PGRES_BAD_RESPONSE:
        if (j->prep_pending) {
            j->prep_pending = false;
            stmt_drop(pc, j->sql, j->stmt_name);
        }
        if (!j->err)
            j->err = r;
        else
            PQclear(r);
        return;
    default:
        if (j->prep_pending) {
            j->prep_pending = false; /* the Parse went through */
            PQclear(r);
            return;
        }
        PQclear(j->res);
        j->res = r;
        return;
    }
}

static void conn_input(struct pconn *pc)
{
    PGconn *c = pc->conn;
    if (!PQconsumeInput(c)) {
        pc->failed = true;
        return;
    }
    int nulls = 0;
    while (pc->head && !pc->failed && PQstatus(c) != CONNECTION_BAD && !PQisBusy(c)) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (++nulls > 1)
                break;
            continue;
        }
        nulls = 0;
        job_result(pc, pc->head, r);
    }
    if (PQstatus(c) == CONNECTION_BAD)
        pc->failed = true;
}

/* ---- connection life cycle ---- */

static void conn_unwatch(struct pconn *pc)
{
    if (pc->watch)
        fc__loop_unwatch(pc->pg->loop, pc->watch);
    pc->watch = NULL;
    pc->events = 0;
}

static void conn_event(int fd, unsigned rev, void *ud);

/* The socket can change at every connect step (multi-host, SSL retry). */
static bool conn_rewatch(struct pconn *pc, unsigned ev)
{
    conn_unwatch(pc);
    int fd = PQsocket(pc->conn);
    if (fd < 0)
        return false;
    pc->watch = fc__loop_watch(pc->pg->loop, fd, ev, conn_event, pc);
    pc->events = ev;
    return pc->watch != NULL;
}

static void retry_fire(void *ud)
{
    struct pconn *pc = ud;
    pc->retry = NULL;
    conn_connect(pc);
    pg_kick(pc->pg);
}

static void conn_schedule(struct pconn *pc)
{
    if (pc->pg->stopping)
        return;
    pc->retry = fc__loop_timer(pc->pg->loop, pc->backoff, retry_fire, pc);
    if (!pc->retry)
        fc_log(FC_LOG_ERROR, "database connection %u: out of memory arming its reconnect", pc->idx);
}

/* Close the PGconn and everything in flight on it; no retry is scheduled. */
static void conn_close(struct pconn *pc, const char *why, const char *sqlstate)
{
    pgt *pg = pc->pg;
    char buf[256];
    fc__pg_msg_line(buf, sizeof(buf), why);
    bool was_up = pc->state == C_UP;
    timer_stop(pg, &pc->ctimer);
    conn_unwatch(pc);
    if (pc->conn)
        PQfinish(pc->conn);
    pc->conn = NULL;
    pc->state = C_DOWN;
    pc->failed = pc->dirty = pc->want_write = false;
    if (was_up)
        pg->nup--;
    stmt_clear(pc);
    struct job *list = pc->head;
    pc->head = pc->tail = NULL;
    pc->inflight = 0;
    if (pc->pinned) {
        pc->pinned->broken = true;
        pc->pinned->state = TX_ENDED;
        tx_unpin(pc->pinned);
    }
    if (pc->reserved) {
        struct job *r = pc->reserved;
        pc->reserved = NULL;
        r->conn = NULL;
        if (pg->stopping) {
            job_fail(r, FC_EDBDOWN, buf, sqlstate);
        } else {
            r->queued_at = fc__now_ms();
            queue_push_front(pg, r);
        }
    }
    /* sent but never synced: whatever it did was not committed, or we cannot
     * know; never report success */
    while (list) {
        struct job *j = list;
        list = j->next;
        j->next = NULL;
        const char *m = buf;
        if (j->err && PQresultErrorField(j->err, PG_DIAG_MESSAGE_PRIMARY))
            m = PQresultErrorField(j->err, PG_DIAG_MESSAGE_PRIMARY);
        job_fail(j, FC_EDBDOWN, m, sqlstate);
    }
}

static void db_went_down(pgt *pg, const char *why)
{
    if (!pg->db_down)
        fc_log(FC_LOG_WARNING, "database unavailable (%s); queries get FC_EDBDOWN (503) until "
               "it is back", why);
    pg->db_down = true;
    queue_fail_all(pg, "database unavailable", "08001");
}

static void connect_failed(struct pconn *pc, const char *why)
{
    pgt *pg = pc->pg;
    char buf[256];
    fc__pg_msg_line(buf, sizeof(buf), why);
    conn_close(pc, buf, "08001");
    pc->attempted = true;
    pc->failures++;
    pc->backoff = pc->backoff ? pc->backoff * 2 : PG_BACKOFF_MIN_MS;
    if (pc->backoff > PG_BACKOFF_MAX_MS)
        pc->backoff = PG_BACKOFF_MAX_MS;
    if (pc->failures == 1 && pg->nup > 0)
        fc_log(FC_LOG_WARNING, "database connection %u: %s (retrying)", pc->idx, buf);
    if (pg->nup == 0)
        db_went_down(pg, buf);
    start_signal(pg);
    conn_schedule(pc);
}

static void conn_lost(struct pconn *pc, const char *why)
{
    char buf[256];
    fc__pg_msg_line(buf, sizeof(buf), why);
    bool stable = fc__ms_since(pc->up_since) >= PG_STABLE_MS;
    fc_log(FC_LOG_INFO, "database connection %u lost: %s", pc->idx, buf);
    conn_close(pc, buf, "08006");
    /* a connection that was fine reconnects at once (pg_terminate_backend,
     * failover); one that keeps dying backs off */
    pc->backoff = stable ? 0 : PG_BACKOFF_MIN_MS;
    conn_schedule(pc);
}

static void conn_ready(struct pconn *pc)
{
    pgt *pg = pc->pg;
    timer_stop(pg, &pc->ctimer);
    if (PQsetnonblocking(pc->conn, 1) != 0 || !PQenterPipelineMode(pc->conn) ||
        !conn_rewatch(pc, FC__EV_READ)) {
        connect_failed(pc, PQerrorMessage(pc->conn));
        return;
    }
    pc->state = C_UP;
    pc->up_since = fc__now_ms();
    pc->attempted = true;
    pc->failures = 0;
    pc->backoff = 0;
    pg->nup++;
    if (pg->db_down)
        fc_log(FC_LOG_INFO, "database reachable again");
    pg->db_down = false;
    start_signal(pg);
}

static void conn_poll(struct pconn *pc, PostgresPollingStatusType st)
{
    switch (st) {
    case PGRES_POLLING_OK:
        conn_ready(pc);
        return;
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        if (!conn_rewatch(pc, st == PGRES_POLLING_READING ? FC__EV_READ : FC__EV_WRITE))
            connect_failed(pc, "cannot watch the database socket");
        return;
    default:
        connect_failed(pc, PQerrorMessage(pc->conn));
        return;
    }
}

static void ctimeout_fire(void *ud)
{
    struct pconn *pc = ud;
    pc->ctimer = NULL;
    if (pc->state == C_CONNECTING)
        connect_failed(pc, "timeout while connecting to the database");
    pg_kick(pc->pg);
}

static void conn_connect(struct pconn *pc)
{
    pgt *pg = pc->pg;
    if (pg->stopping)
        return;
    const char *const kw[] = {"fallback_application_name", "dbname", NULL};
    const char *const val[] = {pg->app->name, pg->url, NULL};
    pc->conn = PQconnectStartParams(kw, val, 1);
    if (!pc->conn) {
        connect_failed(pc, "out of memory");
        return;
    }
    if (PQstatus(pc->conn) == CONNECTION_BAD) {
        connect_failed(pc, PQerrorMessage(pc->conn));
        return;
    }
    pc->state = C_CONNECTING;
    pc->ctimer = fc__loop_timer(pg->loop, PG_CONNECT_TIMEOUT_MS, ctimeout_fire, pc);
    conn_poll(pc, PGRES_POLLING_WRITING);
}

static void conn_event(int fd, unsigned rev, void *ud)
{
    struct pconn *pc = ud;
    (void)fd;
    if (pc->state == C_CONNECTING) {
        conn_poll(pc, PQconnectPoll(pc->conn));
    } else if (pc->state == C_UP) {
        if (rev & (FC__EV_READ | FC__EV_HUP))
            conn_input(pc);
        if (!pc->failed && (pc->want_write || (rev & FC__EV_WRITE)))
            conn_flush(pc);
        if (pc->failed)
            conn_lost(pc, PQerrorMessage(pc->conn));
    }
    pg_kick(pc->pg);
}

/* ---- transactions ---- */

static void tx_abandon(fc_pg_tx *tx)
{
    pgt *pg = tx->pg;
    tx->req_gone = true;
    tx->req = NULL;
    if (tx->state == TX_OPEN && tx->conn && !pg->stopping) {
        /* the request ended inside its transaction (canceled, or answered
         * without COMMIT): roll back, then give the connection back */
        struct job *j = job_new(pg, NULL, K_RB_INTERNAL, "ROLLBACK", 0, NULL);
        if (j) {
            fc_log(FC_LOG_WARNING, "a request ended inside its transaction: rolled back");
            tx->state = TX_CLOSING;
            j->tx = tx;
            conn_send(tx->conn, j);
            return;
        }
        tx->conn->failed = true; /* closing it rolls back just as well */
    }
    if (tx->state != TX_CLOSING)
        tx_unlink_free(tx);
}

static void tx_req_gone(void *p);

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
    j->next = NULL;
    if (pg->in_tail)
        pg->in_tail->next = j;
    else
        pg->in_head = j;
    pg->in_tail = j;
    atomic_store_explicit(&pg->in_pending, true, memory_order_relaxed);
    if (!here && !pg->in_posted)
        post = pg->in_posted = true;
    pthread_mutex_unlock(&pg->in_mu);
    if (here)
        fc__loop_poke(pg->loop);
    if (post && fc__loop_post(pg->loop, incoming_drain, pg) != 0) {
        /* out of memory (or stopping): the job stays listed; the next push,
         * a cancel or the teardown drains it */
        pthread_mutex_lock(&pg->in_mu);
        pg->in_posted = false;
        pthread_mutex_unlock(&pg->in_mu);
    }
    return 0;
}

static void job_accept(pgt *pg, struct job *j)
{
    if (j->kind == K_ABANDON) {
        tx_abandon(j->tx);
        return;
    }
    if (pg->stopping) {
        job_fail(j, FC_EDBDOWN, "the server is stopping", "57P01");
        return;
    }
    if (j->canceled) {
        job_fail(j, FC_ETIMEDOUT, "the request was canceled before the query was sent", "57014");
        return;
    }
    if (j->kind == K_QUERY || j->kind == K_BEGIN) {
        if (j->kind == K_BEGIN) {
            fc_pg_tx *tx = j->tx;
            tx->linked = true;
            tx->prev = NULL;
            tx->next = pg->txs;
            if (pg->txs)
                pg->txs->prev = tx;
            pg->txs = tx;
        }
        if (!pg->qhead && job_place(pg, j))
            return;
        if (pg->nup == 0 && pg->db_down) {
            job_fail(j, FC_EDBDOWN, "database unavailable", "08001");
            return;
        }
        if (pg->nqueued >= pg->queue_max) {
            job_fail(j, FC_EDBDOWN, "too many queries waiting for a database connection", "53000");
            return;
        }
        j->queued_at = fc__now_ms();
        queue_append(pg, j);
        return;
    }
    fc_pg_tx *tx = j->tx;
    if (tx->state != TX_OPEN || !tx->conn) {
        if (tx->broken)
            job_fail(j, FC_EDBDOWN, "the transaction's database connection was lost", "08006");
        else
            job_fail(j, FC_EDB, "the transaction is not open", "25000");
        return;
    }
    if (j->kind != K_TXQ)
        tx->state = TX_CLOSING;
    conn_send(tx->conn, j);
}

static bool incoming_take(pgt *pg, struct job **list)
{
    pthread_mutex_lock(&pg->in_mu);
    *list = pg->in_head;
    pg->in_head = pg->in_tail = NULL;
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

static void incoming_drain(void *ud)
{
    pgt *pg = ud;
    if (incoming_accept(pg))
        pg_kick(pg);
}

/* The loop's idle hook: accept what this thread's handlers submitted. */
static int pg_idle(void *ud)
{
    pgt *pg = ud;
    if (atomic_load_explicit(&pg->in_pending, memory_order_relaxed))
        incoming_drain(pg);
    return -1;
}

/* ---- requests: submit, cancel ---- */

/* Runs on the loop thread when the request is canceled (deadline, client
 * gone, shutdown). A job that has not been sent is answered now with
 * FC_ETIMEDOUT; one in flight gets its real result later (the callback still
 * runs; its answer is then a no-op). */
static void job_cancel(fc_request *req, void *ud)
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
    job_fail(j, FC_ETIMEDOUT, "the request was canceled while its query waited", "57014");
    pg_kick(pg);
}

/* Under req->mu. */
static void detach_cancel_locked(fc_request *req, const struct job *j)
{
    if (req->cancel_fn == job_cancel && req->cancel_ud == j) {
        req->cancel_fn = NULL;
        req->cancel_ud = NULL;
    }
}

static void detach_cancel(fc_request *req, struct job *j)
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
    int rc = fc_request_defer(req, job_cancel, j);
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
    struct job *j = job_new(part(req), req, K_QUERY, sql, nparams, params);
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
    struct job *j = job_new(pg, req, K_BEGIN, "BEGIN", 0, NULL);
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
    struct job *j = job_new(tx->pg, tx->req, kind, sql, nparams, params);
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

static void start_all(void *ud)
{
    pgt *pg = ud;
    for (unsigned i = 0; i < pg->npool; i++)
        conn_connect(&pg->conns[i]);
    pg_kick(pg);
}

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
    if (!strchr(url, '=') && strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0)
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
    top->npool = app->cfg.db_pool ? app->cfg.db_pool : 1;
    top->n = app->nloops;
    pthread_mutex_init(&top->mu, NULL);
    cond_init_mono(&top->cv);
    pthread_mutex_init(&top->bmu, NULL);
    cond_init_mono(&top->bcv);
    top->t = calloc(top->n, sizeof(*top->t));
    if (!top->t)
        goto oom;
    if (top->npool < top->n)
        fc_log(FC_LOG_INFO, "%s: %u database connections for %u polling threads: one each",
               app->name, top->npool, top->n);
    for (unsigned i = 0; i < top->n; i++)
        if (!(top->t[i] = part_new(top, i)))
            goto oom;
    /* before the loops run: the hooks go in, the connects wait in the queues */
    for (unsigned i = 0; i < top->n; i++)
        if (fc__loop_on_idle(top->t[i]->loop, 1, pg_idle, top->t[i]) != 0 ||
            fc__loop_post(top->t[i]->loop, start_all, top->t[i]) != 0) {
            for (unsigned k = 0; k <= i; k++)
                fc__loop_off_idle(top->t[k]->loop, pg_idle, top->t[k]);
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

static void teardown(void *ud)
{
    pgt *pg = ud;
    struct job *list;
    pg->stopping = true;
    timer_stop(pg, &pg->sweep);
    do {
        /* callbacks run from here may end requests, whose open transactions
         * push their abandon nodes: loop until nothing is left */
        while (incoming_accept(pg))
            ;
        queue_fail_all(pg, "the server is stopping", "57P01");
        for (unsigned i = 0; i < pg->npool; i++) {
            struct pconn *pc = &pg->conns[i];
            timer_stop(pg, &pc->retry);
            conn_close(pc, "the server is stopping", "57P01");
        }
        pthread_mutex_lock(&pg->in_mu);
        list = pg->in_head;
        if (!list)
            pg->closed = true;
        pthread_mutex_unlock(&pg->in_mu);
    } while (list);
    while (pg->txs) {
        /* unlink here so the loop never reads a freed head, whatever linked says */
        fc_pg_tx *tx = pg->txs;
        pg->txs = tx->next;
        if (pg->txs)
            pg->txs->prev = NULL;
        tx->linked = false;
        if (tx->req_gone) {
            tx_unlink_free(tx);
            continue;
        }
        /* its request is still alive (it must not be at this point):
         * leave the tx to the request's cleanup rather than free it */
        fc_log(FC_LOG_WARNING, "a database transaction outlives the app's database pool");
    }
    fc__loop_off_idle(pg->loop, pg_idle, pg);
    pthread_mutex_lock(&pg->top->mu);
    pg->stop_done = true;
    pthread_cond_broadcast(&pg->top->cv);
    pthread_mutex_unlock(&pg->top->mu);
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
        if (!fc__loop_started(pg->loop) || fc__loop_post(pg->loop, teardown, pg) != 0)
            teardown(pg); /* no thread runs it: nothing runs concurrently */
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
