/* flaskc.h — the one public header of libflaskc: Flask's way of writing
 * HTTP/JSON services in C, on libmicrohttpd, json-c and libpq.
 *
 * Ownership words used below:
 *   copied        the library copies the input; the caller may free it after the call.
 *   borrowed      a returned pointer stays valid until the stated event (usually the
 *                 end of the request); never free it.
 *   taken         the callee owns it from now on, also when the call fails.
 *   request-owned allocated in the request's arena and released when the request ends.
 *
 * Threads: routes, blueprints, hooks and settings may be changed until the app
 * starts (fc_app_run, fc_app_start or the first test-client request) and are
 * read-only after; late changes return FC_EBUSY.
 */
#ifndef FLASKC_H
#define FLASKC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FC_BUILDING_LIBRARY)
#define FC_API __attribute__((visibility("default")))
#else
#define FC_API
#endif

#define FC_VERSION_MAJOR 0
#define FC_VERSION_MINOR 1
#define FC_VERSION_PATCH 0
#define FC_VERSION_HEX ((FC_VERSION_MAJOR << 16) | (FC_VERSION_MINOR << 8) | FC_VERSION_PATCH)

struct json_object;

/** The library's version as "MAJOR.MINOR.PATCH" (static string). */
FC_API const char *fc_version_string(void);

/* ---------------------------------------------------------------------------
 * Errors: 0 or a negative FC_E* value. Values are never renumbered.
 * ------------------------------------------------------------------------- */
#define FC_ERRNO_MAP(X)                                                        \
    X(EINVAL, -1, "invalid argument")                                          \
    X(ENOMEM, -2, "out of memory")                                             \
    X(EBUSY, -3, "the app is running; configuration is frozen")               \
    X(EEXIST, -4, "already exists (duplicate rule or name)")                   \
    X(ENOENT, -5, "not found")                                                 \
    X(EAGAIN, -6, "queue full, try again later")                               \
    X(EALREADY, -7, "the request was already answered")                        \
    X(ESYS, -8, "system call failed (see errno / the log)")                    \
    X(EDB, -9, "database error")                                               \
    X(EDBDOWN, -10, "database unavailable")                                    \
    X(ETIMEDOUT, -11, "timed out")                                             \
    X(ECANCELED, -12, "canceled (client went away or shutdown)")               \
    X(ERANGE, -13, "value out of range or of the wrong type")

enum {
#define FC__ERR_ENUM(name, val, msg) FC_##name = (val),
    FC_ERRNO_MAP(FC__ERR_ENUM)
#undef FC__ERR_ENUM
};

/** A static message for an FC_E* code (unknown codes get "unknown error"). */
FC_API const char *fc_strerror(int err);

/* ---------------------------------------------------------------------------
 * Opaque handles
 * ------------------------------------------------------------------------- */
typedef struct fc_app fc_app;             /* an application: routes + settings + server */
typedef struct fc_blueprint fc_blueprint; /* a named group of routes, hooks, error handlers */
typedef struct fc_request fc_request;     /* one HTTP request and its response-to-be */
typedef struct fc_file fc_file;           /* an uploaded file of a multipart form (request-owned) */
typedef struct fc_test_response fc_test_response; /* an answer collected by the test client */

/* ---------------------------------------------------------------------------
 * Handlers and hooks
 * ------------------------------------------------------------------------- */

/**
 * A route handler. It answers with one of the fc_response_* functions, or
 * defers the answer (fc_request_defer, fc_after, fc_pool_run, fc_pg_query...)
 * and answers later from any thread. A handler that returns without answering
 * and without deferring gets a 500 and a log line naming its endpoint.
 *
 * Thread: by default a libmicrohttpd polling thread that also serves other
 * connections — it must not block. Routes registered with FC_BLOCKING run on
 * the worker pool instead and may block.
 */
typedef void (*fc_handler)(fc_request *req);

/**
 * before_request hook. Return true to continue, false when the hook answered
 * the request itself (an auth check answering 401): the handler is skipped,
 * after_request hooks and teardown still run. Same thread rules as handlers.
 */
typedef bool (*fc_before_fn)(fc_request *req);

/**
 * after_request hook: sees the response (status, headers) and may change it
 * with fc_response_set_status / fc_response_set_header / fc_response_cookie.
 * Runs on the thread that completed the request; must not block.
 */
typedef void (*fc_after_fn)(fc_request *req);

/**
 * teardown hook: always runs once per request, after the response is final,
 * also after errors. @p status is the final status code. Must not block and
 * must not answer.
 */
typedef void (*fc_teardown_fn)(fc_request *req, int status);

/**
 * Error handler for a status code. Called with the request whose response is
 * an error (fc_abort, routing 404/405, a forgotten answer's 500); it answers
 * with fc_response_* as a handler does. If it does not answer, the default
 * error body is used.
 */
typedef void (*fc_error_fn)(fc_request *req, int status);

/* ---------------------------------------------------------------------------
 * Blueprints and routes
 * ------------------------------------------------------------------------- */

/* Route flags */
#define FC_BLOCKING 0x1u          /* run on the worker pool; may block */
#define FC_NO_STRICT_SLASHES 0x2u /* "/x/" also answers "/x" (and "/x" answers "/x/") without 308 */
#define FC_NO_AUTO_OPTIONS 0x4u   /* no automatic OPTIONS for this rule */

/**
 * Create a blueprint. @p name (copied) is the endpoint prefix ("films" gives
 * "films.get_film"); empty for app-level routes. @p url_prefix (copied) is
 * prepended to every rule ("" or NULL for none). Returns NULL on bad input or
 * out of memory. Free with fc_blueprint_free after every app using it is freed.
 */
FC_API fc_blueprint *fc_blueprint_new(const char *name, const char *url_prefix);
FC_API void fc_blueprint_free(fc_blueprint *bp);

