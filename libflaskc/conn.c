/* conn.c — the connection table: each polling thread's open connections,
 * their count against FLASKC_MAX_CONNECTIONS, the first-bytes screen (400),
 * the header-timeout sweep (408), the memory check (431), the answers
 * written straight to the socket when libmicrohttpd cannot answer, and the
 * decoy Cookie header that keeps libmicrohttpd's cookie parser away. */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static struct srv_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* An answer written straight to the socket, for a connection libmicrohttpd
 * cannot answer itself (not HTTP, no room left, headers too slow); the
 * socket is shut right after, and libmicrohttpd closes it. */
static void raw_answer(int fd, int status, const char *message)
{
    char answer[768];
    fc__buf body = {0};
    int rc = fc__buf_printf(&body, "{\"error\":\"%s\",\"status\":%d,\"message\":", fc__status_phrase(status),
                            status);
    rc = rc ? rc : fc__json_escape(&body, message);
    rc = rc ? rc : fc__buf_puts(&body, "}\n");
    char date[30];
    fc__http_date((long long)time(NULL), date);
    int n = rc ? -1
               : snprintf(answer, sizeof(answer),
                          "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\n\r\n%s",
                          status, fc__status_phrase(status), date, body.len, body.data);
    fc__buf_free(&body);
    if (n > 0 && (size_t)n < sizeof(answer)) {
        ssize_t w = send(fd, answer, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w; /* a few hundred bytes into an empty socket buffer; if not, the close says enough */
    }
    shutdown(fd, SHUT_RDWR);
}

/* The first bytes of a new connection (peeked: they stay for
 * libmicrohttpd): not HTTP at all (junk, a TLS handshake) gets a 400 now. */
#define FC__REQLINE_PEEK 1024

static bool screen(int fd)
{
    char buf[FC__REQLINE_PEEK];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0)
        return false; /* nothing yet (accepted without data), or closed: libmicrohttpd decides */
    const char *why = NULL;
    int status = fc__reqline_check(buf, (size_t)n, &why);
    if (!status)
        return false;
    fc_log(FC_LOG_DEBUG, "%d at once for a connection whose first bytes are not HTTP (0x%02x, %zd bytes): %s",
           status, (unsigned char)buf[0], n, why);
    raw_answer(fd, status, why);
    return true;
}

void fc__conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
    struct srv_thread *st = cls;
    fc__server *s = st->s;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct srv_conn *cc = calloc(1, sizeof(*cc));
        *socket_context = cc;
        if (!cc)
            return;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        cc->fd = ci ? ci->connect_fd : -1;
        cc->state = CONN_WAITING;
        cc->since = fc__now_ms();
        cc->closed = st->adopting;
        cc->closed_ud = st->adopting_ud;
        st->adopting = NULL;
        /* first bytes that are not HTTP (junk, TLS): 400 and shut at once;
         * the state keeps the sweep and the access handler off the socket */
        if (cc->fd >= 0 && screen(cc->fd))
            cc->state = CONN_TIMED_OUT;
        fc__list_push_front(&st->conns, &cc->link);
        cc->over_limit = atomic_fetch_add(&s->nconns, 1) + 1 > s->app->cfg.max_connections;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct srv_conn *cc = *socket_context;
        if (!cc)
            return;
        fc__list_remove(&cc->link);
        atomic_fetch_sub(&s->nconns, 1);
        if (cc->closed)
            cc->closed(cc->closed_ud);
        free(cc);
        *socket_context = NULL;
    }
}

/* libmicrohttpd writes the response's header lines into the connection's
 * memory pool, which already holds the request's header lines and a record
 * for each header, query argument and cookie (the decoy's: see
 * fc__conn_hide_cookies). A request that fills the pool to within a few hundred bytes
 * passed its own 431 check, but its answer would not fit and the
 * connection would close with no answer at all. So a request that leaves
 * less than FC__RESPONSE_ROOM for the answer gets a 431 at once. */
#define FC__RESPONSE_ROOM 1024
#define FC__MHD_VALUE_COST 64 /* libmicrohttpd's record of one value, rounded up */
/* The connection memory a request takes: its header lines (@p header_size)
 * and libmicrohttpd's record of each value. */
static size_t pool_used(struct MHD_Connection *conn, size_t header_size)
{
    size_t used = header_size;
    int n = MHD_get_connection_values(conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND | MHD_COOKIE_KIND, NULL, NULL);
    if (n > 0)
        used += (size_t)n * FC__MHD_VALUE_COST;
    return used;
}

