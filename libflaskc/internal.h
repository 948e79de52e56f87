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

#define FC__UNUSED __attribute__((unused))

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

/* ===== str.c: strings, lists and the small parsers (pure) ============== */

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

/** An ordered multi-map of strings, storage in an arena. Keys and values are
 *  NUL-terminated; vlen is the value's length (values may hold NUL bytes). */
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

/** Decode %XX in place (invalid escapes stay literal); '+' becomes ' ' when
 *  @p plus_is_space. Returns the new length; s is NUL-terminated after it. */
size_t fc__percent_decode(char *s, size_t len, bool plus_is_space);
/** Parse a query string (no leading '?') with Flask's rules: '&' separates
 *  (';' does not), "k" and "k=" give "", '+' is space, %XX decoded, empty
 *  pairs skipped. Copies into the arena. 0 or FC_ENOMEM. */
int fc__query_parse(const char *qs, size_t len, fc__arena *a, fc__kvlist *out);
/** Parse a Cookie header ("a=1; b=2"), values unquoted if quoted. */
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
/** ASCII case-insensitive compare. */
int fc__strcasecmp(const char *a, const char *b);
int fc__strncasecmp(const char *a, const char *b, size_t n);
/** True when @p s is valid UTF-8. */
bool fc__utf8_valid(const char *s, size_t len);
/** Parse a whole decimal integer string (no sign unless allow_sign, no spaces).
 *  0 ok, FC_ERANGE on overflow or junk. */
int fc__parse_ll(const char *s, size_t len, bool allow_sign, long long *out);
/** The mime type of a Content-Type value (lower-cased, no parameters) into the arena. */
char *fc__mimetype(fc__arena *a, const char *content_type);
/** A parameter of a Content-Type value ("boundary"), unquoted, into the arena; NULL if none. */
char *fc__content_type_param(fc__arena *a, const char *content_type, const char *param);
/** application/json or application/<x>+json (parameters ignored). */
bool fc__is_json_type(const char *content_type);
/** Format a Set-Cookie value into the buffer (name=value; Expires; Max-Age;
 *  Domain; Path; Secure; HttpOnly; SameSite). Value percent-encoded when it
 *  holds characters outside the cookie-octet set. FC_EINVAL for a bad name. */
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
/**
 * multipart/form-data body → fields and files (data point into the arena).
 * @p content_type is the whole header (for the boundary). Returns 0,
 * FC_EINVAL (malformed: *err set to a static reason), FC_ERANGE (a limit was
 * passed: *err says which), FC_ENOMEM.
 */
int fc__form_multipart(const char *body, size_t len, const char *content_type,
                       const fc__form_limits *lim, fc__arena *a, fc__kvlist *fields,
                       fc__filelist *files, const char **err);

/* ===== router.c: rules, radix tree, matching, url_for (pure) =========== */
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
void fc__loop_free(fc__loop *l);       /* stops if needed; frees pending timers without calling them */
bool fc__loop_is_current(const fc__loop *l);
/** Run cb(ud) on the loop thread soon (any thread; FIFO). 0 or FC_ENOMEM. */
int fc__loop_post(fc__loop *l, void (*cb)(void *ud), void *ud);
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

typedef struct fc__pool fc__pool;
/** @p threads workers, at most @p queue_max queued jobs (0 = unbounded). */
fc__pool *fc__pool_new(unsigned threads, size_t queue_max);
/** Queue fn(ud). 0, FC_EAGAIN (queue full), FC_ENOMEM, FC_ECANCELED (stopping). */
int fc__pool_submit(fc__pool *p, void (*fn)(void *ud), void *ud);
/** Run every queued job, then join the threads and free. */
void fc__pool_free(fc__pool *p);

/* ===== log.c ============================================================= */
void fc__log_access(const char *method, const char *path, int status, uint64_t bytes,
                    double ms, const char *addr);

#endif /* FLASKC_INTERNAL_H */