/**
 * Register a route. @p methods: one or more of GET POST PUT DELETE PATCH
 * OPTIONS HEAD TRACE, separated by commas, spaces or '|' ("GET,POST").
 * @p rule (copied): Werkzeug syntax, "/films/<int:id>/", converters string
 * (default), int, float, path, uuid, any(a,b). @p endpoint (copied) defaults
 * to the rule when NULL. @p flags: FC_BLOCKING, FC_NO_STRICT_SLASHES...
 * Errors are checked when the blueprint is registered with an app, and also
 * here for the syntax: FC_EINVAL (bad rule or method), FC_EEXIST (same rule,
 * method and blueprint registered twice), FC_EBUSY.
 */
FC_API int fc_route(fc_blueprint *bp, const char *methods, const char *rule,
                    fc_handler fn, const char *endpoint, unsigned flags);

/** Nest @p child inside @p parent (prefixes and endpoint names compose:
 *  "/api" + "/v1" + rule, "api.v1.view"). Borrowed: @p child must outlive parent's apps. */
FC_API int fc_blueprint_register(fc_blueprint *parent, fc_blueprint *child);

/** Per-blueprint hooks: run only for requests routed to this blueprint or its children. */
FC_API int fc_blueprint_before(fc_blueprint *bp, fc_before_fn fn);
FC_API int fc_blueprint_after(fc_blueprint *bp, fc_after_fn fn);
FC_API int fc_blueprint_teardown(fc_blueprint *bp, fc_teardown_fn fn);
/** Per-blueprint error handler; @p status 0 = any error status. Not for routing 404/405. */
FC_API int fc_blueprint_errorhandler(fc_blueprint *bp, int status, fc_error_fn fn);

/* Declaration macros: the rule stands right above the handler's body, as a
 * Flask decorator does. The handler's name is the endpoint ("films.get_film").
 *
 *     FC_BLUEPRINT(films, "/films");
 *     FC_ROUTE(films, "GET", "/<int:id>/", get_film) { ... }
 *
 * A file-scope blueprint is created by a constructor before main() and freed
 * at exit. Routes register from constructors too; errors there are logged and
 * make fc_app_register fail with the saved error. */
#define FC__CTOR_BP __attribute__((constructor(101)))
#define FC__CTOR_ROUTE __attribute__((constructor(102)))
#define FC__DTOR_BP __attribute__((destructor(101)))

