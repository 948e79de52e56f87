/* settings.h — the one table of FLASKC_* settings: each one's type, default,
 * range, setter and meaning, expanded by config.c, tools/gen_settings and tests. */
#ifndef FLASKC_SETTINGS_H
#define FLASKC_SETTINGS_H

#include "flaskc.h"

#include <stdint.h>

/*
 * X(NAME, field, kind, dflt, dflt_doc, min, max, zero, setter, meaning)
 *
 *   NAME     the variable is FLASKC_<NAME>
 *   field    its member of fc__config (C type from kind, see FC__CTYPE_*)
 *   kind     STRING, PORT, COUNT, BYTES, SECONDS, MS, BOOL or LEVEL (FC__KINDS)
 *   dflt     default, a constant (a string literal or NULL for STRING)
 *   dflt_doc NULL, or how the docs state a default that fc__config_defaults
 *            computes at start (dflt is then its fallback)
 *   min, max accepted range, inclusive (numbers); for STRING min 1 = must not
 *            be empty (nor NULL for the setter), min 0 = NULL unsets it
 *   zero     what 0 means where it is accepted and special, else NULL
 *   setter   the fc_app_set_* function, or `none` (environment only)
 *   meaning  one line for the README and flaskc.h (Markdown backticks allowed)
 *
 * The README's table and flaskc.h's comment are generated from this:
 * `make settings-docs` rewrites them, tests/test_settings.sh fails when they
 * are stale or when a FLASKC_ name used in libflaskc/ or include/ is missing.
 */
/* clang-format off */
#define FC__SETTINGS(X)                                                                            \
    X(HOST, host, STRING, "127.0.0.1", NULL, 1, 0, NULL, fc_app_set_host,                          \
      "address to listen on (IPv4 or IPv6)")                                                      \
    X(PORT, port, PORT, 5000, NULL, 0, 65535, "a free port, which `fc_app_port` tells",           \
      fc_app_set_port, "port to listen on")                                                       \
    X(THREADS, threads, COUNT, 1, "number of cores", 1, 1024, NULL, fc_app_set_threads,            \
      "polling threads, each with its own connections, database connections and timers")         \
    X(WORKERS, workers, COUNT, 32, NULL, 1, 4096, NULL, fc_app_set_workers,                        \
      "worker pool for blocking handlers (`FC_BLOCKING`) and `fc_pool_run`")                      \
    X(MAX_CONNECTIONS, max_connections, COUNT, 10000, NULL, 1, 1000000, NULL,                      \
      fc_app_set_max_connections,                                                                 \
      "open connections; requests on connections past it get 503 at once, and 10% more are "     \
      "refused (the open-file limit is raised to fit)")                                           \
    X(CONNECTION_MEMORY, connection_memory, BYTES, 20480, NULL, 4096, 67108864, NULL,              \
      fc_app_set_connection_memory,                                                               \
      "per-connection buffer: request line and headers must fit and leave 1 KiB for the "        \
      "answer's headers (about 19 KB, a Cookie header as much; else 414/431, never silence). "    \
      "libmicrohttpd clears it for every request, so bigger costs CPU")                           \
    X(TIMEOUT, timeout_s, SECONDS, 60, NULL, 0, 86400, "no timeout", fc_app_set_timeout,           \
      "seconds of silence after which a connection is closed")                                   \
    X(HEADER_TIMEOUT, header_timeout_s, SECONDS, 30, NULL, 0, 86400, "off",                        \
      fc_app_set_header_timeout,                                                                  \
      "seconds a client has to send a request's headers (from its first bytes — a silent new "   \
      "connection is handed over by the kernel after about 1 s — or from the previous answer); " \
      "then 408 and close — slowloris defence, also ends idle keep-alive connections")           \
    X(MAX_BODY, max_body, BYTES, 16777216, NULL, 0, FC__UNBOUNDED, "no limit",                     \
      fc_app_set_max_body,                                                                        \
      "larger bodies get 413 (before reading, when Content-Length says so)")                     \
    X(DEADLINE_MS, deadline_ms, MS, 30000, NULL, 0, 86400000, "no deadline", fc_app_set_deadline,  \
      "a deferred request not answered in time gets 504")                                         \
    X(ACCESS_LOG, access_log, BOOL, false, NULL, 0, 1, NULL, fc_app_set_access_log,                \
      "one line per request: address, method, path, status, bytes, duration")                    \
    X(JSON_ERRORS, json_errors, BOOL, false, NULL, 0, 1, NULL, fc_app_set_json_errors,             \
      "error bodies always JSON (else JSON when the client accepts it)")                          \
    X(WATCHDOG_MS, watchdog_ms, MS, 100, NULL, 0, 3600000, "off", fc_app_set_watchdog,             \
      "warn when an inline handler blocks longer")                                                \
    X(DATABASE_URL, database_url, STRING, NULL, NULL, 0, 0, NULL, fc_app_set_database_url,         \
      "libpq conninfo or URI (multi-host accepted); unset: no database")                         \
    X(DB_POOL, db_pool, COUNT, 20, NULL, 1, 1000, NULL, fc_app_set_db_pool,                        \
      "PostgreSQL connections, split across the polling threads (at least one each); a "         \
      "thread's queries go pipelined on its first free connection, the others take over behind " \
      "a slow query or a transaction")                                                            \
    X(DB_QUEUE, db_queue, COUNT, 10000, NULL, 1, 10000000, NULL, fc_app_set_db_queue,              \
      "queries waiting for a connection, per polling thread; beyond it, 503 at once")            \
    X(DB_PIPELINE, db_pipeline, COUNT, 32, NULL, 1, 1024, NULL, fc_app_set_db_pipeline,            \
      "queries in flight per connection (libpq pipeline mode); 1 = one at a time")               \
    X(LOG_LEVEL, log_level, LEVEL, FC_LOG_INFO, NULL, FC_LOG_DEBUG, FC_LOG_ERROR, NULL, none,      \
      "the lowest level of log lines written; process-wide, read when the first line is logged; " \
      "`debug` adds libmicrohttpd's messages")                                                    \
    X(SHUTDOWN_GRACE_MS, shutdown_grace_ms, MS, 10000, NULL, 0, 3600000,                           \
      "deferred requests get 503 at once", none,                                                  \
      "on SIGTERM, how long requests in flight may take before deferred ones get 503")           \
    X(REUSEPORT, reuseport, BOOL, false, NULL, 0, 1, NULL, none,                                   \
      "share the port with other processes (`SO_REUSEPORT`); the polling threads always share "  \
      "it among themselves, but without this a port another program listens on fails the start")
