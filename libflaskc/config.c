/* config.c — settings: the table of settings.h as data, defaults, the
 * FLASKC_* environment (bad values refuse the start), typed setters. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the table as data ---- */

#define DFLT_NUM_STRING(d) 0
#define DFLT_NUM_PORT(d) (unsigned long long)(d)
#define DFLT_NUM_COUNT(d) (unsigned long long)(d)
#define DFLT_NUM_BYTES(d) (unsigned long long)(d)
#define DFLT_NUM_SECONDS(d) (unsigned long long)(d)
#define DFLT_NUM_MS(d) (unsigned long long)(d)
#define DFLT_NUM_BOOL(d) (unsigned long long)(d)
#define DFLT_NUM_LEVEL(d) (unsigned long long)(d)
#define DFLT_STR_STRING(d) d
#define DFLT_STR_PORT(d) NULL
#define DFLT_STR_COUNT(d) NULL
#define DFLT_STR_BYTES(d) NULL
#define DFLT_STR_SECONDS(d) NULL
#define DFLT_STR_MS(d) NULL
#define DFLT_STR_BOOL(d) NULL
#define DFLT_STR_LEVEL(d) NULL

#define ROW(NAME, field_, kind_, dflt_, dflt_doc_, min_, max_, zero_, setter_, meaning_)          \
    [FC__S_##NAME] = {.env = "FLASKC_" #NAME,                                                     \
                      .field = #field_,                                                           \
                      .kind = FC__KIND_##kind_,                                                   \
                      .dflt = DFLT_NUM_##kind_(dflt_),                                            \
                      .dflt_str = DFLT_STR_##kind_(dflt_),                                        \
                      .dflt_doc = (dflt_doc_),                                                    \
                      .min = (unsigned long long)(min_),                                          \
                      .max = (unsigned long long)(max_),                                          \
                      .zero = (zero_),                                                            \
                      .setter = #setter_,                                                         \
                      .meaning = (meaning_)},
const fc__setting fc__settings[FC__S_N] = {FC__SETTINGS(ROW)};
#undef ROW

static const struct {
    const char *name, *unit;
} kinds[] = {
#define KIND_ROW(K, ctype, doc, unit) [FC__KIND_##K] = {doc, unit},
    FC__KINDS(KIND_ROW)
#undef KIND_ROW
};

const char *fc__setting_kind_name(fc__setting_kind k)
{
    return (size_t)k < sizeof(kinds) / sizeof(kinds[0]) ? kinds[k].name : "?";
}

const char *fc__setting_kind_unit(fc__setting_kind k)
{
    return (size_t)k < sizeof(kinds) / sizeof(kinds[0]) ? kinds[k].unit : "";
}

const char *fc__setting_level_name(fc_log_level l)
{
#define LEVEL_NAME(value, word)                                                                    \
    if (l == (value))                                                                              \
        return word;
    FC__LOG_LEVELS(LEVEL_NAME)
#undef LEVEL_NAME
    return NULL;
}

int fc__setting_parse_level(const char *s, fc_log_level *out)
{
#define LEVEL_PARSE(value, word)                                                                   \
    if (!fc__strcasecmp(s, word)) {                                                                \
        *out = (value);                                                                            \
        return 0;                                                                                  \
    }
    FC__LOG_LEVELS(LEVEL_PARSE)
#undef LEVEL_PARSE
    return FC_EINVAL;
}

static const char *const bool_true[] = {FC__BOOL_TRUE};
static const char *const bool_false[] = {FC__BOOL_FALSE};
#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

int fc__setting_parse_bool(const char *s, bool *out)
{
    for (size_t i = 0; i < NWORDS(bool_true); i++)
        if (!fc__strcasecmp(s, bool_true[i])) {
            *out = true;
            return 0;
        }
    for (size_t i = 0; i < NWORDS(bool_false); i++)
        if (!fc__strcasecmp(s, bool_false[i])) {
            *out = false;
            return 0;
        }
    return FC_EINVAL;
}

/* Appends to buf at *len, never past size (snprintf's truncation is kept). */
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

static void put_words(char *buf, size_t size, size_t *len, const char *const *w, size_t n, bool md)
{
    for (size_t i = 0; i < n; i++)
        put(buf, size, len, md ? "%s`%s`" : "%s%s", i ? ", " : "", w[i]);
}

void fc__setting_accepted(const fc__setting *s, bool md, char *buf, size_t size)
{
    size_t len = 0;
    if (!size)
        return;
    buf[0] = '\0';
    switch (s->kind) {
    case FC__KIND_STRING:
        put(buf, size, &len, "%s",
            s->min ? "a non-empty string" : "a string (NULL to the setter unsets it)");
        return;
    case FC__KIND_BOOL:
        put_words(buf, size, &len, bool_true, NWORDS(bool_true), md);
        put(buf, size, &len, " or ");
        put_words(buf, size, &len, bool_false, NWORDS(bool_false), md);
        return;
    case FC__KIND_LEVEL:
        for (unsigned long long l = s->min; l <= s->max; l++)
            put(buf, size, &len, md ? "%s`%s`" : "%s%s", l > s->min ? ", " : "",
                fc__setting_level_name((fc_log_level)l));
        return;
    default:
        break;
    }
    if (s->max == (unsigned long long)FC__UNBOUNDED)
        put(buf, size, &len, "%llu or more%s", s->min, fc__setting_kind_unit(s->kind));
    else
        put(buf, size, &len, "%llu..%llu%s", s->min, s->max, fc__setting_kind_unit(s->kind));
    if (s->zero)
        put(buf, size, &len, " (0 = %s)", s->zero);
}