#define FC_BLUEPRINT(var, prefix)                                              \
    fc_blueprint *var;                                                         \
    FC__CTOR_BP static void fc__bp_ctor_##var(void)                            \
    {                                                                          \
        var = fc_blueprint_new(#var, prefix);                                  \
    }                                                                          \
    FC__DTOR_BP static void fc__bp_dtor_##var(void)                            \
    {                                                                          \
        fc_blueprint_free(var);                                                \
        var = NULL;                                                            \
    }                                                                          \
    extern int fc__bp_semicolon_##var

/** Declare a blueprint defined in another file (for a shared header). */
#define FC_BLUEPRINT_EXTERN(var) extern fc_blueprint *var

#define FC_ROUTE_FLAGS(bp, methods, rule, fn, flags)                           \
    static void fn(fc_request *req);                                           \
    FC__CTOR_ROUTE static void fc__route_ctor_##fn(void)                       \
    {                                                                          \
        fc_route_decl(bp, methods, rule, fn, #fn, flags);                   \
    }                                                                          \
    static void fn(fc_request *req)

#define FC_ROUTE(bp, methods, rule, fn) FC_ROUTE_FLAGS(bp, methods, rule, fn, 0)
/** A route whose handler may block: runs on the worker pool. */
#define FC_ROUTE_BLOCKING(bp, methods, rule, fn) FC_ROUTE_FLAGS(bp, methods, rule, fn, FC_BLOCKING)

/** The process-wide blueprint of app-level routes (name "", no prefix). Every
 *  app created by fc_app_new registers it. Borrowed, lives until exit. */
FC_API fc_blueprint *fc_app_routes(void);
#define FC_APP_ROUTE(methods, rule, fn) FC_ROUTE_FLAGS(fc_app_routes(), methods, rule, fn, 0)
#define FC_APP_ROUTE_BLOCKING(methods, rule, fn) FC_ROUTE_FLAGS(fc_app_routes(), methods, rule, fn, FC_BLOCKING)

/* Used by the macros; logs and remembers failures. */
FC_API void fc_route_decl(fc_blueprint *bp, const char *methods, const char *rule,
                             fc_handler fn, const char *endpoint, unsigned flags);

/* ---------------------------------------------------------------------------
 * The app
 * ------------------------------------------------------------------------- */

/**
 * Create an app named @p name (copied). Settings start from the defaults and
 * the FLASKC_* environment variables. The app-level routes (FC_APP_ROUTE) are
 * registered. Returns NULL on out of memory.
 */
FC_API fc_app *fc_app_new(const char *name);

/** Stop (if running) and free the app and everything it owns. */
FC_API void fc_app_free(fc_app *app);

/** Register a blueprint (borrowed: it must outlive the app). Checks every rule:
 *  FC_EINVAL, FC_EEXIST (duplicate rule), FC_EBUSY after start. */
FC_API int fc_app_register(fc_app *app, fc_blueprint *bp);
/** Register a blueprint under another url_prefix (copied) than its own. */
FC_API int fc_app_register_at(fc_app *app, fc_blueprint *bp, const char *url_prefix);

/** App-wide hooks, run for every request (also for routing errors). */
FC_API int fc_app_before(fc_app *app, fc_before_fn fn);
FC_API int fc_app_after(fc_app *app, fc_after_fn fn);
FC_API int fc_app_teardown(fc_app *app, fc_teardown_fn fn);
/** App-wide error handler; @p status 0 = any error status (400..599). */
FC_API int fc_app_errorhandler(fc_app *app, int status, fc_error_fn fn);

/* Settings. Each has a FLASKC_* environment twin read by fc_app_new: a bad
 * value there is logged and makes fc_app_start and fc_app_run fail with
 * FC_EINVAL. A setter called after fc_app_new wins; it returns FC_EINVAL for
 * a value outside the range below (nothing changes) and FC_EBUSY once the app
 * started. Call them from the thread that owns the app, before it starts;
 * strings are copied. The table is written from libflaskc/settings.h:
 * settings:begin (make settings-docs)
 * FLASKC_HOST (fc_app_set_host)
 *     string, default "127.0.0.1"; accepted: a non-empty string
 *     address to listen on (IPv4 or IPv6)
 * FLASKC_PORT (fc_app_set_port)
 *     port, default 5000; accepted: 0..65535 (0 = a free port, which fc_app_port tells)
 *     port to listen on
 * FLASKC_THREADS (fc_app_set_threads)
 *     count, default number of cores; accepted: 1..1024
 *     polling threads, each with its own connections, database connections and timers
 * FLASKC_WORKERS (fc_app_set_workers)
 *     count, default 32; accepted: 1..4096
 *     worker pool for blocking handlers (FC_BLOCKING) and fc_pool_run
 * FLASKC_MAX_CONNECTIONS (fc_app_set_max_connections)
 *     count, default 10000; accepted: 1..1000000
 *     open connections; requests on connections past it get 503 at once, and 10% more are refused
 *     (the open-file limit is raised to fit)
 * FLASKC_CONNECTION_MEMORY (fc_app_set_connection_memory)
 *     bytes, default 20480 (20 KiB); accepted: 4096..67108864 bytes
 *     per-connection buffer: request line and headers must fit and leave 1 KiB for the answer's
 *     headers (about 19 KB, a Cookie header as much; else 414/431, never silence). libmicrohttpd
 *     clears it for every request, so bigger costs CPU
 * FLASKC_TIMEOUT (fc_app_set_timeout)
 *     seconds, default 60; accepted: 0..86400 seconds (0 = no timeout)
 *     seconds of silence after which a connection is closed
 * FLASKC_HEADER_TIMEOUT (fc_app_set_header_timeout)
 *     seconds, default 30; accepted: 0..86400 seconds (0 = off)
 *     seconds a client has to send a request's headers (from its first bytes — a silent new
 *     connection is handed over by the kernel after about 1 s — or from the previous answer);
 *     then 408 and close — slowloris defence, also ends idle keep-alive connections
 * FLASKC_MAX_BODY (fc_app_set_max_body)
 *     bytes, default 16777216 (16 MiB); accepted: 0 or more bytes (0 = no limit)
 *     larger bodies get 413 (before reading, when Content-Length says so)
 * FLASKC_DEADLINE_MS (fc_app_set_deadline)
 *     milliseconds, default 30000; accepted: 0..86400000 milliseconds (0 = no deadline)
 *     a deferred request not answered in time gets 504
 * FLASKC_ACCESS_LOG (fc_app_set_access_log)
 *     boolean, default off; accepted: 1, true, yes, on or 0, false, no, off
 *     one line per request: address, method, path, status, bytes, duration
 * FLASKC_JSON_ERRORS (fc_app_set_json_errors)
 *     boolean, default off; accepted: 1, true, yes, on or 0, false, no, off
 *     error bodies always JSON (else JSON when the client accepts it)
 * FLASKC_WATCHDOG_MS (fc_app_set_watchdog)
 *     milliseconds, default 100; accepted: 0..3600000 milliseconds (0 = off)
 *     warn when an inline handler blocks longer
 * FLASKC_DATABASE_URL (fc_app_set_database_url)
 *     string, default none; accepted: a string (NULL to the setter unsets it)
 *     libpq conninfo or URI (multi-host accepted); unset: no database
 * FLASKC_DB_POOL (fc_app_set_db_pool)
 *     count, default 20; accepted: 1..1000
 *     PostgreSQL connections, split across the polling threads (at least one each); a thread's
 *     queries go pipelined on its first free connection, the others take over behind a slow query
 *     or a transaction
 * FLASKC_DB_QUEUE (fc_app_set_db_queue)
 *     count, default 10000; accepted: 1..10000000
 *     queries waiting for a connection, per polling thread; beyond it, 503 at once
 * FLASKC_DB_PIPELINE (fc_app_set_db_pipeline)
 *     count, default 32; accepted: 1..1024
 *     queries in flight per connection (libpq pipeline mode); 1 = one at a time
 * FLASKC_LOG_LEVEL (no setter)
 *     log level, default info; accepted: debug, info, warning, error
 *     the lowest level of log lines written; process-wide, read when the first line is logged;
 *     debug adds libmicrohttpd's messages
 * FLASKC_SHUTDOWN_GRACE_MS (no setter)
 *     milliseconds, default 10000; accepted: 0..3600000 milliseconds (0 = deferred requests get 503
 *     at once)
 *     on SIGTERM, how long requests in flight may take before deferred ones get 503
 * FLASKC_REUSEPORT (no setter)
 *     boolean, default off; accepted: 1, true, yes, on or 0, false, no, off
 *     share the port with other processes (SO_REUSEPORT); the polling threads always share it among
 *     themselves, but without this a port another program listens on fails the start
 * settings:end
 */
FC_API int fc_app_set_host(fc_app *app, const char *host);
FC_API int fc_app_set_port(fc_app *app, int port);
FC_API int fc_app_set_threads(fc_app *app, unsigned n);
FC_API int fc_app_set_workers(fc_app *app, unsigned n);
FC_API int fc_app_set_max_connections(fc_app *app, unsigned n);
FC_API int fc_app_set_connection_memory(fc_app *app, size_t bytes);
FC_API int fc_app_set_timeout(fc_app *app, unsigned seconds);
FC_API int fc_app_set_header_timeout(fc_app *app, unsigned seconds);
FC_API int fc_app_set_max_body(fc_app *app, size_t bytes);
FC_API int fc_app_set_deadline(fc_app *app, unsigned ms);
FC_API int fc_app_set_access_log(fc_app *app, bool on);
FC_API int fc_app_set_json_errors(fc_app *app, bool always);
FC_API int fc_app_set_watchdog(fc_app *app, unsigned ms);
FC_API int fc_app_set_database_url(fc_app *app, const char *url);
FC_API int fc_app_set_db_pool(fc_app *app, unsigned connections);
FC_API int fc_app_set_db_queue(fc_app *app, unsigned max_waiting);
FC_API int fc_app_set_db_pipeline(fc_app *app, unsigned depth);

/**
 * Start serving and block until SIGINT/SIGTERM or fc_app_stop. Requests in
 * flight are finished before it returns. Returns 0, or an FC_E* error when the
 * server could not start (the reason is logged).
 */
FC_API int fc_app_run(fc_app *app);
/** Start serving in background threads and return (tests, embedding). */
FC_API int fc_app_start(fc_app *app);
/** The bound port once started (useful with port 0), else 0. */
FC_API int fc_app_port(const fc_app *app);
/** Ask a running app to stop (async-signal-safe; any thread). fc_app_run
 *  returns; after fc_app_start, fc_app_free finishes the stop. */
FC_API void fc_app_stop(fc_app *app);

/**
 * url_for: build the URL of @p endpoint ("films.get_film") from name/value
 * pairs @p kv ({"id", "995", NULL}); names that are not rule variables become
 * the query string. Writes a malloc'ed string to *@p out (the caller frees it).
 * FC_ENOENT: unknown endpoint; FC_EINVAL: missing variable or bad value.
 */
FC_API int fc_url_for(const fc_app *app, const char *endpoint, const char *const *kv, char **out);

/* ---------------------------------------------------------------------------
 * The request (all returned strings are borrowed until the request ends)
 * ------------------------------------------------------------------------- */
FC_API const char *fc_request_method(const fc_request *req);   /* "GET" ... */
/** The decoded path, "/films/995/"; leading slashes as one ("//x" and "/%2Fx" give "/x",
 *  as Werkzeug's request.path). */
FC_API const char *fc_request_path(const fc_request *req);
FC_API const char *fc_request_query_string(const fc_request *req); /* raw, without '?'; "" if none */
FC_API const char *fc_request_endpoint(const fc_request *req); /* "films.get_film", NULL on routing errors */
FC_API const char *fc_request_blueprint(const fc_request *req); /* "films", "" for app routes, NULL */
FC_API fc_app *fc_request_app(const fc_request *req);
/** The client's address as text ("127.0.0.1", "::1"); "" in the test client. */
FC_API const char *fc_request_remote_addr(fc_request *req);

/** Route arguments by name. fc_arg returns the decoded text (NULL if no such
 *  argument). Typed getters return 0 / 0.0 when missing or of another type. */
FC_API const char *fc_arg(const fc_request *req, const char *name);
FC_API long long fc_arg_int(const fc_request *req, const char *name);
FC_API double fc_arg_float(const fc_request *req, const char *name);

/** Query string: first value of @p key (NULL if absent; "" for "?k" or "?k="). Keys and
 *  values are valid UTF-8 without NUL: other decoded bytes read as "%XX" (Werkzeug's rule). */
FC_API const char *fc_query(fc_request *req, const char *key);
/** All values of @p key in order; *@p n is set to their count. Request-owned
 *  array (NULL when none). */
FC_API const char *const *fc_query_list(fc_request *req, const char *key, size_t *n);
/** Parse the first value of @p key as an integer. Returns 0 and sets *out,
 *  FC_ENOENT when absent (out = dflt), FC_ERANGE when not an integer. */
FC_API int fc_query_int(fc_request *req, const char *key, long long dflt, long long *out);
/** Visit every query pair in order; stop when @p fn returns false. */
FC_API void fc_query_each(fc_request *req, bool (*fn)(const char *key, const char *value, void *ud), void *ud);

/** A request header, case-insensitive (first of repeated ones); NULL if absent. */
FC_API const char *fc_request_header(fc_request *req, const char *name);
/** Visit every request header in order. */
FC_API void fc_request_headers_each(fc_request *req, bool (*fn)(const char *name, const char *value, void *ud), void *ud);
/** A cookie from the Cookie header; NULL if absent. As Werkzeug 3 reads it:
 *  an unquoted value as sent (no percent-decoding), a quoted one without
 *  its quotes and backslash escapes; bytes that are not UTF-8 as %XX. */
FC_API const char *fc_request_cookie(fc_request *req, const char *name);

/** The raw body (NULL and *len 0 when empty). Borrowed until the request ends. */
FC_API const void *fc_request_body(fc_request *req, size_t *len);

/**
 * The body as JSON (borrowed json-c object, owned by the request; use
 * json_object_get to keep it). Content-Type must be application/json or
 * application/<x>+json. On failure returns NULL and the request has been
 * answered (415 wrong content type, 400 invalid JSON, each with a JSON error
 * body saying why): the handler just returns. A body of "null" gives NULL
 * without an answer; check fc_request_answered when that matters. Invalid is
 * what RFC 8259 says is not JSON (Flask's 400s), and also: integers outside
 * int64..uint64, NaN/Infinity, lone surrogate escapes, U+0000 in an object
 * key, nesting deeper than 64 (README, "Request bodies").
 */
FC_API struct json_object *fc_request_json(fc_request *req);
/** Like fc_request_json, but never answers: NULL on any failure. */
FC_API struct json_object *fc_request_json_silent(fc_request *req);

/**
 * Form fields from application/x-www-form-urlencoded or multipart/form-data.
 * Like query values, field names and values are valid UTF-8 without NUL: a
 * byte that is neither (invalid UTF-8, a NUL) reads as "%XX", upper-case, as
 * Werkzeug reads query strings; a multipart part's charset (UTF-8 unless its
 * Content-Type says us-ascii or iso-8859-1) is honoured. Bytes as sent: send
 * them as a file part, or read fc_request_body.
 */
FC_API const char *fc_form(fc_request *req, const char *name);
FC_API const char *const *fc_form_list(fc_request *req, const char *name, size_t *n);
FC_API void fc_form_each(fc_request *req, bool (*fn)(const char *name, const char *value, void *ud), void *ud);
/** 0 when the form body parsed (or there is none); FC_EINVAL for a malformed
 *  multipart body (also: junk after the first boundary, a part header that is
 *  not UTF-8 or holds a NUL), FC_ERANGE when a form limit was passed; *why
 *  (static) says what. The fields and files are then empty. */
FC_API int fc_request_form_error(fc_request *req, const char **why);
/** An uploaded file of a multipart form (first with that field name), NULL if none. */
FC_API const fc_file *fc_request_file(fc_request *req, const char *field);
/** Visit every uploaded file in order. */
FC_API void fc_request_files_each(fc_request *req, bool (*fn)(const fc_file *f, void *ud), void *ud);
FC_API const char *fc_file_field(const fc_file *f);        /* form field name */
/** The client's file name, "" if none: filename*= (RFC 8187, UTF-8 or ISO-8859-1) when given and
 *  decodable, else filename=; text as fc_form's. */
FC_API const char *fc_file_filename(const fc_file *f);
FC_API const char *fc_file_content_type(const fc_file *f); /* "application/octet-stream" if none */
FC_API const void *fc_file_data(const fc_file *f);
FC_API size_t fc_file_size(const fc_file *f);

/** Per-request user data (not freed by the library; see fc_request_on_cleanup). */
FC_API void fc_request_set_data(fc_request *req, void *data);
FC_API void *fc_request_data(const fc_request *req);
/** Run @p fn(@p p) when the request's memory is released. FC_ENOMEM if it could
 *  not be recorded (then fn is not called). */
FC_API int fc_request_on_cleanup(fc_request *req, void (*fn)(void *), void *p);
/** Allocate request-owned memory (NULL on out of memory). */
FC_API void *fc_request_alloc(fc_request *req, size_t n);
/** printf into request-owned memory. */
FC_API char *fc_request_printf(fc_request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------------
 * The response. The fc_response_<body> functions answer the request: call one
 * of them exactly once (a second answer is logged and returns FC_EALREADY).
 * Headers and cookies set before the answer are sent with it. Any thread may
 * answer a deferred request.
 * ------------------------------------------------------------------------- */

/** Add a response header (both copied). FC_EINVAL when either contains CR/LF
 *  or the name is not a token. Content-Type and Content-Length are managed by
 *  the body functions, but a Content-Type set here wins. */
FC_API int fc_response_header(fc_request *req, const char *name, const char *value);
/** Replace every header @p name (case-insensitive) by one with @p value; NULL removes. */
FC_API int fc_response_set_header(fc_request *req, const char *name, const char *value);
/** A response header set so far (case-insensitive), NULL if absent. */
FC_API const char *fc_response_get_header(fc_request *req, const char *name);

typedef enum { FC_SAMESITE_NONE_SET = 0, FC_SAMESITE_LAX, FC_SAMESITE_STRICT, FC_SAMESITE_NONE } fc_samesite;
typedef struct fc_cookie_opts {
    long long max_age;   /* seconds; < 0 = session cookie (no Max-Age/Expires) */
    const char *path;    /* NULL = "/" */
    const char *domain;  /* NULL = none */
    bool http_only;
    bool secure;
    fc_samesite same_site;
} fc_cookie_opts;
#define FC_COOKIE_OPTS_DEFAULT { -1, NULL, NULL, false, false, FC_SAMESITE_NONE_SET }
/** Add a Set-Cookie header. As Werkzeug's dump_cookie: a value of letters,
 *  digits and !#$%&'()*+-./:<=>?@[]^_`{|}~ goes as it is, any other in
 *  quotes with \" \\ and \ooo octal escapes (what fc_request_cookie reads
 *  back). @p opts NULL = defaults. */
FC_API int fc_response_cookie(fc_request *req, const char *name, const char *value, const fc_cookie_opts *opts);
/** Delete a cookie (empty value, Expires in 1970, Max-Age=0). */
FC_API int fc_response_delete_cookie(fc_request *req, const char *name, const char *path);

/* Status codes of answers are 200..999 (FC_EINVAL otherwise): a 1xx code is
 * an interim answer, which a client reads as "the real one follows". */

/** Answer with text (copied), Content-Type "text/plain; charset=utf-8" unless set. */
FC_API int fc_response_text(fc_request *req, int status, const char *text);
/** Answer with HTML (copied), "text/html; charset=utf-8". */
FC_API int fc_response_html(fc_request *req, int status, const char *html);
/** Answer with bytes (copied) and a content type (copied; NULL = application/octet-stream). */
FC_API int fc_response_bytes(fc_request *req, int status, const char *content_type, const void *data, size_t len);
/** Answer with a malloc'ed buffer (taken: freed with free()). */
FC_API int fc_response_bytes_take(fc_request *req, int status, const char *content_type, void *data, size_t len);
/** Answer with JSON: @p obj is taken (json_object_put'ed by the library). Compact,
 *  keys in insertion order, '/' not escaped, trailing newline, "application/json". */
FC_API int fc_response_json(fc_request *req, int status, struct json_object *obj);
/** Answer with a JSON text (copied, sent as is plus a newline if missing). */
FC_API int fc_response_json_str(fc_request *req, int status, const char *json);
/** Answer with an empty body (204, 304, or any status). */
FC_API int fc_response_empty(fc_request *req, int status);
/** Redirect to @p location (copied; sent as given, relative stays relative).
 *  @p status 0 = 302. Body is a small HTML page like Flask's. */
FC_API int fc_response_redirect(fc_request *req, int status, const char *location);
/**
 * Answer with an error status: the app's and the blueprint's error handlers
 * run; else the default error body (JSON {"error":..., "status":...,
 * "message": description} when the client accepts JSON or json_errors is on,
 * else Flask's HTML page). @p description (copied) may be NULL.
 */
FC_API int fc_abort(fc_request *req, int status, const char *description);

/**
 * A streaming body reader. Fill @p buf with up to @p max bytes and return how
 * many; FC_STREAM_END when done; FC_STREAM_ERROR to cut the connection;
 * FC_STREAM_WAIT when no data is ready yet: the connection is parked (no
 * thread held) until fc_stream_wake is called. Runs on a polling thread: must
 * not block.
 */
#define FC_STREAM_END ((long)-1)
#define FC_STREAM_ERROR ((long)-2)
#define FC_STREAM_WAIT ((long)-3)
typedef long (*fc_stream_fn)(void *ud, uint64_t pos, char *buf, size_t max);
/** Answer with a chunked body produced by @p fn. @p free_fn(@p ud) runs exactly
 *  once when the stream ends, fails or the client goes away (NULL for none). */
FC_API int fc_response_stream(fc_request *req, int status, const char *content_type,
                              fc_stream_fn fn, void *ud, void (*free_fn)(void *ud));
/** Wake a stream parked by FC_STREAM_WAIT (any thread). Call it only until
 *  the stream's free_fn has run (the request may be gone after that); waking a
 *  stream that is not parked makes its next FC_STREAM_WAIT return at once. */
FC_API void fc_stream_wake(fc_request *req);

/* ---------------------------------------------------------------------------
 * The JSON writer: JSON text written straight into one growing buffer, no
 * tree of objects (json-c stays for parsing requests and for your own objects).
 * A writer holds one JSON value, usually an object or an array, built with
 * the calls below in document order. Every call checks the writer's grammar:
 * a misuse (a value where a key is due, an end that closes the wrong
 * container, a second top-level value, nesting deeper than FC_JW_MAX_DEPTH, a
 * non-finite double, raw text that is not one JSON value) returns FC_EINVAL
 * (FC_ERANGE for the depth, FC_ENOMEM out of memory), writes nothing, and
 * sticks: every later call returns the same error and a finished text is
 * never produced, so a writer never yields malformed JSON. Strings: any bytes,
 * escaped as fc_response_json escapes them (quote, backslash, \b \f \n \r
 * \t, other control characters as \u00xx; '/' and non-ASCII as they are), but
 * each maximal ill-formed UTF-8 subsequence becomes U+FFFD (Unicode's
 * "substitution of maximal subparts", as Python's "replace" does) where
 * json-c would pass the bytes through. Keys are not checked for duplicates.
 * Doubles: the shortest of %.15g, %.16g, %.17g that reads back, in the C
 * locale whatever LC_NUMERIC says, ".0" added to integral ones.
 * One thread at a time; a writer may move between threads.
 * ------------------------------------------------------------------------- */
typedef struct fc_jw fc_jw; /* a JSON writer (owned by its creator until taken) */
#define FC_JW_MAX_DEPTH 512

/** A new, empty writer; NULL on out of memory. Free it with fc_jw_free
 *  unless a function that takes it (fc_response_jw) does. */
FC_API fc_jw *fc_jw_new(void);
/** Free a writer and its text (NULL is a no-op). */
FC_API void fc_jw_free(fc_jw *w);
/** Open / close an object or an array. */
FC_API int fc_jw_object_begin(fc_jw *w);
FC_API int fc_jw_object_end(fc_jw *w);
FC_API int fc_jw_array_begin(fc_jw *w);
FC_API int fc_jw_array_end(fc_jw *w);
/** The next member's key (copied), inside an object, before its value.
 *  @p key NULL is FC_EINVAL; _len takes @p len bytes, NULs included. */
FC_API int fc_jw_key(fc_jw *w, const char *key);
FC_API int fc_jw_key_len(fc_jw *w, const char *key, size_t len);
/** Values (strings copied). fc_jw_string(w, NULL) writes null. */
FC_API int fc_jw_string(fc_jw *w, const char *s);
FC_API int fc_jw_string_len(fc_jw *w, const char *s, size_t len);
FC_API int fc_jw_int(fc_jw *w, long long v);
FC_API int fc_jw_uint(fc_jw *w, unsigned long long v);
/** NaN and the infinities have no JSON number: FC_EINVAL. */
FC_API int fc_jw_double(fc_jw *w, double v);
FC_API int fc_jw_bool(fc_jw *w, bool v);
FC_API int fc_jw_null(fc_jw *w);
/** A JSON text (copied) written as one value, as it is: checked to be exactly
 *  one RFC 8259 value (whitespace around allowed; strings UTF-8 without lone
 *  surrogate escapes; nesting within FC_JW_MAX_DEPTH), FC_EINVAL otherwise. */
FC_API int fc_jw_raw(fc_jw *w, const char *json, size_t len);
/** A json-c object (borrowed: not taken) written as one value, compact as
 *  fc_response_json writes it; NULL writes null. */
FC_API int fc_jw_json(fc_jw *w, struct json_object *obj);
/** Key and value in one call: fc_jw_key then the value. */
FC_API int fc_jw_member_string(fc_jw *w, const char *key, const char *s);
FC_API int fc_jw_member_int(fc_jw *w, const char *key, long long v);
/** The writer's first error, 0 while none. */
FC_API int fc_jw_error(const fc_jw *w);
/** Whether one complete value has been written (and no error happened). */
FC_API bool fc_jw_done(const fc_jw *w);
/** The finished text (borrowed until the next call on @p w): NUL-terminated,
 *  its length in *len (may be NULL); NULL while incomplete, after an error,
 *  or once anything was drained (the text is no longer whole). */
FC_API const char *fc_jw_text(const fc_jw *w, size_t *len);
/**
 * Move up to @p max bytes of the text written so far into @p buf, and drop
 * them from the writer: the writer goes on from where it is. For streamed
 * answers (fc_response_stream): write some values, drain them into the
 * stream's buffer; the room drained is reused, so a long stream needs no more
 * memory than what is pending. Returns the bytes moved (0 when nothing is
 * pending), or the writer's error. A writer drained once can no longer be
 * given to fc_response_jw or read with fc_jw_text.
 */
FC_API long fc_jw_drain(fc_jw *w, char *buf, size_t max);
/** Bytes written and not drained yet. */
FC_API size_t fc_jw_pending(const fc_jw *w);
/**
 * Answer with the writer's text plus a newline as "application/json"
 * (fc_response_json's form). @p w is taken, also on failure: its buffer
 * becomes the body without a copy. A writer that failed, is incomplete or was
 * drained answers 500 ("JSON writer: ...") and returns its error (FC_EINVAL
 * for incomplete or drained).
 */
FC_API int fc_response_jw(fc_request *req, int status, fc_jw *w);

/** For after_request hooks: the status, changeable. */
FC_API int fc_response_status(const fc_request *req);
FC_API int fc_response_set_status(fc_request *req, int status);
/** Whether the request has been answered. */
FC_API bool fc_request_answered(const fc_request *req);

/* ---------------------------------------------------------------------------
 * Asynchronous answers: the handler returns without answering; the connection
 * is suspended (no thread held) until an answer arrives from any thread.
 * ------------------------------------------------------------------------- */

/**
 * Mark the request as answered later. @p cancel (may be NULL) runs at most
 * once, on the request's polling thread (the one that owns its connection),
 * if the client disconnects, the deadline
 * passes (the library answers 504) or the server shuts down (503) before the
 * answer; after that, late answers are safe no-ops returning FC_EALREADY.
 * The request stays valid until it is answered or canceled *and* the cancel
 * callback has returned.
 */
FC_API int fc_request_defer(fc_request *req, void (*cancel)(fc_request *req, void *ud), void *ud);

/** Call @p fn(req, ud) on the request's polling thread after @p ms milliseconds and
 *  defer the request until then. If the request is canceled first, fn is not
 *  called. */
FC_API int fc_after(fc_request *req, unsigned ms, void (*fn)(fc_request *req, void *ud), void *ud);

/**
 * Run @p work(@p ud) on the worker pool (it may block), then @p done(req, ud)
 * on the request's polling thread, which answers. The request is deferred meanwhile.
 * FC_EAGAIN when the pool queue is full (answer 503 yourself).
 */
FC_API int fc_pool_run(fc_request *req, void (*work)(void *ud), void (*done)(fc_request *req, void *ud), void *ud);

/** Run @p fn(@p ud) once on the first polling thread after @p ms milliseconds
 *  (not tied to a request: feeds streams, periodic work). @p fn must not block.
 *  The app must be started. 0, FC_EINVAL, FC_ENOMEM. */
FC_API int fc_app_timer(fc_app *app, unsigned ms, void (*fn)(void *ud), void *ud);

/** Run @p fn(@p ud) on the worker pool after the response has been sent
 *  (FastAPI's BackgroundTasks). @p ud is borrowed: keep it alive yourself. */
FC_API int fc_background(fc_request *req, void (*fn)(void *ud), void *ud);

/* ---------------------------------------------------------------------------
 * PostgreSQL (libpq pool owned by the app; conninfo from FLASKC_DATABASE_URL)
 * ------------------------------------------------------------------------- */
typedef struct fc_pg_result fc_pg_result; /* a query's result (borrowed in callbacks) */
typedef struct fc_pg_tx fc_pg_tx;         /* an async transaction */
typedef struct fc_pg_conn fc_pg_conn;     /* a pooled connection borrowed by a sync handler */

/** Result accessors. Strings are borrowed until the callback returns. */
FC_API int fc_pg_ok(const fc_pg_result *r);                 /* 0, FC_EDB, FC_EDBDOWN, FC_ETIMEDOUT */
FC_API const char *fc_pg_error(const fc_pg_result *r);      /* message, NULL if ok */
FC_API const char *fc_pg_sqlstate(const fc_pg_result *r);   /* "23503"..., NULL if ok */
FC_API int fc_pg_nrows(const fc_pg_result *r);
FC_API int fc_pg_ncols(const fc_pg_result *r);
FC_API const char *fc_pg_colname(const fc_pg_result *r, int col);
FC_API const char *fc_pg_value(const fc_pg_result *r, int row, int col); /* NULL for SQL NULL */
FC_API bool fc_pg_isnull(const fc_pg_result *r, int row, int col);
FC_API long long fc_pg_int(const fc_pg_result *r, int row, int col);
FC_API long long fc_pg_affected(const fc_pg_result *r);     /* rows affected by INSERT/UPDATE/DELETE */
/** A row as a JSON object {"col": value}, typed by column type as fc_jw_pg
 *  types them (new reference). For answers, fc_response_pg writes the same
 *  JSON without building objects: several times faster on many rows. */
FC_API struct json_object *fc_pg_row_json(const fc_pg_result *r, int row);
/** The whole result as a JSON array of row objects (new reference). */
FC_API struct json_object *fc_pg_json(const fc_pg_result *r);

/**
 * A result written as JSON text by the JSON writer, rows in their order;
 * values typed by their column's type: int2/int4/int8/oid and float4/float8/
 * numeric as JSON numbers in PostgreSQL's text ("12.50" stays 12.50), their
 * NaN and infinities as the strings "NaN", "Infinity", "-Infinity"; bool as
 * true/false; NULL as null; json/jsonb as JSON, compact (as a string where json-c
 * could not read them: integers past 64 bits, nesting past 64, U+0000 in a
 * key); timestamp/timestamptz in DateStyle ISO as ISO 8601 strings ("2013-05-26T14:50:58.951"); every other type (text,
 * bytea, date, uuid, ...) as a string of PostgreSQL's text form, invalid
 * UTF-8 (SQL_ASCII databases) as U+FFFD. The same values fc_pg_row_json
 * gives, with two differences in form: a json column's text goes out as
 * PostgreSQL stored it, compact ("\u00e9", "\/", -0 and repeated keys stay;
 * fc_pg_row_json re-reads it with json-c, which keeps the last of repeated
 * keys), and columns of the same name repeat the key (json-c keeps the last).
 */
typedef enum {
    FC_PG_OBJECTS = 0, /* [{"col": value, ...}, ...] */
    FC_PG_ARRAYS,      /* [[value, ...], ...] */
    FC_PG_OBJECT,      /* {"col": value, ...} of the first row; FC_ENOENT when none */
    FC_PG_KEYED,       /* {"<key column's text>": {other columns}, ...}; SQL NULL keys are
                          "null"; equal keys repeat (order the rows) */
} fc_pg_shape;
/** Write result @p r as one value in @p shape (@p key_col: the column of
 *  FC_PG_KEYED, else ignored). FC_EINVAL for a failed result or a bad column;
 *  FC_ERANGE when fewer than 66 levels of nesting are left in @p w (the
 *  result's two and its json values' 64); FC_ENOENT (writer unchanged, no
 *  error set) for FC_PG_OBJECT with no row. */
FC_API int fc_jw_pg(fc_jw *w, const fc_pg_result *r, fc_pg_shape shape, int key_col);
/** Answer 200 with result @p r as JSON (fc_jw_pg's forms): no tree, one
 *  buffer. FC_PG_OBJECT with no row answers 404; a failed result 503
 *  (database unavailable, timed out) or 500, with its message. */
FC_API int fc_response_pg(fc_request *req, const fc_pg_result *r, fc_pg_shape shape, int key_col);

/**
 * Callback of an async query: runs on the request's polling thread (the one
 * that ran its handler: the query went out on that thread's own database
 * connection); must not block;
 * usually answers the request. @p r is borrowed until it returns. It is
 * called exactly once per accepted query, also when the request was
 * canceled meanwhile (deadline, client gone): its answer is then a no-op
 * returning FC_EALREADY. Errors the library makes itself carry a SQLSTATE:
 * 08001 database unavailable, 08006 connection lost, 53000 queue full,
 * 57014 canceled before sending, 57P01 server stopping, 25000 no transaction.
 */
typedef void (*fc_pg_cb)(fc_request *req, const fc_pg_result *r, void *ud);

/**
 * Send a parameterised query (text parameters, NULL = SQL NULL; all copied).
 * The statement is prepared once per connection and cached. The request is
 * deferred. On a full wait queue or a database that is down, @p cb gets
 * FC_EDBDOWN quickly (answer 503). FC_EINVAL when the app has no database.
 * The pool (FLASKC_DB_POOL connections) is split across the polling threads,
 * at least one each; a thread's queries are pipelined on its first free
 * connection (FLASKC_DB_PIPELINE in flight), and FLASKC_DB_QUEUE bounds each
 * thread's wait queue.
 */
FC_API int fc_pg_query(fc_request *req, const char *sql, int nparams, const char *const *params,
                       fc_pg_cb cb, void *ud);
/**
 * fc_pg_query, but @p cb runs on a worker-pool thread (FLASKC_WORKERS) instead
 * of the request's polling thread: for results whose answer costs real CPU to
 * build (hundreds of rows to JSON). A polling thread serves the I/O of all
 * its connections, so such callbacks there hold up its other clients; on the
 * pool they leave it free. The callback may run concurrently with other
 * callbacks and handlers (guard shared state). When the pool is full, or the
 * app is stopping, it runs on the polling thread.
 */
FC_API int fc_pg_query_worker(fc_request *req, const char *sql, int nparams,
                              const char *const *params, fc_pg_cb cb, void *ud);

/** Start a transaction: BEGIN on one connection, then @p cb with the tx (NULL
 *  when BEGIN failed: see the result). The tx belongs to the request: one still
 *  open when the request ends is rolled back. */
typedef void (*fc_pg_tx_cb)(fc_request *req, fc_pg_tx *tx, const fc_pg_result *r, void *ud);
FC_API int fc_pg_begin(fc_request *req, fc_pg_tx_cb cb, void *ud);
/** Next statement in the transaction. */
FC_API int fc_pg_tx_query(fc_pg_tx *tx, const char *sql, int nparams, const char *const *params,
                          fc_pg_tx_cb cb, void *ud);
/** COMMIT (or ROLLBACK) and release the connection; @p cb gets the COMMIT result. */
FC_API int fc_pg_tx_commit(fc_pg_tx *tx, fc_pg_cb cb, void *ud);
FC_API int fc_pg_tx_rollback(fc_pg_tx *tx, fc_pg_cb cb, void *ud);

/** Sync API for FC_BLOCKING handlers: borrow a connection (waits up to the
 *  deadline), run queries, give it back. NULL on a polling thread, without a
 *  database, or past the deadline. These connections are a second pool of
 *  FLASKC_DB_POOL, opened on first use. */
FC_API fc_pg_conn *fc_pg_acquire(fc_request *req);
/** Blocking query; the result is request-owned. */
FC_API const fc_pg_result *fc_pg_exec(fc_pg_conn *c, const char *sql, int nparams, const char *const *params);
FC_API void fc_pg_release(fc_pg_conn *c);

/* ---------------------------------------------------------------------------
 * Test client: the production path without a port.
 * ------------------------------------------------------------------------- */

/**
 * Send a request to @p app and wait for its answer (also a deferred one, or
 * a stream's end). The request is written as HTTP/1.1 into a socket pair
 * whose other end the app's libmicrohttpd daemons take as a connection from
 * 127.0.0.1, so it takes exactly the server's path. Any thread but a
 * polling thread (NULL there: the wait would stall the loop); blocks. The
 * app is frozen (started) by the first call; no port is opened.
 * @p path may hold a query string; bytes a client would percent-encode
 * (controls, space, DEL, non-ASCII) are. @p headers: NULL-terminated
 * name/value pairs, or NULL; "Host: localhost" unless given. @p body (NULL
 * or @p len bytes) goes with a Content-Length unless @p headers frame it
 * (Content-Length or Transfer-Encoding: then it is sent as given). Returns
 * when the answer is complete and the request is over (teardown ran); NULL
 * on out of memory, for what no client could send (a method that is not a
 * token, a header name that is not one, CR or LF in a value), or when the
 * connection closed without an answer. The headers are those on the wire
 * (Date, Content-Length or Transfer-Encoding included). Free with
 * fc_test_response_free.
 */
FC_API fc_test_response *fc_test_request(fc_app *app, const char *method, const char *path,
                                         const char *const *headers, const void *body, size_t len);
FC_API int fc_test_status(const fc_test_response *r);
FC_API const char *fc_test_header(const fc_test_response *r, const char *name); /* borrowed, case-insensitive */
/** All headers as "Name: value\r\n" lines (borrowed). */
FC_API const char *fc_test_headers(const fc_test_response *r);
FC_API const char *fc_test_body(const fc_test_response *r, size_t *len);   /* NUL-terminated copy */
FC_API void fc_test_response_free(fc_test_response *r);

/* ---------------------------------------------------------------------------
 * Logging
 * ------------------------------------------------------------------------- */
typedef enum { FC_LOG_DEBUG, FC_LOG_INFO, FC_LOG_WARNING, FC_LOG_ERROR } fc_log_level;
/** Log a line to stderr ("[time] LEVEL in app: msg"), thread-safe. */
FC_API void fc_log(fc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Replace the log sink (NULL restores stderr). Called from any thread. */
FC_API void fc_log_set_handler(void (*fn)(fc_log_level level, const char *line, void *ud), void *ud);

#ifdef __cplusplus
}
#endif
#endif /* FLASKC_H */