static bool no_room_for_answer(const fc_app *app, struct MHD_Connection *conn)
{
    size_t pool = app->cfg.connection_memory;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!ci)
        return false;
    size_t used = ci->header_size;
    /* every value takes at least 3 bytes of the header ("a:" CRLF, "a&"),
     * so small requests (nearly all) are done here without counting */
    if (used * (2 + FC__MHD_VALUE_COST / 3 + 1) + FC__RESPONSE_ROOM <= pool)
        return false;
    return pool_used(conn, used) + FC__RESPONSE_ROOM > pool;
}

bool fc__conn_answer_fits(const fc_app *app, struct MHD_Connection *conn, size_t answer_bytes)
{
    /* a request passed no_room_for_answer: FC__RESPONSE_ROOM is there */
    if (answer_bytes <= FC__RESPONSE_ROOM / 2)
        return true;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t used = pool_used(conn, ci ? ci->header_size : 0);
    return used + answer_bytes + FC__RESPONSE_ROOM / 2 <= app->cfg.connection_memory;
}

/* Whether the client has closed its side: its FIN is the next thing to read.
 * libmicrohttpd 0.9.75 (edge-triggered epoll) stops reading a connection after
 * a short read; when a client's last header bytes and its FIN arrive in one
 * edge, it reads the bytes and never sees the FIN, and the connection (and
 * the request made at its request line) would wait for the header timeout.
 * The sweep finds those and shuts the socket: the new edge lets
 * libmicrohttpd read the end and close. */
static bool peer_closed(int fd)
{
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* The owning thread, every second: a connection that has been waiting
 * longer than the header timeout for its request's headers (slowloris, or
 * idle) gets a 408 and its socket shut; libmicrohttpd then closes it. One
 * waiting for a second whose client has gone has its socket shut too.
 * Nothing else writes to a connection in that state. */
static void sweep(void *ud)
{
    struct srv_thread *st = ud;
    uint64_t now = fc__now_ms(), limit = (uint64_t)st->s->app->cfg.header_timeout_s * 1000;
    struct srv_conn *cc;
    FC__LIST_EACH(cc, nx, &st->conns, struct srv_conn, link) {
        if (cc->state != CONN_WAITING || cc->fd < 0)
            continue;
        if (limit && fc__waited_at_least(now, cc->since, limit)) {
            cc->state = CONN_TIMED_OUT;
            raw_answer(cc->fd, 408, "The request headers did not arrive in time.");
        } else if (fc__waited_at_least(now, cc->since, 1000) && peer_closed(cc->fd)) {
            cc->state = CONN_TIMED_OUT;
            shutdown(cc->fd, SHUT_RDWR);
        }
    }
    st->sweep = fc__loop_timer(st->loop, 1000, sweep, st);
}

void fc__conn_sweep_start(struct srv_thread *st)
{
    st->sweep = fc__loop_timer(st->loop, 1000, sweep, st); /* also with no header timeout */
}

void fc__conn_sweep_stop(struct srv_thread *st)
{
    if (st->sweep && fc__loop_timer_cancel(st->loop, st->sweep) == 0)
        st->sweep = NULL;
}

/*
 * Header lines libmicrohttpd takes though RFC 9112 says to reject them
 * (400): whitespace before the colon or before the first field (the name
 * then holds it), and obs-fold — a line continued on the next, which
 * libmicrohttpd 0.9.75 glues to the header's *name* ("X-F: v" + " cont"
 * becomes "X-Fcont: v"). A glued name is a copy elsewhere in the
 * connection's memory, while a parsed name sits just before its value in
 * the request's bytes: that is how it shows.
 */
struct hdr_check {
    bool bad;
};

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct hdr_check *c = cls;
    (void)kind;
    if (fc__conn_is_decoy(key))
        return MHD_YES;
    size_t kl = strlen(key);
    if (!fc__token_ok(key) || !value || value <= key + kl || (size_t)(value - (key + kl)) > 1024) {
        c->bad = true;
        return MHD_NO;
    }
    return MHD_YES;
}

static bool headers_malformed(struct MHD_Connection *conn)
{
    struct hdr_check c = {false};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, check_header, &c);
    return c.bad;
}

/*
 * libmicrohttpd 0.9.75 parses the first Cookie header of every request into
 * its MHD_COOKIE_KIND values after the header block and before the first
 * call, and cannot be told not to (1.0 made it a build option). libflaskc
 * does not use those values (http.c reads the header as Werkzeug does), and
 * that parser fails on a value ending in '="': it queues its own 431 and
 * frees the request's bytes, and the first call then runs anyway, so the
 * client got two answer heads; a header beginning with ';' made it read
 * before its copy. So a Cookie header of our own goes first in the
 * request's list, from the request line on (the only hook before the
 * headers): libmicrohttpd parses that one, "x=", and never sees the
 * client's. Its record, in libmicrohttpd's list like any header, is skipped
 * wherever headers are read (fc__conn_is_decoy). It also spares the
 * connection memory a copy of the Cookie header and a record per cookie.
 */