/* ---- defaults ---- */

#define DEFAULT_STRING(dst, d) rc = default_str(&(dst), d)
#define DEFAULT_PORT(dst, d) (dst) = (d)
#define DEFAULT_COUNT(dst, d) (dst) = (d)
#define DEFAULT_BYTES(dst, d) (dst) = (size_t)(d)
#define DEFAULT_SECONDS(dst, d) (dst) = (d)
#define DEFAULT_MS(dst, d) (dst) = (d)
#define DEFAULT_BOOL(dst, d) (dst) = (d)
#define DEFAULT_LEVEL(dst, d) (dst) = (d)

static int default_str(char **dst, const char *d)
{
    if (d && !(*dst = strdup(d)))
        return FC_ENOMEM;
    return 0;
}

int fc__config_defaults(fc__config *c)
{
    int rc = 0;
    memset(c, 0, sizeof(*c));
#define SET_DEFAULT(NAME, field, kind, dflt, ...)                                                  \
    DEFAULT_##kind(c->field, dflt);                                                                \
    if (rc)                                                                                        \
        return rc;
    FC__SETTINGS(SET_DEFAULT)
#undef SET_DEFAULT
    /* the table's dflt_doc: one polling thread per core, 1 if unknown */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0)
        c->threads = n > 1024 ? 1024u : (unsigned)n;
    /* limits with neither setter nor FLASKC_ twin yet */
    c->max_form_parts = 1000;
    c->max_form_field = 500000;
    return 0;
}

void fc__config_free(fc__config *c)
{
#define FREE_STRING(field) free(c->field), c->field = NULL
#define FREE_PORT(field)
#define FREE_COUNT(field)
#define FREE_BYTES(field)
#define FREE_SECONDS(field)
#define FREE_MS(field)
#define FREE_BOOL(field)
#define FREE_LEVEL(field)
#define FREE_ROW(NAME, field, kind, ...) FREE_##kind(field);
    FC__SETTINGS(FREE_ROW)
#undef FREE_ROW
}

/* ---- the environment ---- */

/* The value as it goes into a log line: at most 64 bytes, control bytes and
 * quotes escaped (the environment is not trusted to be printable). */
static void quote_value(const char *v, char *out, size_t size)
{
    size_t j = 0, i = 0;
    for (; v[i] && j + 6 < size && i < 64; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
            j += (size_t)snprintf(out + j, size - j, "\\x%02x", ch);
        else
            out[j++] = (char)ch;
    }
    if (v[i] && j + 4 < size)
        j += (size_t)snprintf(out + j, size - j, "...");
    out[j] = '\0';
}

/* Log the bad value, naming the setting, the value and what it accepts; the
 * first one is kept and refuses the start (fc__app_freeze). */
static int bad_value(fc__config *c, const fc__setting *s, const char *v, const char *why)
{
    char q[300], acc[160], msg[sizeof(c->env_msg)];
    quote_value(v, q, sizeof(q));
    fc__setting_accepted(s, false, acc, sizeof(acc));
    /* a long value is cut: the name and the reason come first */
    if (snprintf(msg, sizeof(msg), "%s=\"%s\": %s; accepted: %s", s->env, q, why, acc) < 0)
        msg[0] = '\0';
    fc_log(FC_LOG_ERROR, "%s", msg);
    if (!c->env_err) {
        c->env_err = FC_EINVAL;
        memcpy(c->env_msg, msg, sizeof(msg));
    }
    return FC_EINVAL;
}

/* The variable's value; NULL when unset or empty (an empty variable is the
 * shell's way to unset one for a single command). */
static const char *env_of(const fc__setting *s)
{
    const char *v = getenv(s->env);
    return v && *v ? v : NULL;
}

static int env_number(fc__config *c, const fc__setting *s, unsigned long long *out)
{
    const char *v = env_of(s);
    long long n;
    if (!v)
        return 1;
    if (fc__parse_ll(v, strlen(v), true, &n) != 0) {
        /* digits only (after a sign) but no parse: too many of them */
        size_t i = *v == '-' || *v == '+';
        bool digits = v[i] != '\0' && strspn(v + i, "0123456789") == strlen(v + i);
        return bad_value(c, s, v, digits ? "out of range" : "not a whole number");
    }
    if (n < 0 || (unsigned long long)n < s->min || (unsigned long long)n > s->max)
        return bad_value(c, s, v, "out of range");
    *out = (unsigned long long)n;
    return 0;
}

