/* pg_int.h — the PostgreSQL pool's structures and the fc__pg_ functions its modules share;
 * only the pg_*.c modules include it (and, through it, <libpq-fe.h>). */
#ifndef FLASKC_PG_INT_H
#define FLASKC_PG_INT_H

#include "internal.h"

#include <time.h>

#include <libpq-fe.h>

/*
 * Threads. The pool is one part per polling thread (struct pgt): a part's
 * connections, wait queue, prepared-statement caches and transactions belong
 * to its thread alone and take no lock. fc_pg_query, fc_pg_begin and
 * fc_pg_tx_* may be called from any thread (pg_front.c): they copy their
 * arguments into a job, defer the request, take a reference on it and push the
 * job on the incoming list of the request's part (in_mu). A job pushed on the
 * owning thread is only listed: the loop's idle hook accepts it before the
 * loop waits; one from another thread is accepted by a loop post. Callbacks
 * run on the owning thread (pg_sched.c; fc_pg_query_worker's on the worker
 * pool), so they never race each other or a cancel (deadline, disconnect,
 * shutdown), which that thread also runs. A callback that queries again goes
 * through the incoming list like anyone else: nothing re-enters the connection
 * code.
 *
 * Each query is [Parse] + Bind/Execute + Sync (pg_conn.c) on the first free
 * connection of its part whose oldest query is not slow, with fewer than
 * FLASKC_DB_PIPELINE (default 32) queries in flight; results map to the FIFO
 * of jobs of that connection, and a job is complete (and may report success)
 * only at its Sync: until then its implicit transaction has not committed.
 * When a connection breaks, its jobs in flight fail with FC_EDBDOWN.
 *
 * The blocking pool (fc_pg_acquire, pg_sync.c) is separate: its own PGconns, a
 * mutex and a condition variable, used by worker threads only.
 */

#define PG_STMT_BUCKETS 64 /* prepared-statement cache: hash buckets */

struct fc_pg_result {
    PGresult *res;        /* rows / command status; NULL for errors */
    int err;              /* 0, FC_EDB, FC_EDBDOWN, FC_ETIMEDOUT */
    const char *msg;      /* error message (borrowed) */
    const char *sqlstate; /* error SQLSTATE (borrowed) */
};

enum { K_QUERY, K_BEGIN, K_TXQ, K_COMMIT, K_ROLLBACK, K_RB_INTERNAL, K_ABANDON };
enum { S_INCOMING, S_QUEUED, S_RESERVED, S_INFLIGHT };
enum { C_DOWN, C_CONNECTING, C_UP };
enum { TX_BEGINNING, TX_OPEN, TX_CLOSING, TX_ENDED };

struct pconn;
typedef struct pgt pgt;

struct job {
    struct job *next;        /* incoming list / connection FIFO */
    fc__link qlink;          /* in the wait queue */
    pgt *pg;
    fc_request *req;         /* NULL for internal jobs */
    int kind, state;
    bool canceled;           /* the request was canceled (loop thread) */
    bool sent;
    uint64_t sent_at;        /* when it went on its connection */
    bool prep_pending;       /* the next result is the answer to our Parse */
    bool aborted;            /* PGRES_PIPELINE_ABORTED seen */
    bool on_worker;          /* fc_pg_query_worker: the callback runs on the pool */
    char stmt_name[16];      /* "" = unnamed statement */
    char *sql;
    int nparams;
    char **params;
    fc_pg_cb cb;
    fc_pg_tx_cb txcb;
    void *ud;
    fc_pg_tx *tx;
    struct pconn *conn;
    uint64_t queued_at;
    PGresult *res;           /* the statement's result */
    PGresult *err;           /* the first error result */
    fc_pg_result done;       /* what the worker's callback gets */
    char *done_msg;          /* its message, copied: the caller's may live on its stack */
};

typedef struct fc__pg_hosts fc__pg_hosts;
typedef struct fc__pg_lookup fc__pg_lookup;

