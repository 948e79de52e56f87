/* pg_sync.c — the blocking pool: fc_pg_acquire, fc_pg_exec, fc_pg_release on PGconns of their own
 * under a mutex and a condition variable; run by worker threads, never by a polling thread. */
#include "pg_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

static PGconn *bconnect(fc__pg *pg)
{
    const char *const kw[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *const val[] = {"5", pg->app->name, pg->url, NULL};
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (c && PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, fc__pg_notice, NULL);
        return c;
    }
    char buf[256];
    fc_log(FC_LOG_WARNING, "blocking database connection: %s",
           fc__pg_msg_line(buf, sizeof(buf), c ? PQerrorMessage(c) : "out of memory"));
    PQfinish(c);
    return NULL;
}

static void bconn_put(fc__pg *pg, struct bconn *b)
{
    /* never hand on a connection inside a transaction or a command */
    if (b->conn && (PQstatus(b->conn) != CONNECTION_OK ||
                    PQtransactionStatus(b->conn) != PQTRANS_IDLE)) {
        PQfinish(b->conn);
        b->conn = NULL;
    }
    pthread_mutex_lock(&pg->bmu);
    b->next = pg->bidle;
    pg->bidle = b;
    pthread_cond_signal(&pg->bcv);
    pthread_mutex_unlock(&pg->bmu);
}

static void lease_cleanup(void *p)
{
    fc_pg_conn *c = p;
    if (c->b) {
        fc_log(FC_LOG_WARNING, "a blocking database connection was not released by its handler");
        bconn_put(c->pg, c->b);
        c->b = NULL;
    }
}

fc_pg_conn *fc_pg_acquire(fc_request *req)
{
    if (!req || !req->app->pg)
        return NULL;
    fc__pg *pg = req->app->pg;
    if (fc__loop_current()) {
        fc_log(FC_LOG_ERROR, "fc_pg_acquire on a polling thread would block it; use "
               "fc_pg_query there, or FC_BLOCKING routes");
        return NULL;
    }
    fc_pg_conn *c = fc_request_alloc(req, sizeof(*c));
    if (!c)
        return NULL;
    unsigned dms = pg->app->cfg.deadline_ms;
    uint64_t waited = fc__ms_since(req->start_ms);
    struct timespec dl = fc__pg_mono_in(dms > waited ? dms - waited : 0);
    struct bconn *b = NULL;
    bool make = false;
    pthread_mutex_lock(&pg->bmu);
    for (;;) {
        if (pg->bidle) {
            b = pg->bidle;
            pg->bidle = b->next;
            break;
        }
        if (pg->btotal < pg->npool) {
            pg->btotal++;
            make = true;
            break;
        }
        if (!dms) {
            pthread_cond_wait(&pg->bcv, &pg->bmu);
        } else if (pthread_cond_timedwait(&pg->bcv, &pg->bmu, &dl) == ETIMEDOUT && !pg->bidle) {
            break;
        }
    }
    pthread_mutex_unlock(&pg->bmu);
    if (make) {
        b = calloc(1, sizeof(*b));
        if (!b) {
            pthread_mutex_lock(&pg->bmu);
            pg->btotal--;
            pthread_cond_signal(&pg->bcv);
            pthread_mutex_unlock(&pg->bmu);
            return NULL;
        }
    }
    if (!b) {
        fc_log(FC_LOG_WARNING, "no blocking database connection free within the deadline");
        return NULL;
    }
    /* an idle connection has nothing to say: readable means the server
     * closed it (restart, pg_terminate_backend) — reconnect before use */
    if (b->conn && PQstatus(b->conn) == CONNECTION_OK) {
        struct pollfd p = {.fd = PQsocket(b->conn), .events = POLLIN};
        if (p.fd < 0 || poll(&p, 1, 0) != 0)
            PQreset(b->conn);
    } else if (b->conn) {
        PQreset(b->conn);
    }
    if (b->conn) {
        if (PQstatus(b->conn) != CONNECTION_OK) {
            PQfinish(b->conn);
            b->conn = NULL;
        }
    }
    if (!b->conn)
        b->conn = bconnect(pg);
    if (!b->conn) {
        bconn_put(pg, b);
        return NULL;
    }
    c->pg = pg;
    c->b = b;
    c->req = req;
    if (fc_request_on_cleanup(req, lease_cleanup, c) != 0) {
        bconn_put(pg, b);
        return NULL;
    }
    return c;
}

static void clear_result(void *p)
{
    PQclear(p);
}

const fc_pg_result *fc_pg_exec(fc_pg_conn *c, const char *sql, int nparams,
                               const char *const *params)
{
    if (!c || !c->b || !fc__pg_args_ok(sql, nparams, params))
        return NULL;
    fc_request *req = c->req;
    fc_pg_result *r = fc_request_alloc(req, sizeof(*r));
    if (!r)
        return NULL;
    memset(r, 0, sizeof(*r));
    PGconn *pc = c->b->conn;
    PGresult *res = PQexecParams(pc, sql, nparams, NULL, params, NULL, NULL, 0);
    if (res && fc_request_on_cleanup(req, clear_result, res) != 0) {
        PQclear(res);
        return NULL;
    }
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        r->res = res;
        return r;
    }
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        PQfinish(pc); /* leave the COPY state the only sure way */
        c->b->conn = NULL;
        r->err = FC_EDB;
        r->msg = "COPY is not supported by fc_pg_exec";
        r->sqlstate = "0A000";
        return r;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char buf[256];
    if (!msg)
        msg = fc_request_printf(req, "%s", fc__pg_msg_line(buf, sizeof(buf), PQerrorMessage(pc)));
    r->err = state ? FC_EDB : FC_EDBDOWN;
    r->sqlstate = state ? state : "08006";
    r->msg = msg ? msg : fc_strerror(r->err);
    return r;
}

void fc_pg_release(fc_pg_conn *c)
{
    if (!c || !c->b)
        return;
    bconn_put(c->pg, c->b);
    c->b = NULL;
}

/* fc__pg_stop, after the polling threads let go: close the idle connections;
 * one a handler still holds is a leak, logged. */
void fc__pg_blocking_close(fc__pg *top)
{
    unsigned nidle = 0;
    pthread_mutex_lock(&top->bmu);
    while (top->bidle) {
        struct bconn *b = top->bidle;
        top->bidle = b->next;
        if (b->conn)
            PQfinish(b->conn);
        free(b);
        nidle++;
    }
    pthread_mutex_unlock(&top->bmu);
    if (nidle != top->btotal)
        fc_log(FC_LOG_WARNING, "%u blocking database connections were never released",
               top->btotal - nidle);
}