static const char decoy_key[] = "Cookie";
static const char decoy_value[] = "x=";

void fc__conn_hide_cookies(struct MHD_Connection *conn)
{
    /* libmicrohttpd wants this called from the access handler; uri_log runs
     * on the same thread, just before libmicrohttpd records the query's
     * arguments the same way. Out of connection memory this early, the
     * request cannot be served anyway: libmicrohttpd parses the client's
     * header, as it did before. */
    (void)MHD_set_connection_value(conn, MHD_HEADER_KIND, decoy_key, decoy_value);
}

bool fc__conn_is_decoy(const char *key)
{
    return key == decoy_key;
}

struct find_ctx {
    const char *name;
    size_t nlen;
    const char *v;
    size_t n;
};

static enum MHD_Result find_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct find_ctx *c = cls;
    (void)kind;
    if (!key || key == decoy_key || key_size != c->nlen ||
        fc__strncasecmp(key, c->name, key_size) != 0)
        return MHD_YES;
    c->v = value;
    c->n = value_size;
    return MHD_NO;
}

bool fc__conn_header(struct MHD_Connection *conn, const char *name, const char **value, size_t *len)
{
    /* MHD_lookup_connection_value_n's first match, but never the decoy */
    struct find_ctx c = {name, strlen(name), NULL, 0};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, find_header, &c);
    *value = c.v;
    *len = c.n;
    return c.v != NULL;
}

bool fc__conn_request_line(fc_app *app, struct MHD_Connection *conn, fc_request *req, const char *uri)
{
    struct srv_conn *cc = conn_of(conn);
    (void)req;
    if (!cc)
        return true;
    /* libmicrohttpd stores a record for every query argument in the
     * connection's memory next to the request's bytes, right after this
     * call; when they do not fit it closes the connection without an
     * answer. Count them first. */
    const char *q = strchr(uri, '?');
    size_t nargs = 0;
    for (const char *p = q; p && *p; p++)
        nargs += *p == '?' || *p == '&';
    size_t need = strlen(uri) + nargs * FC__MHD_VALUE_COST + (size_t)2 * FC__RESPONSE_ROOM;
    if (cc->fd >= 0 && cc->state != CONN_TIMED_OUT && need > app->cfg.connection_memory) {
        char why[256];
        snprintf(why, sizeof(why),
                 "The request target (%zu bytes, %zu query parameters) does not fit in the connection's "
                 "memory (FLASKC_CONNECTION_MEMORY=%zu).",
                 strlen(uri), nargs, app->cfg.connection_memory);
        fc_log(FC_LOG_DEBUG, "414: %s", why);
        raw_answer(cc->fd, 414, why);
        cc->state = CONN_TIMED_OUT;
        return false;
    }
    return true;
}

bool fc__conn_request_begins(fc_app *app, struct MHD_Connection *conn, fc_request *req)
{
    struct srv_conn *cc = conn_of(conn);
    if (!cc)
        return true;
    if (cc->state == CONN_TIMED_OUT)
        return false; /* answered 408 or 400, and shut */
    cc->state = CONN_IN_REQUEST;
    if (cc->fd >= 0 && headers_malformed(conn)) {
        fc_log(FC_LOG_DEBUG, "400: a folded header line, or whitespace in a header name");
        raw_answer(cc->fd, 400, "A header line is folded onto the next (obs-fold), or a header name holds "
                                "whitespace: neither is accepted (RFC 9112, section 5).");
        return false;
    }
    if (cc->fd >= 0 && no_room_for_answer(app, conn)) {
        fc_log(FC_LOG_DEBUG, "431: request headers leave no room for the answer");
        raw_answer(cc->fd, 431, "The request headers leave no room for the response in the "
                                "connection's memory (FLASKC_CONNECTION_MEMORY).");
        return false;
    }
    if (cc->over_limit) {
        req->reject_status = 503;
        req->reject_msg = "Too many connections. Please try again later.";
    }
    return true;
}

void fc__conn_request_ends(struct MHD_Connection *conn)
{
    struct srv_conn *cc = conn_of(conn);
    if (cc && cc->state == CONN_IN_REQUEST) {
        /* the next request's headers are timed from now */
        cc->since = fc__now_ms();
        cc->state = CONN_WAITING;
    }
}
