/* internal.h — struct bodies and fc__ prototypes shared by the library's
 * modules, grouped by module. Never installed. */
#ifndef FLASKC_INTERNAL_H
#define FLASKC_INTERNAL_H

#ifndef FC_BUILDING_LIBRARY
#define FC_BUILDING_LIBRARY 1
#endif
#include "flaskc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "settings.h"

/* ===== arena.c: per-request memory ===================================== */
typedef struct fc__arena fc__arena;
/** New arena whose blocks are @p block_size bytes (0 = 4096). NULL on OOM. */
fc__arena *fc__arena_new(size_t block_size);
/** 16-byte aligned memory, NULL on OOM. Never freed individually. */
void *fc__arena_alloc(fc__arena *a, size_t n);
void *fc__arena_calloc(fc__arena *a, size_t n);
char *fc__arena_strndup(fc__arena *a, const char *s, size_t n);
char *fc__arena_strdup(fc__arena *a, const char *s);
/** Run fn(p) when the arena is freed (newest first). FC_ENOMEM, then fn is not run. */
int fc__arena_defer(fc__arena *a, void (*fn)(void *), void *p);
void fc__arena_free(fc__arena *a);

/* ===== str.c: strings, buffers, kv lists, case, UTF-8, integers (pure) = */

/** A growable byte buffer on the heap (not the arena). */
typedef struct fc__buf {
    char *data; /* NUL-terminated when len > 0 or after fc__buf_cstr */
    size_t len;
    size_t cap;
} fc__buf;
int fc__buf_append(fc__buf *b, const void *p, size_t n); /* 0 or FC_ENOMEM */
int fc__buf_puts(fc__buf *b, const char *s);
int fc__buf_printf(fc__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *fc__buf_cstr(fc__buf *b); /* "" when empty; NULL on OOM */
void fc__buf_free(fc__buf *b);

/** An ordered multi-map of strings in an arena: keys, values NUL-terminated; vlen its length. */
typedef struct fc__kv {
    const char *key;
    const char *value;
    size_t vlen;
} fc__kv;
typedef struct fc__kvlist {
    fc__kv *items;
    size_t n;
    size_t cap;
} fc__kvlist;
/** Append (pointers are stored, not copied). 0 or FC_ENOMEM. */
int fc__kv_add(fc__kvlist *l, fc__arena *a, const char *key, const char *value, size_t vlen);
/** First value for @p key (exact match), NULL if none. */
const char *fc__kv_get(const fc__kvlist *l, const char *key);
/** First value for @p key (ASCII case-insensitive), NULL if none. */
const char *fc__kv_get_ci(const fc__kvlist *l, const char *key);
/** All values for @p key (exact), in an arena array; *n = count; NULL when none. */
const char *const *fc__kv_list(const fc__kvlist *l, fc__arena *a, const char *key, size_t *n);

/** ASCII case-insensitive compare. */
int fc__strcasecmp(const char *a, const char *b);
int fc__strncasecmp(const char *a, const char *b, size_t n);
/** Where fc__utf8_seq is 0: the length of the maximal invalid subsequence at s (the bytes one
 *  U+FFFD replaces, as Unicode 15 section 3.9 and Python's "replace" handler have it), >= 1. */
size_t fc__utf8_bad(const char *s, size_t n);
/** True when @p s is valid UTF-8. */
bool fc__utf8_valid(const char *s, size_t len);
/** Length of the valid UTF-8 sequence at @p s (@p n > 0 bytes available), 0 if invalid. */
size_t fc__utf8_seq(const char *s, size_t n);
/** Narrow [*@p b, *@p e) by the whitespace Python's str.strip() removes (Werkzeug strips header
 *  parts so): ASCII 09-0D, 1C-1F, space, and the Unicode spaces (U+00A0, U+2000...) in UTF-8. */
void fc__space_trim(const char **b, const char **e);
typedef enum fc__charset { FC__CS_UTF8, FC__CS_ASCII, FC__CS_LATIN1 } fc__charset; /* Werkzeug's */
/** The one rule for text handed out (query, form fields and names, file names): [@p s, +@p n)
 *  read in @p cs, into the arena as UTF-8 without NUL; each NUL and each byte invalid in @p cs
 *  becomes "%XX" (Werkzeug's "werkzeug.url_quote" handler). *out_len set; NULL on OOM. */
char *fc__text_clean(fc__arena *a, const char *s, size_t n, fc__charset cs, size_t *out_len);
/** Parse a whole decimal integer (no sign unless allow_sign, no spaces). 0, or FC_ERANGE. */
int fc__parse_ll(const char *s, size_t len, bool allow_sign, long long *out);

/* ===== http.c: HTTP syntax: query, cookies, content types, dates (pure) = */
/** The value of a hex digit, -1 if @p c is not one. */
int fc__hexval(unsigned char c);

/** Decode %XX in place (invalid escapes stay literal); '+' becomes ' ' when
 *  @p plus_is_space. Returns the new length; s is NUL-terminated after it. */
size_t fc__percent_decode(char *s, size_t len, bool plus_is_space);
/** A query string (no '?') by Flask's rules: '&' separates (not ';'), "k" and "k=" give "",
 *  '+' is space, %XX decoded (text as fc__text_clean has it), empty pairs skipped. 0, FC_ENOMEM. */
int fc__query_parse(const char *qs, size_t len, fc__arena *a, fc__kvlist *out);
/** Parse a Cookie header ("a=1; b=2") as Werkzeug 3: unquoted values as
 *  sent, quoted ones unescaped; bytes that are not UTF-8 as %XX. */
int fc__cookies_parse(const char *header, fc__arena *a, fc__kvlist *out);
/** Percent-encode @p s (len bytes) into the buffer: unreserved and the bytes in
 *  @p safe stay; space becomes "%20" (or '+' when @p space_plus). */
int fc__url_encode(fc__buf *b, const char *s, size_t len, const char *safe, bool space_plus);
/** HTML-escape (& < > " ') into the buffer. */
int fc__html_escape(fc__buf *b, const char *s);
/** Append a JSON string literal (with quotes), escaping as JSON requires. */
int fc__json_escape(fc__buf *b, const char *s);
/** True when @p s is a valid HTTP header field value (no CR, LF or NUL). */
bool fc__header_value_ok(const char *s);
/** True when @p s is a non-empty RFC 7230 token (header name, method). */
bool fc__token_ok(const char *s);
/** The mime type of a Content-Type value (lower-cased, no parameters) into the arena. */
char *fc__mimetype(fc__arena *a, const char *content_type);
/** A parameter of a Content-Type value ("boundary"), unquoted, into the arena; NULL if none. */
char *fc__content_type_param(fc__arena *a, const char *content_type, const char *param);
/** fc__content_type_param, and *@p quoted: whether the value found was a quoted string. */
char *fc__header_param(fc__arena *a, const char *content_type, const char *param, bool *quoted);
/** application/json or application/<x>+json (parameters ignored). */
bool fc__is_json_type(const char *content_type);
/** A Set-Cookie value into the buffer (name=value; Expires; Max-Age; Domain; Path; Secure;
 *  HttpOnly; SameSite), the value quoted and escaped as Werkzeug's dump_cookie when it
 *  needs it. FC_EINVAL for a bad name. */
int fc__cookie_format(fc__buf *b, const char *name, const char *value, const fc_cookie_opts *o,
                      long long now_unix);
/** The HTTP date for a unix time ("Thu, 01 Jan 1970 00:00:00 GMT"), into buf[30]. */
void fc__http_date(long long t, char buf[30]);
/** The reason phrase for a status ("Not Found"), "Unknown" if none. */
const char *fc__status_phrase(int status);

/* ===== form.c: request bodies as forms (pure) ========================== */
struct fc_file {
    const char *field;
    const char *filename;
    const char *content_type;
    const char *data;
    size_t size;
};
typedef struct fc__filelist {
    fc_file *items;
    size_t n;
    size_t cap;
} fc__filelist;
typedef struct fc__form_limits {
    size_t max_parts;      /* 1000 */
    size_t max_field_size; /* non-file field value, 500000 */
} fc__form_limits;
/** x-www-form-urlencoded body → fields. 0, FC_ENOMEM. */
int fc__form_urlencoded(const char *body, size_t len, fc__arena *a, fc__kvlist *fields);
/** multipart/form-data body → fields (text as fc__text_clean has it) and files (bytes), into
 *  the arena. @p content_type: the whole header (boundary). 0, FC_EINVAL (malformed) or
 *  FC_ERANGE (a limit), each with a static *err, FC_ENOMEM. */
int fc__form_multipart(const char *body, size_t len, const char *content_type,
                       const fc__form_limits *lim, fc__arena *a, fc__kvlist *fields,
                       fc__filelist *files, const char **err);

/* ===== rule.c, router.c: rules, radix tree, matching, url_for (pure) === */
enum {
    FC__M_GET = 1u << 0,
    FC__M_HEAD = 1u << 1,
    FC__M_POST = 1u << 2,
    FC__M_PUT = 1u << 3,
    FC__M_DELETE = 1u << 4,
    FC__M_PATCH = 1u << 5,
    FC__M_OPTIONS = 1u << 6,
    FC__M_TRACE = 1u << 7,
    FC__M_CONNECT = 1u << 8,
};
/** The bit of a method name (exact, upper-case), 0 for an unknown method. */
unsigned fc__method_bit(const char *name);
/** Parse "GET,POST" / "GET POST" / "GET|POST" into a mask. FC_EINVAL on an
 *  unknown or empty method list. */
int fc__methods_parse(const char *spec, unsigned *mask);
/** Format a mask as an Allow value ("GET, HEAD, POST, OPTIONS") into buf. */
void fc__methods_format(unsigned mask, char *buf, size_t cap);

typedef enum {
    FC__ARG_STRING,
    FC__ARG_INT,
    FC__ARG_FLOAT,
    FC__ARG_PATH,
    FC__ARG_UUID,
    FC__ARG_ANY,
} fc__argtype;
typedef struct fc__arg {
    const char *name;  /* borrowed from the router */
    const char *value; /* decoded text in the arena (uuid lower-cased) */
    fc__argtype type;
    long long i;       /* FC__ARG_INT */
    double d;          /* FC__ARG_FLOAT */
} fc__arg;

#define FC__RULE_NO_STRICT_SLASHES 0x1u
#define FC__RULE_NO_AUTO_OPTIONS 0x2u

typedef struct fc__router fc__router;
fc__router *fc__router_new(void);
void fc__router_free(fc__router *r);
/**
 * Add a rule. @p methods: mask; HEAD is added when GET is in it; OPTIONS is
 * added unless FC__RULE_NO_AUTO_OPTIONS. @p endpoint copied. @p route is
 * returned by a match. Errors: FC_EINVAL (syntax; @p err gets a reason),
 * FC_EEXIST (same rule with an overlapping method), FC_ENOMEM.
 */
int fc__router_add(fc__router *r, const char *rule, unsigned methods, const char *endpoint,
                   void *route, unsigned flags, char *err, size_t errlen);

typedef enum {
    FC__MATCH_OK,
    FC__MATCH_NOT_FOUND,
    FC__MATCH_METHOD_NOT_ALLOWED, /* allow = allowed methods */
    FC__MATCH_REDIRECT,           /* redirect_path = canonical path (308) */
    FC__MATCH_OPTIONS,            /* automatic OPTIONS: allow = allowed methods */
} fc__match_kind;
typedef struct fc__match {
    fc__match_kind kind;
    void *route;          /* OK */
    const char *endpoint; /* OK: borrowed from the router */
    const char *rule;     /* OK: borrowed */
    fc__arg *args;        /* OK: arena array */
    size_t nargs;
    unsigned allow;
    const char *redirect_path; /* REDIRECT: decoded path, arena */
    bool refused; /* NOT_FOUND/405 as a converter refused a value of the rule found */
} fc__match;
/**
 * Match a decoded @p path for @p method (a mask bit; 0 = unknown method).
 * Werkzeug semantics: static beats variable, converter weights, branch rules
 * redirect, merged '//' redirect, HEAD answered by GET routes, automatic
 * OPTIONS. Returns 0 (see out->kind) or FC_ENOMEM.
 */
int fc__router_match(const fc__router *r, unsigned method, const char *path, size_t pathlen,
                     fc__arena *a, fc__match *out);
/** url_for: see fc_url_for; kv = NULL-terminated name/value pairs. *out malloc'ed. */
int fc__router_build(const fc__router *r, const char *endpoint, const char *const *kv, char **out);
/** Number of rules (for tests and the route listing). */
size_t fc__router_count(const fc__router *r);

/* ===== loop.c: the event-loop thread and the worker pool =============== */
typedef struct fc__loop fc__loop;
typedef struct fc__timer fc__timer;
typedef struct fc__watch fc__watch;
#define FC__EV_READ 0x1u
#define FC__EV_WRITE 0x2u
#define FC__EV_HUP 0x4u /* peer closed / error (EPOLLRDHUP|EPOLLHUP|EPOLLERR) */

fc__loop *fc__loop_new(void);
int fc__loop_start(fc__loop *l);       /* spawns the thread */
void fc__loop_stop(fc__loop *l);       /* runs posted callbacks, then joins */
bool fc__loop_started(fc__loop *l);    /* a thread runs (or ran) it */
void fc__loop_free(fc__loop *l);       /* stops if needed; frees pending timers without calling them */
bool fc__loop_is_current(const fc__loop *l);
/** The loop whose thread is calling, NULL on any other thread. */
fc__loop *fc__loop_current(void);
/** Run cb(ud) on the loop thread soon (any thread; FIFO). 0, FC_ENOMEM, or
 *  FC_ECANCELED once the loop is stopping (cb never runs then). From the
 *  loop's own thread it costs no system call: cb runs at the end of the
 *  current iteration. */
int fc__loop_post(fc__loop *l, void (*cb)(void *ud), void *ud);
/** A post node embedded in the poster's own memory: posting it allocates
 *  nothing, so it cannot fail for lack of memory. It must stay put and not
 *  be posted again until its callback has begun. */
typedef struct fc__post {
    struct fc__post *next;
    void (*cb)(void *ud);
    void *ud;
    bool heap;       /* malloc'ed by fc__loop_post */
    bool run_at_free; /* a watch's release: run even when the loop never ran */
} fc__post;
/** fc__loop_post with the caller's node: 0, or FC_ECANCELED once the loop
 *  is stopping. */
int fc__loop_post_node(fc__loop *l, fc__post *node, void (*cb)(void *ud), void *ud);
/** Work was queued for the loop outside its post queue (an idle hook will
 *  find it): on the loop thread the next wait does not block; from another
 *  thread the loop is woken. */
void fc__loop_poke(fc__loop *l);
/** Before starting the loop (or on its thread): run cb(ud) before every wait,
 *  in @p order (lowest first). cb returns the longest it lets the loop wait
 *  in ms, or -1 for no limit. At most 4 hooks: FC_EINVAL past that. */
int fc__loop_on_idle(fc__loop *l, int order, int (*cb)(void *ud), void *ud);
/** Remove an idle hook (before start or on the loop's thread). */
void fc__loop_off_idle(fc__loop *l, int (*cb)(void *ud), void *ud);
/** The polling thread's number in its app (0..threads-1). */
void fc__loop_set_index(fc__loop *l, unsigned index);
unsigned fc__loop_index(const fc__loop *l);
/** One-shot timer, any thread; cb runs on the loop thread. NULL on OOM. */
fc__timer *fc__loop_timer(fc__loop *l, uint64_t ms, void (*cb)(void *ud), void *ud);
/** Cancel: 0 when it will not run (the timer is freed), FC_EALREADY when it
 *  already ran or is running (the timer is freed by the loop after cb). */
int fc__loop_timer_cancel(fc__loop *l, fc__timer *t);
/** Watch @p fd for events (FC__EV_*); cb on the loop thread. Any thread. */
fc__watch *fc__loop_watch(fc__loop *l, int fd, unsigned events,
                          void (*cb)(int fd, unsigned revents, void *ud), void *ud);
int fc__loop_watch_modify(fc__loop *l, fc__watch *w, unsigned events);
/** Stop watching; after it returns (on the loop thread) cb is never called again;
 *  from another thread, cb may still be running once. */
void fc__loop_unwatch(fc__loop *l, fc__watch *w);
/** Monotonic milliseconds. */
uint64_t fc__now_ms(void);
/* Milliseconds from @p t (an fc__now_ms() value, possibly taken by another
 * thread a moment later than ours) to now; 0, never a wrapped huge value,
 * when @p t is not in the past. */
static inline uint64_t fc__ms_since(uint64_t t)
{
    uint64_t now = fc__now_ms();
    return now > t ? now - t : 0;
}
/* The header-timeout test of the server's sweep: waiting since @p since, at
 * @p now, for at least @p limit ms. A @p since after @p now (stamped by
 * another thread after @p now was read) is fresh. */
static inline bool fc__waited_at_least(uint64_t now, uint64_t since, uint64_t limit)
{
    return since < now && now - since >= limit;
}

typedef struct fc__pool fc__pool;
/** @p threads workers, at most @p queue_max queued jobs (0 = unbounded). */
fc__pool *fc__pool_new(unsigned threads, size_t queue_max);
/** Queue fn(ud). 0, FC_EAGAIN (queue full), FC_ENOMEM, FC_ECANCELED (stopping). */
int fc__pool_submit(fc__pool *p, void (*fn)(void *ud), void *ud);
/** Run every queued job, then join the threads and free. */
void fc__pool_free(fc__pool *p);


/* ===== core: app, blueprint, request, response (app.c, blueprint.c,
 * config.c, dispatch.c, request.c, response.c, async.c) ================= */

/* One member per row of settings.h's FC__SETTINGS, typed by its kind. */
typedef struct fc__config {
#define FC__CONFIG_FIELD(NAME, field, kind, ...) FC__CTYPE_##kind field;
    FC__SETTINGS(FC__CONFIG_FIELD)
#undef FC__CONFIG_FIELD
    size_t max_form_parts; /* no setter nor FLASKC_ twin yet */
    size_t max_form_field;
    int env_err;       /* FC_EINVAL when a FLASKC_* value was bad: the app will not start */
    char env_msg[400]; /* the first bad value's message (name, value, accepted range) */
} fc__config;
/** Defaults (settings.h) into @p c: 0 or FC_ENOMEM. */
int fc__config_defaults(fc__config *c);
/** Apply FLASKC_* variables: 0, FC_ENOMEM, or FC_EINVAL when a value was bad
 *  (each logged; the first kept in env_err/env_msg; others still applied). */
int fc__config_from_env(fc__config *c);
void fc__config_free(fc__config *c);

typedef struct fc__bproute {
    unsigned methods;
    char *rule;
    fc_handler fn;
    char *endpoint;
    unsigned flags;
} fc__bproute;

typedef struct fc__errh {
    int status;
    fc_error_fn fn;
} fc__errh;

/* A growable array of function pointers / small structs on the heap. */
#define FC__VEC(T)                                                             \
    struct {                                                                   \
        T *v;                                                                  \
        size_t n, cap;                                                         \
    }
int fc__vec_grow(void **v, size_t *cap, size_t n, size_t elem);
#define FC__VEC_PUSH(vec, item)                                                \
    (fc__vec_grow((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof(*(vec).v)) \
         ? FC_ENOMEM                                                           \
         : ((vec).v[(vec).n++] = (item), 0))

struct fc_blueprint {
    char *name;
    char *prefix;
    FC__VEC(fc__bproute) routes;
    FC__VEC(fc_blueprint *) children;
    FC__VEC(fc_before_fn) before;
    FC__VEC(fc_after_fn) after;
    FC__VEC(fc_teardown_fn) teardown;
    FC__VEC(fc__errh) errh;
    int saved_err;      /* first error of a constructor-time registration */
    char saved_msg[160];
    unsigned registered; /* apps it is registered with (frozen while > 0 apps run) */
};

/* A route as the app sees it: the handler plus the chain of blueprints that
 * own it (outermost first) for hooks and error handlers. */
#define FC__MAX_NEST 8
typedef struct fc__approute {
    fc_handler fn;
    unsigned flags;
    char *endpoint;  /* "films.get_film" */
    char *bpname;    /* "films", "" for app routes */
    fc_blueprint *chain[FC__MAX_NEST];
    unsigned nchain;
} fc__approute;

typedef struct fc__server fc__server;
typedef struct fc__pg fc__pg;

struct fc_app {
    char *name;
    fc__config cfg;
    fc__router *router;
    FC__VEC(fc__approute *) routes;
    FC__VEC(fc_blueprint *) bps;
    FC__VEC(fc_before_fn) before;
    FC__VEC(fc_after_fn) after;
    FC__VEC(fc_teardown_fn) teardown;
    FC__VEC(fc__errh) errh;
    atomic_bool frozen;
    pthread_mutex_t start_mu;
    /* the polling threads: each owns its connections, its database
     * connections, its timers and its deferred requests */
    fc__loop **loops;
    unsigned nloops;
    atomic_uint next_loop; /* round robin for the test client's connections */
    fc__pool *pool;
    fc__server *server;
    fc__server *test_server; /* daemons without a listening socket, for the test client */
    fc__pg *pg;
    atomic_int stop_requested;
    bool running_in_run;
    pthread_t run_thread;
    /* requests alive (created, not yet freed) and the deferred ones */
    atomic_long active;
    pthread_mutex_t deferred_mu;
    fc__link deferred; /* parked requests (fc_request.dlink), for the shutdown */
};
/** Freeze configuration and start the polling threads' loops and the pool
 *  (idempotent, thread-safe). */
int fc__app_freeze(fc_app *app);
/** Stop and free the loops (after the server and the database pool). */
void fc__app_loops_free(fc_app *app);

/* The transport a request came through: libmicrohttpd's connections
 * (server.c), also for the test client, whose connections are adopted by the
 * same daemons. Kept as a table so that the layers below the server (life,
 * dispatch, request) never call it by name. */
typedef struct fc__transport {
    /** The response is final: hand it to the client. Called exactly once,
     *  on any thread, after the after-hooks ran. */
    void (*complete)(fc_request *req);
    /** The handler returned without answering: park the connection. Called
     *  with req->mu held, on the thread that ran the handler. */
    void (*suspend)(fc_request *req);
    /** A parked stream has data again (fc_stream_wake); any thread. */
    void (*stream_wake)(fc_request *req);
    /** The client's address as text, in the arena (mu held); NULL = "". */
    const char *(*remote_addr)(fc_request *req);
    /** A request header, case-insensitive, copied into the arena (mu held):
     *  valid until the request ends. */
    const char *(*header)(fc_request *req, const char *name);
    /** Every header, copied into the arena and appended to @p out (mu held). */
    void (*headers_copy)(fc_request *req, fc__kvlist *out);
} fc__transport;

typedef enum {
    FC__BODY_NONE,
    FC__BODY_MEM,    /* body/len: arena or static memory */
    FC__BODY_TAKEN,  /* taken: malloc'ed, freed by the transport */
    FC__BODY_STREAM,
} fc__body_kind;

typedef struct fc__response {
    int status;
    fc__kvlist headers; /* names and values in the arena */
    fc__body_kind kind;
    const char *body;
    size_t len;
    void *taken;
    fc_stream_fn stream_fn;
    void *stream_ud;
    void (*stream_free)(void *ud);
} fc__response;

enum {
    FC__ST_RUNNING = 0, /* handler (or hooks) running on some thread */
    FC__ST_DEFERRED,    /* handler returned; waiting for an answer */
    FC__ST_FINISHING,   /* answered; after-hooks running / handing over */
    FC__ST_DONE,        /* handed to the transport */
};

struct fc_request {
    fc_app *app;
    fc__loop *loop;            /* the polling thread that owns the request */
    fc__arena *arena;
    const fc__transport *tp;
    void *tp_ctx;
    atomic_int refs;
    pthread_mutex_t mu;        /* recursive (request.c) */
    int state;                 /* FC__ST_*, under mu */
    bool answered;             /* under mu */
    bool deferred;             /* fc_request_defer was called */
    bool in_error_handler;
    bool canceled;             /* claimed by the library (deadline, disconnect, shutdown) */
    bool teardown_done;
    bool suspended;            /* transport parked the connection */
    int error_status;          /* the status passed to fc_abort, 0 if none */
    /* request line */
    const char *method;
    unsigned mbit;
    char *path;
    size_t pathlen;
    const char *query_raw;
    const char *remote_addr;
    bool remote_addr_done;
    /* lazily parsed */
    bool query_parsed, cookies_parsed, form_parsed, json_parsed;
    fc__kvlist query;
    fc__kvlist cookies;
    fc__kvlist form;
    fc__filelist files;
    struct json_object *json;
    int form_error;
    const char *form_error_msg;
    /* body */
    char *body;
    size_t body_len;
    size_t body_cap;
    bool body_too_large;
    const char *bad_request;   /* set by the transport: answer 400 with this reason */
    int reject_status;         /* set by the transport: answer this status (503...) */
    const char *reject_msg;
    bool oom;
    /* routing */
    fc__match match;
    const fc__approute *route;
    /* response */
    fc__response res;
    /* async */
    void (*cancel_fn)(fc_request *req, void *ud);
    void *cancel_ud;
    fc__timer *deadline;
    fc__watch *hup_watch;
    int sock_fd;
    fc__link dlink;            /* in app->deferred while parked */
    fc__post arm_post, disarm_post, cancel_post; /* to the owning thread, each once */
    bool cancel_posted;        /* under app->deferred_mu */
    uint64_t deferred_at;
    FC__VEC(struct fc__bgtask) bg;
    void *user_data;
    uint64_t start_ms;
};
struct fc__bgtask {
    void (*fn)(void *ud);
    void *ud;
};

/** Create a request in a new arena (refs = 1, owned by the transport),
 *  owned by the polling thread of @p loop. */
fc_request *fc__request_new(fc_app *app, fc__loop *loop, const fc__transport *tp, void *tp_ctx);
/** Free the request's memory (the last reference is gone: life.c). */
void fc__request_free(fc_request *req);
/** Set method and the raw request target (path?query); decodes the path.
 *  FC_EINVAL when the path is not valid UTF-8 or not absolute. */
int fc__request_set_target(fc_request *req, const char *method, const char *target);
/** Append body bytes; false (and body_too_large) once past the limit. */
bool fc__request_body_append(fc_request *req, const char *data, size_t len);

/* reply.c: the response under construction; the caller holds req->mu */
int fc__reply_header_add(fc_request *req, const char *name, const char *value);
void fc__reply_header_del(fc_request *req, const char *name);
/** Status, a default Content-Type (unless one is set), the body (copied into
 *  the arena when @p copy). FC_ENOMEM. */
int fc__reply_body(fc_request *req, int status, const char *ctype, const void *data, size_t len,
                   bool copy);
/** Out of memory while building an answer: a bare 500 that needs no memory. */
void fc__reply_oom(fc_request *req);
/** The client asked for JSON errors (Accept), or the app always sends them. */
bool fc__reply_wants_json(fc_request *req);
/** The default error body of @p status (Werkzeug's HTML page, or JSON). */
int fc__reply_error(fc_request *req, int status, const char *description, bool json);

/* life.c: a request's life */
void fc__request_ref(fc_request *req);
/** Drop a reference; the last one runs teardown (if not yet), queues the
 *  background tasks and frees the request. */
void fc__request_unref(fc_request *req);
/** The exactly-once protocol of every answer: begin takes req->mu and fails
 *  (FC_EALREADY, mu released) when the request was answered; end marks it
 *  answered, releases mu and, when the handler had already returned, hands
 *  the answer over (after hooks, teardown, transport) on this thread. */
int fc__life_answer_begin(fc_request *req, const char *what);
void fc__life_answer_end(fc_request *req);
/** The handler (and hooks) returned: hand an answer over, or park the
 *  request (suspend, deadline, disconnect watch) until its answer comes. */
void fc__life_returned(fc_request *req);
/** Answer on behalf of the library (deadline 504, disconnect 499, shutdown
 *  503): claims the request if still unanswered and runs its cancel callback. */
void fc__life_cancel(fc_request *req, int status, const char *why);
/** Shutdown: cancel every parked request with 503 (on its own thread). */
void fc__life_cancel_all(fc_app *app);

/* dispatch.c */
/** Route the request (fills match/route) — no handler runs. */
void fc__dispatch_route(fc_request *req);
/** Start a routed request: inline, or parked and run on the worker pool
 *  (FC_BLOCKING), or 503 when the pool is full. Both transports call it. */
void fc__dispatch_start(fc_request *req);
/** Run hooks + handler for a routed request on the current thread, then
 *  hand it to life.c. */
void fc__dispatch_run(fc_request *req);

/* reqline.c: is a new connection speaking HTTP at all? */
/** The status to answer at once for the first @p n bytes of a connection:
 *  400 when they cannot start an HTTP/1.x request line, with *why set to a
 *  sentence for the JSON body (static storage); 0 when they are HTTP as far
 *  as they go, or too few to tell (libmicrohttpd decides). Pure. */
int fc__reqline_check(const char *p, size_t n, const char **why);
/** Have the kernel hand over connections of the listening socket @p fd only
 *  once their first bytes are in (TCP_DEFER_ACCEPT, Linux), so that
 *  conn.c's screen sees them; a silent connection comes after ~1 s. */
void fc__reqline_defer_accept(int fd);

/* server.c */
int fc__server_start(fc_app *app);
/** Stop accepting, drain in-flight requests (grace), stop. */
void fc__server_stop(fc_app *app);
int fc__server_port(const fc_app *app);
/** Hand the connected socket @p fd to a polling thread's daemon (round
 *  robin), as a connection accepted from 127.0.0.1 — the test client's way
 *  onto the production path. The daemons (without a listening socket) start
 *  on first use. @p closed(@p ud) runs once, on that thread, when the
 *  connection is closed (also when it was refused). The socket is the
 *  daemon's from the call on (closed also on failure). 0 or FC_E*. */
int fc__server_adopt(fc_app *app, int fd, void (*closed)(void *ud), void *ud);
/** Stop the test client's daemons (fc_app_free). */
void fc__server_stop_test(fc_app *app);

/* testclient.c */
/** Parse an HTTP/1.x response in @p buf (1xx interim answers skipped; body
 *  by chunking, Content-Length or, with @p eof, the close; none for HEAD,
 *  204, 304). 1: complete, *out allocated (fc_test_response_free); 0: more
 *  bytes needed; -1: malformed or out of memory. */
int fc__test_parse(const char *buf, size_t len, bool head, bool eof, fc_test_response **out);

/* json.c */
/** RFC 8259 check in front of json-c: UTF-8, no control characters or lone surrogates in
 *  strings, integers within int64..uint64, no U+0000 in keys, depth 64 (json-c's); linear, no
 *  recursion. 0, or FC_ERANGE with *off (@p len: the text ended early) and a static *why. */
int fc__json_check(const char *text, size_t len, size_t *off, const char **why);
/** The same check, nesting up to @p max_depth (at most FC_JW_MAX_DEPTH); @p jsonc false: RFC
 *  8259 alone (any integer, U+0000 in keys), for JSON text that json-c will not parse. */
int fc__json_check_depth(const char *text, size_t len, unsigned max_depth, bool jsonc, size_t *off,
                         const char **why);
/** A JSON text as fc_request_json reads a body (fc__json_check, then json-c): *ok and the
 *  object (NULL for null), or *ok false when it is not such JSON or out of memory. */
struct json_object *fc__json_read(const char *text, size_t len, bool *ok);
/** Whether [s, +n) is exactly one RFC 8259 number (any size). */
bool fc__json_number(const char *s, size_t n);

/* jw.c: the writer's appends, for pg_json.c, which keeps the grammar itself
 * between fc__jw_value_begin and fc__jw_value_end. 0 or the sticky error. */
int fc__jw_fail(fc_jw *w, int err);
int fc__jw_reserve(fc_jw *w, size_t n);
void fc__jw_hint(fc_jw *w, size_t n); /* room for about n more bytes, if memory allows: no error */
unsigned fc__jw_depth_left(const fc_jw *w); /* containers that may still open */
char *fc__jw_buf(fc_jw *w); /* the fc_jw_pending bytes */
void fc__jw_advance(fc_jw *w, size_t n); /* n bytes written at fc__jw_buf + pending (reserved) */
int fc__jw_put(fc_jw *w, const char *s, size_t n);
int fc__jw_put_str(fc_jw *w, const char *s, size_t n); /* a quoted, escaped string */
int fc__jw_value_begin(fc_jw *w);
void fc__jw_value_end(fc_jw *w);
/** @p obj the library's way (compact, '/' not escaped) plus '\n', in the arena; NULL on OOM. */
char *fc__json_to_arena(fc_request *req, struct json_object *obj, size_t *len);

/* pg_front.c (the pool's other modules share libflaskc/pg_int.h) */
/** Create the pool, one part per polling thread (connections start with the loops). */
int fc__pg_start(fc_app *app);
/** Wait (bounded) for a first connection, after the loops started. */
void fc__pg_wait_first(fc_app *app);
void fc__pg_stop(fc_app *app);

/* ===== log.c ============================================================= */
void fc__log_access(const char *method, const char *path, int status, uint64_t bytes,
                    double ms, const char *addr);

#endif /* FLASKC_INTERNAL_H */
