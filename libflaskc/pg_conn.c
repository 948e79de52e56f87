/* pg_conn.c — a polling thread's PostgreSQL connections: connect, reconnect with backoff, send
 * (pipelined, prepared-statement cache), receive, close; run by the thread that owns them. */
#include "pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_STMT_MAX 512 /* prepared statements per connection (then unnamed) */
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 2000
#define PG_STABLE_MS 1000 /* a connection up this long reconnects at once when lost */
#define PG_CONNECT_TIMEOUT_MS 5000

struct stmt {
    struct stmt *next;
    uint32_t hash;
    char name[16];
    char sql[];
};

static void conn_lost(struct pconn *pc, const char *why);

/* ---- small helpers ---- */

void fc__pg_notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    fc__pg_msg_line(line, sizeof(line), message);
    fc_log_level level = !strncmp(line, "WARNING", 7)                          ? FC_LOG_WARNING
                         : !strncmp(line, "NOTICE", 6) || !strncmp(line, "INFO", 4) ? FC_LOG_INFO
                                                                                    : FC_LOG_DEBUG;
    fc_log(level, "database: %s", line);
}

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
void fc__pg_timer_stop(pgt *pg, fc__timer **t)
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

/* ---- sending ---- */

static bool is_plain_command(int kind)
{
    return kind == K_BEGIN || kind == K_COMMIT || kind == K_ROLLBACK || kind == K_RB_INTERNAL;
}

/* Queue [Parse] + Bind/Execute + Sync on the connection. A failure marks the
 * connection failed; fc__pg_kick closes it, which fails this job too. */
void fc__pg_conn_send(struct pconn *pc, struct job *j)
{
    PGconn *c = pc->conn;
    const char *const *params = (const char *const *)j->params;
    int ok = 1;
    j->conn = pc;
    j->state = S_INFLIGHT;
    j->sent = true;
    j->sent_at = fc__now_ms();
    FC__FIFO_PUSH(&pc->flight, j);
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

/* ---- receiving ---- */

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
    fc__pg_job_end(j, &r);
}

static void job_result(struct pconn *pc, struct job *j, PGresult *r)
{
    switch (PQresultStatus(r)) {
    case PGRES_PIPELINE_SYNC:
        PQclear(r);
        /* j is the head: unlink it */
        pc->flight.head = j->next;
        if (!pc->flight.head)
            pc->flight.tail = NULL;
        j->next = NULL;
        pc->inflight--;
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
    while (pc->flight.head && !pc->failed && PQstatus(c) != CONNECTION_BAD && !PQisBusy(c)) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (++nulls > 1)
                break;
            continue;
        }
        nulls = 0;
        job_result(pc, pc->flight.head, r);
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
    fc__pg_conn_connect(pc);
    fc__pg_kick(pc->pg);
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
    fc__pg_timer_stop(pg, &pc->ctimer);
    if (pc->lookup)
        fc__pg_lookup_abandon(pc->lookup);
    pc->lookup = NULL;
    conn_unwatch(pc);
    if (pc->conn)
        PQfinish(pc->conn);
    pc->conn = NULL;
    pc->state = C_DOWN;
    pc->failed = pc->dirty = pc->want_write = false;
    if (was_up)
        pg->nup--;
    stmt_clear(pc);
    struct job *list;
    FC__FIFO_TAKE(&pc->flight, list);
    pc->inflight = 0;
    if (pc->pinned) {
        pc->pinned->broken = true;
        pc->pinned->state = TX_ENDED;
        fc__pg_tx_unpin(pc->pinned);
    }
    if (pc->reserved) {
        struct job *r = pc->reserved;
        pc->reserved = NULL;
        r->conn = NULL;
        if (pg->stopping) {
            fc__pg_job_fail(r, FC_EDBDOWN, buf, sqlstate);
        } else {
            r->queued_at = fc__now_ms();
            fc__pg_queue_push_front(pg, r);
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
        fc__pg_job_fail(j, FC_EDBDOWN, m, sqlstate);
    }
}

static void db_went_down(pgt *pg, const char *why)
{
    if (!pg->db_down)
        fc_log(FC_LOG_WARNING, "database unavailable (%s); queries get FC_EDBDOWN (503) until "
               "it is back", why);
    pg->db_down = true;
    fc__pg_queue_fail_all(pg, "database unavailable", "08001");
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
    fc__pg_timer_stop(pg, &pc->ctimer);
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
    fc__pg_kick(pc->pg);
}

/* @p host, @p hostaddr, @p port: the looked-up lists (they override the
 * URL's), or NULL */
static void connect_start(struct pconn *pc, const char *host, const char *hostaddr, const char *port)
{
    pgt *pg = pc->pg;
    const char *const kw[] = {"fallback_application_name", "dbname", "host", "hostaddr", "port", NULL};
    const char *const val[] = {pg->app->name, pg->url, host, hostaddr, port, NULL};
    /* libpq skips NULL values; later keywords override the URL's */
    pc->conn = PQconnectStartParams(kw, val, 1);
    if (!pc->conn) {
        connect_failed(pc, "out of memory");
        return;
    }
    PQsetNoticeProcessor(pc->conn, fc__pg_notice, NULL);
    if (PQstatus(pc->conn) == CONNECTION_BAD) {
        connect_failed(pc, PQerrorMessage(pc->conn));
        return;
    }
    conn_poll(pc, PGRES_POLLING_WRITING);
}

static void looked_up(void *ud, const char *host, const char *hostaddr, const char *port, const char *err)
{
    struct pconn *pc = ud;
    pc->lookup = NULL;
    if (err) {
        connect_failed(pc, err);
    } else {
        pc->ctimer = fc__loop_timer(pc->pg->loop, PG_CONNECT_TIMEOUT_MS, ctimeout_fire, pc);
        connect_start(pc, host, hostaddr, port);
    }
    fc__pg_kick(pc->pg);
}

void fc__pg_conn_connect(struct pconn *pc)
{
    pgt *pg = pc->pg;
    if (pg->stopping)
        return;
    pc->state = C_CONNECTING;
    if (!pg->top->hosts) {
        pc->ctimer = fc__loop_timer(pg->loop, PG_CONNECT_TIMEOUT_MS, ctimeout_fire, pc);
        connect_start(pc, NULL, NULL, NULL);
        return;
    }
    /* the connect timeout starts once the names are looked up: the
     * resolver has its own (resolv.conf), and a lookup cut short by ours
     * would start over at every attempt and never finish on a slow DNS;
     * so there is at most one lookup per connection */
    pc->lookup = fc__pg_lookup_start(pg->top->hosts, pg->loop, looked_up, pc);
    if (!pc->lookup)
        connect_failed(pc, "cannot start a thread to look up the database host");
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
    fc__pg_kick(pc->pg);
}

/* After a loop entry (fc__pg_kick): write what was sent, and close the
 * connection if it failed meanwhile; true when it closed it. */
bool fc__pg_conn_settle(struct pconn *pc)
{
    if (pc->state != C_UP)
        return false;
    if (pc->dirty && !pc->failed) {
        pc->dirty = false;
        conn_flush(pc);
    }
    if (!pc->failed)
        return false;
    conn_lost(pc, PQerrorMessage(pc->conn));
    return true;
}

/* The teardown: no reconnect; close it, failing what is in flight. */
void fc__pg_conn_stop(struct pconn *pc)
{
    fc__pg_timer_stop(pc->pg, &pc->retry);
    conn_close(pc, "the server is stopping", "57P01");
}