struct pconn {
    pgt *pg;
    unsigned idx;
    PGconn *conn;
    int state;
    fc__watch *watch;
    unsigned events;
    fc__timer *retry, *ctimer;
    unsigned backoff;
    unsigned failures;       /* consecutive failed connection attempts */
    bool attempted;          /* at least one attempt finished (for the start wait) */
    bool want_write, dirty, failed;
    uint64_t up_since;
    FC__FIFO(struct job) flight; /* in flight, in send order */
    unsigned inflight;
    struct stmt *stmts[PG_STMT_BUCKETS];
    unsigned nstmts, next_stmt;
    fc__pg_lookup *lookup;   /* the host names being looked up for this attempt */
    fc_pg_tx *pinned;        /* a transaction owns the connection */
    struct job *reserved;    /* a BEGIN waiting for the connection to drain */
};

struct fc_pg_tx {
    pgt *pg;
    fc_request *req;         /* valid until the request's cleanup (then req_gone) */
    struct pconn *conn;      /* pinned connection */
    int state;
    bool broken, req_gone;
    fc__link link;           /* in pg->txs */
    struct job abandon;      /* pushed by the request's cleanup: no allocation there */
};

struct bconn {
    struct bconn *next;
    PGconn *conn;
};

struct fc_pg_conn {
    fc__pg *pg;
    struct bconn *b;         /* NULL once released */
    fc_request *req;
};

/* A polling thread's part of the pool: its connections, its wait queue, its
 * transactions. Everything but the incoming list belongs to that thread. */
struct pgt {
    fc__pg *top;
    fc_app *app;
    fc__loop *loop;
    const char *url;         /* borrowed from app->cfg */
    unsigned npool, queue_max;
    unsigned depth;          /* queries in flight per connection (1 = no pipelining) */
    struct pconn *conns;
    /* loop thread only */
    fc__link queue;          /* jobs waiting for a connection (job.qlink), FIFO */
    unsigned nqueued, nup;
    bool db_down, stopping;
    fc__timer *sweep;
    fc__link txs;            /* open transactions (fc_pg_tx.link) */
    /* incoming jobs, any thread */
    pthread_mutex_t in_mu;
    FC__FIFO(struct job) in;
    bool in_posted, closed;
    fc__post in_post;        /* the drain's node ... */
    bool in_node_queued;     /* ... is in the loop's queue (under in_mu) */
    fc__post start_post, stop_post; /* the start and the teardown, once each */
    atomic_bool in_pending;  /* the list is not empty: the idle hook drains it */
    /* under top->mu: what fc__pg_wait_first and fc__pg_stop read */
    unsigned pub_up, pub_attempted;
    bool stop_done;
};

struct fc__pg {
    fc_app *app;
    const char *url;         /* borrowed from app->cfg */
    fc__pg_hosts *hosts;     /* host names to look up before each connect; NULL: none */
    unsigned npool;          /* connections in all: the async ones, and at most as many blocking */
    unsigned n;
    pgt **t;                 /* one part per polling thread */
    /* start and stop handshakes */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the blocking pool */
    pthread_mutex_t bmu;
    pthread_cond_t bcv;
    struct bconn *bidle;
    unsigned btotal;
};

/* pg_conn.c */
/** libpq's notice processor: the server's notices and warnings (RAISE
 *  WARNING, "terminating connection due to ...") go to the library's log
 *  instead of stderr. */
void fc__pg_notice(void *arg, const char *message);

/* pg_dns.c: host names looked up off the polling threads */
/** The URL's (or PGHOST's) host list when it holds names to look up (*out
 *  NULL when not: socket directories, numbers, a hostaddr given). 0 or
 *  FC_ENOMEM. */