static int env_string(fc__config *c, const fc__setting *s, char **dst)
{
    const char *v = env_of(s);
    if (!v)
        return 0;
    char *d = strdup(v);
    if (!d)
        return FC_ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

static int env_bool(fc__config *c, const fc__setting *s, bool *dst)
{
    const char *v = env_of(s);
    if (v && fc__setting_parse_bool(v, dst) != 0)
        return bad_value(c, s, v, "not a boolean");
    return 0;
}

static int env_level(fc__config *c, const fc__setting *s, fc_log_level *dst)
{
    const char *v = env_of(s);
    if (v && fc__setting_parse_level(v, dst) != 0)
        return bad_value(c, s, v, "not a log level");
    return 0;
}

#define ENV_NUMBER(s, dst)                                                                         \
    do {                                                                                           \
        unsigned long long v_;                                                                     \
        if (env_number(c, s, &v_) == 0)                                                            \
            *(dst) = (__typeof__(*(dst)))v_;                                                       \
    } while (0)
#define ENV_STRING(s, dst)                                                                         \
    if (env_string(c, s, dst) == FC_ENOMEM)                                                        \
        return FC_ENOMEM;
#define ENV_PORT(s, dst) ENV_NUMBER(s, dst)
#define ENV_COUNT(s, dst) ENV_NUMBER(s, dst)
#define ENV_BYTES(s, dst) ENV_NUMBER(s, dst)
#define ENV_SECONDS(s, dst) ENV_NUMBER(s, dst)
#define ENV_MS(s, dst) ENV_NUMBER(s, dst)
#define ENV_BOOL(s, dst) env_bool(c, s, dst)
#define ENV_LEVEL(s, dst) env_level(c, s, dst)

int fc__config_from_env(fc__config *c)
{
#define FROM_ENV(NAME, field, kind, ...) ENV_##kind(&fc__settings[FC__S_##NAME], &c->field);
    FC__SETTINGS(FROM_ENV)
#undef FROM_ENV
    return c->env_err;
}

/* ---- the setters: ranges from the table ---- */

#define SETTER_GUARD(app)                                                                          \
    do {                                                                                           \
        if (!(app))                                                                                \
            return FC_EINVAL;                                                                      \
        if (atomic_load(&(app)->frozen))                                                           \
            return FC_EBUSY;                                                                       \
    } while (0)

static bool in_range(fc__setting_id id, unsigned long long v)
{
    return v >= fc__settings[id].min && v <= fc__settings[id].max;
}

static int set_str(fc_app *app, fc__setting_id id, char **dst, const char *v)
{
    SETTER_GUARD(app);
    if (fc__settings[id].min && (!v || !*v))
        return FC_EINVAL;
    char *d = NULL;
    if (v && !(d = strdup(v)))
        return FC_ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

int fc_app_set_host(fc_app *app, const char *host)
{
    return set_str(app, FC__S_HOST, app ? &app->cfg.host : NULL, host);
}

int fc_app_set_database_url(fc_app *app, const char *url)
{
    return set_str(app, FC__S_DATABASE_URL, app ? &app->cfg.database_url : NULL, url);
}

int fc_app_set_port(fc_app *app, int port)
{
    SETTER_GUARD(app);
    if (port < 0 || !in_range(FC__S_PORT, (unsigned long long)port))
        return FC_EINVAL;
    app->cfg.port = port;
    return 0;
}

#define UINT_SETTER(fname, NAME, field, type)                                                      \
    int fname(fc_app *app, type v)                                                                 \
    {                                                                                              \
        SETTER_GUARD(app);                                                                         \
        if (!in_range(FC__S_##NAME, (unsigned long long)v))                                        \
            return FC_EINVAL;                                                                      \
        app->cfg.field = v;                                                                        \
        return 0;                                                                                  \
    }

UINT_SETTER(fc_app_set_threads, THREADS, threads, unsigned)
UINT_SETTER(fc_app_set_workers, WORKERS, workers, unsigned)
UINT_SETTER(fc_app_set_max_connections, MAX_CONNECTIONS, max_connections, unsigned)
UINT_SETTER(fc_app_set_connection_memory, CONNECTION_MEMORY, connection_memory, size_t)
UINT_SETTER(fc_app_set_timeout, TIMEOUT, timeout_s, unsigned)
UINT_SETTER(fc_app_set_header_timeout, HEADER_TIMEOUT, header_timeout_s, unsigned)
UINT_SETTER(fc_app_set_max_body, MAX_BODY, max_body, size_t)
UINT_SETTER(fc_app_set_deadline, DEADLINE_MS, deadline_ms, unsigned)
UINT_SETTER(fc_app_set_watchdog, WATCHDOG_MS, watchdog_ms, unsigned)
UINT_SETTER(fc_app_set_db_pool, DB_POOL, db_pool, unsigned)
UINT_SETTER(fc_app_set_db_queue, DB_QUEUE, db_queue, unsigned)
UINT_SETTER(fc_app_set_db_pipeline, DB_PIPELINE, db_pipeline, unsigned)

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
