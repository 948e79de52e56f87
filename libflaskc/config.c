/* config.c — settings: defaults, the FLASKC_* environment, and the typed
 * setters (frozen once the app starts). */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fc__config_defaults(fc__config *c)
{
    memset(c, 0, sizeof(*c));
    c->host = strdup("127.0.0.1");
    c->port = 5000;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = n > 0 ? (unsigned)n : 1;
    c->workers = 32;
    c->max_connections = 10000;
    /* libmicrohttpd clears a connection's whole pool for every request, so
     * the pool size is most of its per-request CPU. 20 KiB takes headers of
     * about 19 KB, a Cookie header of 8,190 bytes (the most nginx or
     * gunicorn pass on one line) beside a browser's usual headers with room
     * to spare (libmicrohttpd parses conn.c's decoy, not the client's
     * Cookie header, so it keeps no copy of it and no record per cookie). */
    c->connection_memory = (size_t)20 * 1024;
    c->timeout_s = 60;
    c->header_timeout_s = 30;
    c->max_body = (size_t)16 * 1024 * 1024;
    c->deadline_ms = 30000;
    c->access_log = false;
    c->json_errors = false;
    c->watchdog_ms = 100;
    c->database_url = NULL;
    c->db_pool = 20;
    c->db_queue = 10000;
    c->db_pipeline = 32;
    c->shutdown_grace_ms = 10000;
    c->max_form_parts = 1000;
    c->max_form_field = 500000;
}

void fc__config_free(fc__config *c)
{
    free(c->host);
    free(c->database_url);
    c->host = NULL;
    c->database_url = NULL;
}

static bool parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    long long v;
    if (fc__parse_ll(s, strlen(s), false, &v) != 0 || v < 0 || (unsigned long long)v > max)
        return false;
    *out = (unsigned long long)v;
    return true;
}

static bool in_range(unsigned long long v, unsigned long long lo, unsigned long long hi);

static bool parse_bool(const char *s, bool *out)
{
    if (!fc__strcasecmp(s, "1") || !fc__strcasecmp(s, "true") || !fc__strcasecmp(s, "yes") ||
        !fc__strcasecmp(s, "on")) {
        *out = true;
        return true;
    }
    if (!fc__strcasecmp(s, "0") || !fc__strcasecmp(s, "false") || !fc__strcasecmp(s, "no") ||
        !fc__strcasecmp(s, "off")) {
        *out = false;
        return true;
    }
    return false;
}

#define ENV_UINT(var, field, min, max)                                         \
    do {                                                                       \
        const char *e_ = getenv(var);                                          \
        unsigned long long v;                                                  \
        if (e_ && *e_) {                                                       \
            if (parse_u64(e_, (max), &v) && in_range(v, (min), (max)))         \
                c->field = (__typeof__(c->field))v;                            \
            else                                                               \
                fc_log(FC_LOG_WARNING, "ignoring %s=%s: not an integer in [%llu, %llu]", \
                       var, e_, (unsigned long long)(min), (unsigned long long)(max)); \
        }                                                                      \
    } while (0)

#define ENV_BOOL(var, field)                                                   \
    do {                                                                       \
        const char *e_ = getenv(var);                                          \
        bool b;                                                                \
        if (e_ && *e_) {                                                       \
            if (parse_bool(e_, &b))                                            \
                c->field = b;                                                  \
            else                                                               \
                fc_log(FC_LOG_WARNING, "ignoring %s=%s: not a boolean", var, e_); \
        }                                                                      \
    } while (0)