/* clang-format on */

/* The largest byte count a setting takes when it has no real bound; the
 * parser's limit (long long) is the other bound on 64-bit systems. */
#define FC__UNBOUNDED (SIZE_MAX / 2)

/* X(KIND, C type of the field, what the docs call it, unit in error messages) */
#define FC__KINDS(X)                                                                               \
    X(STRING, char *, "string", "")                                                                \
    X(PORT, int, "port", "")                                                                       \
    X(COUNT, unsigned, "count", "")                                                                \
    X(BYTES, size_t, "bytes", " bytes")                                                            \
    X(SECONDS, unsigned, "seconds", " seconds")                                                    \
    X(MS, unsigned, "milliseconds", " milliseconds")                                               \
    X(BOOL, bool, "boolean", "")                                                                   \
    X(LEVEL, fc_log_level, "log level", "")

#define FC__CTYPE_STRING char *
#define FC__CTYPE_PORT int
#define FC__CTYPE_COUNT unsigned
#define FC__CTYPE_BYTES size_t
#define FC__CTYPE_SECONDS unsigned
#define FC__CTYPE_MS unsigned
#define FC__CTYPE_BOOL bool
#define FC__CTYPE_LEVEL fc_log_level

/* The words FLASKC_LOG_LEVEL takes, in fc_log_level's order. */
#define FC__LOG_LEVELS(X) X(FC_LOG_DEBUG, "debug") X(FC_LOG_INFO, "info") \
    X(FC_LOG_WARNING, "warning") X(FC_LOG_ERROR, "error")
/* The words a boolean takes (any case). */
#define FC__BOOL_TRUE "1", "true", "yes", "on"
#define FC__BOOL_FALSE "0", "false", "no", "off"

typedef enum {
#define FC__KIND_ENUM(K, ctype, doc, unit) FC__KIND_##K,
    FC__KINDS(FC__KIND_ENUM)
#undef FC__KIND_ENUM
} fc__setting_kind;

typedef enum {
#define FC__SETTING_ENUM(NAME, ...) FC__S_##NAME,
    FC__SETTINGS(FC__SETTING_ENUM)
#undef FC__SETTING_ENUM
    FC__S_N
} fc__setting_id;

/** One row of the table as data (config.c's fc__settings[]), for messages,
 *  range checks and the docs generator. */
typedef struct fc__setting {
    const char *env;        /* "FLASKC_HOST" */
    const char *field;      /* "host" */
    fc__setting_kind kind;
    unsigned long long dflt; /* numbers, booleans and levels */
    const char *dflt_str;   /* STRING: the default (NULL = unset) */
    const char *dflt_doc;
    unsigned long long min, max;
    const char *zero;
    const char *setter;     /* NULL when there is none */
    const char *meaning;
} fc__setting;

extern const fc__setting fc__settings[FC__S_N];
/** What the docs call a kind ("bytes"), and its unit in messages (" bytes"). */
const char *fc__setting_kind_name(fc__setting_kind k);
const char *fc__setting_kind_unit(fc__setting_kind k);
/** "debug", "info", ... or NULL. */
const char *fc__setting_level_name(fc_log_level l);
/** Parse a FLASKC_LOG_LEVEL word (any case): 0, or FC_EINVAL. */
int fc__setting_parse_level(const char *s, fc_log_level *out);
/** Parse a boolean word (FC__BOOL_TRUE / FC__BOOL_FALSE, any case): 0, or FC_EINVAL. */
int fc__setting_parse_bool(const char *s, bool *out);
/** The accepted values of setting @p s as text ("1..1024 (0 = off)"), into
 *  @p buf of @p size bytes; Markdown backticks around words when @p md. */
void fc__setting_accepted(const fc__setting *s, bool md, char *buf, size_t size);

#endif /* FLASKC_SETTINGS_H */