int fc__pg_hosts_new(const char *url, fc__pg_hosts **out);
void fc__pg_hosts_free(fc__pg_hosts *h);
/** The looked-up lists for libpq's host, hostaddr and port (one entry per
 *  address; numbers and socket directories kept with an empty hostaddr), or
 *  @p err when there is nothing to try. On the loop thread; the strings are
 *  valid during the call. */
typedef void (*fc__pg_lookup_cb)(void *ud, const char *host, const char *hostaddr, const char *port,
                                 const char *err);
/** Look @p h up on a thread of its own; @p cb runs on @p loop's thread
 *  unless abandoned first. NULL: out of memory or threads. */
fc__pg_lookup *fc__pg_lookup_start(const fc__pg_hosts *h, fc__loop *loop, fc__pg_lookup_cb cb, void *ud);
/** The attempt is over (loop thread): @p cb will not run; the lookup frees
 *  itself when its thread ends. */
void fc__pg_lookup_abandon(fc__pg_lookup *lk);

/* pg_front.c: any thread */
/** A job copying @p sql and @p params, in one allocation; NULL on OOM. */
struct job *fc__pg_job_new(pgt *pg, fc_request *req, int kind, const char *sql, int nparams,
                           const char *const *params);
/** The request no longer points at this job: a later cancel must not find it. */
void fc__pg_detach_cancel(fc_request *req, struct job *j);
/** A query's SQL and parameters are usable (any thread). */
bool fc__pg_args_ok(const char *sql, int nparams, const char *const *params);
/** CLOCK_MONOTONIC, @p ms from now (for pthread_cond_timedwait). */
struct timespec fc__pg_mono_in(uint64_t ms);

/* pg_sched.c: the owning polling thread */
/** Transaction bookkeeping, then the callback, then the job is gone. */
void fc__pg_job_end(struct job *j, fc_pg_result *r);
/** fc__pg_job_end with an error and no rows. */
void fc__pg_job_fail(struct job *j, int err, const char *msg, const char *sqlstate);
/** The transaction no longer owns its connection. */
void fc__pg_tx_unpin(fc_pg_tx *tx);
/** The wait queue: a job that lost its reserved connection goes first; fail them all. */
void fc__pg_queue_push_front(pgt *pg, struct job *j);
void fc__pg_queue_fail_all(pgt *pg, const char *msg, const char *sqlstate);
/** After every loop entry: dispatch waiting jobs, flush, close failed connections. */
void fc__pg_kick(pgt *pg);
/** Loop post: accept the incoming list. */
void fc__pg_incoming_drain(void *ud);
/** The loop's idle hook: accept what this thread's handlers submitted. */
int fc__pg_idle(void *ud);
/** The request's cancel hook (fc_request_defer). */
void fc__pg_job_cancel(fc_request *req, void *ud);
/** Loop posts: connect every connection of the part; stop the part. */
void fc__pg_start_all(void *ud);
void fc__pg_teardown(void *ud);

/* pg_conn.c: the owning polling thread */
/** The first line of a libpq message, without trailing blanks, into @p buf (any thread). */
const char *fc__pg_msg_line(char *buf, size_t cap, const char *msg);
/** Cancel a timer of the part's thread if pending, and forget it. */
void fc__pg_timer_stop(pgt *pg, fc__timer **t);
/** Queue [Parse] + Bind/Execute + Sync on the connection (a failure marks it failed). */
void fc__pg_conn_send(struct pconn *pc, struct job *j);
/** Start connecting (non-blocking); a failure schedules the retry. */
void fc__pg_conn_connect(struct pconn *pc);
/** Flush what was sent, close the connection if it failed; true when it closed it. */
bool fc__pg_conn_settle(struct pconn *pc);
/** The server is stopping: no reconnect; close, failing what is in flight. */
void fc__pg_conn_stop(struct pconn *pc);

/* pg_sync.c: worker threads */
/** fc__pg_stop, after the polling threads let go: close the idle blocking connections. */
void fc__pg_blocking_close(fc__pg *top);

#endif /* FLASKC_PG_INT_H */