void fc__config_from_env(fc__config *c)
{
    const char *s = getenv("FLASKC_HOST");
    if (s && *s) {
        char *h = strdup(s);
        if (h) {
            free(c->host);
            c->host = h;
        }
    }
    ENV_UINT("FLASKC_PORT", port, 0, 65535);
    ENV_UINT("FLASKC_THREADS", threads, 1, 1024);
    ENV_UINT("FLASKC_WORKERS", workers, 1, 4096);
    ENV_UINT("FLASKC_MAX_CONNECTIONS", max_connections, 1, 1000000);
    ENV_UINT("FLASKC_CONNECTION_MEMORY", connection_memory, 4096, 64ull * 1024 * 1024);
    ENV_UINT("FLASKC_TIMEOUT", timeout_s, 0, 86400);
    ENV_UINT("FLASKC_HEADER_TIMEOUT", header_timeout_s, 0, 86400);
    ENV_UINT("FLASKC_MAX_BODY", max_body, 0, (unsigned long long)SIZE_MAX / 2);
    ENV_UINT("FLASKC_DEADLINE_MS", deadline_ms, 0, 86400000);
    ENV_BOOL("FLASKC_ACCESS_LOG", access_log);
    ENV_BOOL("FLASKC_JSON_ERRORS", json_errors);
    ENV_UINT("FLASKC_WATCHDOG_MS", watchdog_ms, 0, 3600000);
    ENV_UINT("FLASKC_DB_POOL", db_pool, 1, 1000);
    ENV_UINT("FLASKC_DB_QUEUE", db_queue, 1, 10000000);
    ENV_UINT("FLASKC_DB_PIPELINE", db_pipeline, 1, 1024);
    ENV_UINT("FLASKC_SHUTDOWN_GRACE_MS", shutdown_grace_ms, 0, 3600000);
    s = getenv("FLASKC_DATABASE_URL");
    if (s && *s) {
        char *u = strdup(s);
        if (u) {
            free(c->database_url);
            c->database_url = u;
        }
    }
}

#define SETTER_GUARD(app)                                                      \
    do {                                                                       \
        if (!(app))                                                            \
            return FC_EINVAL;                                                  \
        if (atomic_load(&(app)->frozen))                                       \
            return FC_EBUSY;                                                   \
    } while (0)

static int set_str(char **dst, const char *v, bool allow_null)
{
    if (!v) {
        if (!allow_null)
            return FC_EINVAL;
        free(*dst);
        *dst = NULL;
        return 0;
    }
    char *d = strdup(v);
    if (!d)
        return FC_ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

int fc_app_set_host(fc_app *app, const char *host)
{
    SETTER_GUARD(app);
    if (!host || !*host)
        return FC_EINVAL;
    return set_str(&app->cfg.host, host, false);
}

int fc_app_set_port(fc_app *app, int port)
{
    SETTER_GUARD(app);
    if (port < 0 || port > 65535)
        return FC_EINVAL;
    app->cfg.port = port;
    return 0;
}

static bool in_range(unsigned long long v, unsigned long long lo, unsigned long long hi)
{
    return v >= lo && v <= hi;
}

#define UINT_SETTER(fname, field, type, min, max)                              \
    int fname(fc_app *app, type v)                                             \
    {                                                                          \
        SETTER_GUARD(app);                                                     \
        if (!in_range((unsigned long long)v, (min), (max)))                    \
            return FC_EINVAL;                                                  \
        app->cfg.field = v;                                                    \
        return 0;                                                              \
    }

UINT_SETTER(fc_app_set_threads, threads, unsigned, 1, 1024)
UINT_SETTER(fc_app_set_workers, workers, unsigned, 1, 4096)
UINT_SETTER(fc_app_set_max_connections, max_connections, unsigned, 1, 1000000)
UINT_SETTER(fc_app_set_connection_memory, connection_memory, size_t, 4096, 64ull * 1024 * 1024)
UINT_SETTER(fc_app_set_timeout, timeout_s, unsigned, 0, 86400)
UINT_SETTER(fc_app_set_header_timeout, header_timeout_s, unsigned, 0, 86400)
UINT_SETTER(fc_app_set_max_body, max_body, size_t, 0, SIZE_MAX / 2)
UINT_SETTER(fc_app_set_deadline, deadline_ms, unsigned, 0, 86400000)
UINT_SETTER(fc_app_set_watchdog, watchdog_ms, unsigned, 0, 3600000)
UINT_SETTER(fc_app_set_db_pool, db_pool, unsigned, 1, 1000)
UINT_SETTER(fc_app_set_db_queue, db_queue, unsigned, 1, 10000000)
UINT_SETTER(fc_app_set_db_pipeline, db_pipeline, unsigned, 1, 1024)

int fc_app_set_access_log(fc_app *app, bool on)
{
    SETTER_GUARD(app);
    app->cfg.access_log = on;
    return 0;
}

int fc_app_set_json_errors(fc_app *app, bool always)
{
    SETTER_GUARD(app);
    app->cfg.json_errors = always;
    return 0;
}

int fc_app_set_database_url(fc_app *app, const char *url)
{
    SETTER_GUARD(app);
    return set_str(&app->cfg.database_url, url, true);
}
