/* server_int.h — what server.c (the daemons) and conn.c (the connection
 * table) share: the server, a polling thread's part of it, a connection's
 * record. Only these two include it, and libmicrohttpd through it. */
#ifndef FLASKC_SERVER_INT_H
#define FLASKC_SERVER_INT_H
#include "internal.h"

#include <microhttpd.h>

struct srv_conn;
struct srv_thread;

struct fc__server {
    fc_app *app;
    int port;
    unsigned n;
    struct srv_thread *t;
    atomic_uint nconns; /* every open connection, all threads */
};

/* A polling thread's part of the server. Loop thread only, after start. */
struct srv_thread {
    fc__server *s;
    fc__loop *loop;
    struct MHD_Daemon *d;
    MHD_socket listen_fd;
    fc__watch *watch;       /* the daemon's epoll fd in the loop's epoll */
    fc__link conns;         /* this thread's connections (srv_conn.link), for the header timeout */
    fc__link parked;        /* its suspended connections (srv_req.plink): resumed by force at stop */
    fc__timer *sweep;
    bool run_due;           /* a connection was resumed: run the daemon before waiting */
    uint64_t mhd_due;       /* when the daemon's next connection timeout is due */
    bool quiesced;
    /* fc__server_adopt's close callback, for the connection record that
     * MHD_add_connection creates (set around that call only) */
    void (*adopting)(void *ud);
    void *adopting_ud;
    struct on_all *on_all;  /* server.c's run_on_all: the run in progress */
    fc__post on_all_post;
};

/* A connection's state for the header timeout (slowloris): waiting for a
 * request's headers since `since`, or in a request. Owning thread only. */
enum { CONN_WAITING = 0, CONN_IN_REQUEST, CONN_TIMED_OUT };
struct srv_conn {
    fc__link link; /* in its thread's conns */
    int fd;
    int state;
    uint64_t since;
    bool over_limit; /* accepted beyond FLASKC_MAX_CONNECTIONS: answer 503 */
    void (*closed)(void *ud); /* an adopted connection: its closing is awaited */
    void *closed_ud;
};

/* per-request transport state, in the request's arena */
struct srv_req {
    struct srv_thread *st;
    struct MHD_Connection *conn;
    char *uri;
    bool started;
    bool dispatched;
    bool stream_parked; /* owning thread only, like the two below */
    bool stream_woken;
    bool stream_over;   /* the stream's response is gone: wake-ups do nothing */
    /* libmicrohttpd ended the request (also without our answer: a client
     * gone, the stop), and frees the connection's memory next. Set on the
     * owning thread once no reader (another thread copying a header out of
     * that memory) is inside. */
    atomic_bool gone;
    atomic_int readers;
    fc__post complete_post;   /* the answer, posted to the owning thread (once) */
    fc__post wake_post;       /* a stream wake-up posted there ... */
    atomic_bool wake_posted;  /* ... and not run yet */
    fc__link plink;     /* in st->parked while suspended */
    size_t discarded;
};

static inline struct srv_req *SR(fc_request *req)
{
    return req->tp_ctx;
}

/* ---- answer.c ---- */
/** The transport's complete: queue the response (posted to the owning
 *  thread when called from another) and resume a parked connection. */
void fc__srv_complete(fc_request *req);
/** The transport's stream_wake (any thread). */
void fc__srv_stream_wake(fc_request *req);
/** Suspend the request's connection and list it (owning thread). */
void fc__srv_park(struct srv_req *sr);
/** Stop: resume every connection still suspended, so that MHD_stop_daemon
 *  may close it (a suspended one would abort the process); their late
 *  answers find the request gone. */
void fc__srv_unpark_all(struct srv_thread *st);

/* ---- conn.c ---- */
/** MHD_OPTION_NOTIFY_CONNECTION (cls: the srv_thread): a connection opens
 *  (recorded, counted, its first bytes screened) or closes. */
void fc__conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe);
/** A request's first call on @p conn. false: the connection was already
 *  answered (408, 400) or is answered now (431): refuse it (MHD_NO).
 *  Sets req->reject_status past FLASKC_MAX_CONNECTIONS. */
bool fc__conn_request_begins(fc_app *app, struct MHD_Connection *conn, fc_request *req);
/** uri_log, first of all: put a Cookie header of our own first in the
 *  request's list, so that libmicrohttpd's cookie parser (which fails on
 *  some headers: a second answer head) parses it instead of the client's. */
void fc__conn_hide_cookies(struct MHD_Connection *conn);
/** Whether a header's @p key (as libmicrohttpd hands it out) is that
 *  header's: every reader of the request's headers skips it. */
bool fc__conn_is_decoy(const char *key);
/** The first request header named @p name (case-insensitive) that is not
 *  the decoy: its value (in the connection's memory) and length. */
bool fc__conn_header(struct MHD_Connection *conn, const char *name, const char **value,
                     size_t *len);
/** uri_log made @p req for the request line with target @p uri (the
 *  completion callback frees it, also when its handler never runs). false:
 *  the target cannot fit in the connection's memory beside its query
 *  arguments (libmicrohttpd would stall without an answer until the
 *  connection timeout): answered 414 now; drop the request. */
bool fc__conn_request_line(fc_app *app, struct MHD_Connection *conn, fc_request *req, const char *uri);
/** Whether an answer whose header lines take @p answer_bytes fits in the
 *  connection's memory beside the request (libmicrohttpd closes the
 *  connection without a word when it does not). */
bool fc__conn_answer_fits(const fc_app *app, struct MHD_Connection *conn, size_t answer_bytes);
/** A request on @p conn completed: the next one's headers are timed from now. */
void fc__conn_request_ends(struct MHD_Connection *conn);
/** Start / stop the thread's header-timeout sweep (its loop thread). */
void fc__conn_sweep_start(struct srv_thread *st);
void fc__conn_sweep_stop(struct srv_thread *st);

#endif /* FLASKC_SERVER_INT_H */
