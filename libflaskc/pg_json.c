/* pg_json.c — a query's result as JSON: json-c objects (fc_pg_row_json, fc_pg_json) and the
 * writer's text (fc_jw_pg, fc_response_pg), both from one rule for typing a value. */
#include "pg_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* type OIDs (catalog/pg_type_d.h); domains are reported as their base type */
enum {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_NUMERIC = 1700,
    OID_JSONB = 3802,
};

/* Levels a result takes in a writer: its array or object, a row, and a json value's own
 * (fc__json_check's limit). */
#define PG_JSON_LEVELS (2 + 64)

/* What a value becomes in JSON. */
typedef enum {
    V_NULL,   /* SQL NULL */
    V_NUMBER, /* its text, a JSON number */
    V_BOOL,   /* 't' or 'f' */
    V_JSON,   /* its text, JSON that json-c reads (fc__json_read) */
    V_TIME,   /* "2013-05-26 14:50:58" -> a string with 'T' for the space */
    V_STRING, /* its text as a string (invalid UTF-8 as U+FFFD) */
} vkind;

/* The kind of value (row, col), and its text in *vp, *lenp. */
/* "dddd-dd-dd hh:..." without an era: DateStyle ISO's form of a timestamp in our era */
static bool iso_datetime(const char *v, size_t len)
{
    static const char shape[] = "dddd-dd-dd dd:";
    if (len < sizeof shape - 1 || (len >= 3 && memcmp(v + len - 3, " BC", 3) == 0))
        return false;
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? v[i] < '0' || v[i] > '9' : v[i] != shape[i])
            return false;
    return true;
}

static vkind kind_of(const PGresult *res, int row, int col, Oid type, const char **vp, size_t *lenp)
{
    if (PQgetisnull(res, row, col))
        return V_NULL;
    const char *v = *vp = PQgetvalue(res, row, col);
    size_t len = *lenp = (size_t)PQgetlength(res, row, col);
    switch (type) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        /* NaN, Infinity, -Infinity: no JSON number for them */
        return fc__json_number(v, len) ? V_NUMBER : V_STRING;
    case OID_BOOL:
        return V_BOOL;
    case OID_JSON:
    case OID_JSONB: {
        /* what json-c cannot read faithfully (integers past 64 bits, nesting
         * past 64, U+0000 in keys) goes as a string, in both forms alike */
        size_t off;
        const char *why;
        return fc__json_check(v, len, &off, &why) == 0 ? V_JSON : V_STRING;
    }
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
        /* DateStyle ISO: "2013-05-26 14:50:58.951" -> "2013-05-26T14:50:58.951"; not
         * "infinity", another DateStyle ("05/26/2013 14:50:58"), or a BC date */
        return iso_datetime(v, len) ? V_TIME : V_STRING;
    default:
        return V_STRING;
    }
}

/* ===== json-c objects ================================================== */

/* A string object of [v, +len): invalid UTF-8 as U+FFFD, @p t_at a byte made 'T' (or -1). */
static struct json_object *string_json(const char *v, size_t len, long t_at)
{
    if (t_at < 0 && fc__utf8_valid(v, len))
        return json_object_new_string_len(v, (int)len);
    fc__buf b = {0};
    for (size_t i = 0; i < len;) {
        size_t k = fc__utf8_seq(v + i, len - i);
        int rc = (long)i == t_at ? fc__buf_append(&b, "T", 1)
                 : k             ? fc__buf_append(&b, v + i, k)
                                 : fc__buf_append(&b, "\xEF\xBF\xBD", 3);
        if (rc) {
            fc__buf_free(&b);
            return NULL;
        }
        i += (long)i == t_at ? 1 : k ? k : fc__utf8_bad(v + i, len - i);
    }
    struct json_object *o = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
    fc__buf_free(&b);
    return o;
}

/* One value; NULL = JSON null (SQL NULL, or out of memory). */
static struct json_object *value_json(const PGresult *res, int row, int col, Oid type)
{
    const char *v = NULL;
    size_t len = 0;
    vkind k = kind_of(res, row, col, type, &v, &len);
    if (k == V_NULL)
        return NULL;
    switch (k) {
    case V_NUMBER:
        if (type == OID_INT2 || type == OID_INT4 || type == OID_INT8 || type == OID_OID) {
            char *end;
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (!errno && *end == '\0')
                return json_object_new_int64(x);
        }
        /* a double that json-c writes back as PostgreSQL's text ("12.50", "-0", 1e400) */
        return json_object_new_double_s(strtod(v, NULL), v);
    case V_BOOL:
        return json_object_new_boolean(v[0] == 't');
    case V_JSON: {
        bool ok;
        struct json_object *o = fc__json_read(v, len, &ok);
        if (ok)
            return o;
        return string_json(v, len, -1); /* out of memory: as a string, or null */
    }
    case V_TIME:
        return string_json(v, len, 10);
    default:
        return string_json(v, len, -1);
    }
}

static struct json_object *row_json(const PGresult *res, int row, int ncols)
{
    struct json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    for (int c = 0; c < ncols; c++) {
        struct json_object *v = value_json(res, row, c, PQftype(res, c));
        if (json_object_object_add(o, PQfname(res, c), v) != 0) {
            json_object_put(v);
            json_object_put(o);
            return NULL;
        }
    }
    return o;
}

struct json_object *fc_pg_row_json(const fc_pg_result *r, int row)
{
    if (!r || !r->res || row < 0 || row >= PQntuples(r->res))
        return NULL;
    return row_json(r->res, row, PQnfields(r->res));
}

struct json_object *fc_pg_json(const fc_pg_result *r)
{
    if (!r || !r->res)
        return NULL;
    struct json_object *a = json_object_new_array();
    int n = PQntuples(r->res), nc = PQnfields(r->res);
    if (!a)
        return NULL;
    for (int i = 0; i < n; i++) {
        struct json_object *o = row_json(r->res, i, nc);
        if (!o || json_object_array_add(a, o) != 0) {
            json_object_put(o);
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

/* ===== writer text ===================================================== */

/* JSON text (checked) without the whitespace between its tokens: jsonb's text form has a space
 * after each ':' and ','; answers are compact, as json-c writes them. */
static int put_compact(fc_jw *w, const char *v, size_t len)
{
    if (fc__jw_reserve(w, len))
        return fc_jw_error(w);
    char *o = fc__jw_buf(w) + fc_jw_pending(w), *start = o;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (in_str) {
            if (c == '\\')
                *o++ = v[i++]; /* the escaped character follows as it is */
            else if (c == '"')
                in_str = false;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        } else if (c == '"') {
            in_str = true;
        }
        *o++ = v[i];
    }
    fc__jw_advance(w, (size_t)(o - start));
    return 0;
}

/* One value at the writer's position (the grammar is the caller's). */
static int put_value(fc_jw *w, const PGresult *res, int row, int col, Oid type)
{
    const char *v = NULL;
    size_t len = 0;
    switch (kind_of(res, row, col, type, &v, &len)) {
    case V_NULL:
        return fc__jw_put(w, "null", 4);
    case V_BOOL:
        return v[0] == 't' ? fc__jw_put(w, "true", 4) : fc__jw_put(w, "false", 5);
    case V_NUMBER:
        return fc__jw_put(w, v, len);
    case V_JSON:
        return put_compact(w, v, len);
    case V_TIME: {
        /* the text with 'T' for the space at 10: ASCII (iso_datetime), so it went unescaped and
         * ends one byte before the closing quote */
        if (fc__jw_put_str(w, v, len))
            return fc_jw_error(w);
        char *sp = fc__jw_buf(w) + fc_jw_pending(w) - len - 1 + 10;
        if (*sp == ' ')
            *sp = 'T';
        return 0;
    }
    default:
        return fc__jw_put_str(w, v, len);
    }
}

/* Row @p row as an object of its columns but @p skip (-1: none), or as an array. The keys are
 * escaped again for each row: for short ASCII names that is a copy, cheaper than a cache's
 * allocations on single-row answers. */
static int put_row(fc_jw *w, const PGresult *res, int ncols, int row, bool object, int skip)
{
    if (fc__jw_put(w, object ? "{" : "[", 1))
        return fc_jw_error(w);
    bool first = true;
    for (int i = 0; i < ncols; i++) {
        if (i == skip)
            continue;
        if (!first && fc__jw_put(w, ",", 1))
            return fc_jw_error(w);
        first = false;
        if (object) {
            const char *key = PQfname(res, i);
            if (fc__jw_put_str(w, key, strlen(key)) || fc__jw_put(w, ":", 1))
                return fc_jw_error(w);
        }
        if (put_value(w, res, row, i, PQftype(res, i)))
            return fc_jw_error(w);
    }
    return fc__jw_put(w, object ? "}" : "]", 1);
}

/* Room for the answer, guessed from its first rows (at most 16) and capped at 4 MiB: a hint,
 * not a need (one huge first row must not ask for rows x its size). */
static void reserve_rows(fc_jw *w, const PGresult *res, int ncols, int nrows)
{
    int sample = nrows < 16 ? nrows : 16;
    size_t bytes = 0;
    for (int r = 0; r < sample; r++)
        for (int i = 0; i < ncols; i++)
            bytes += (size_t)PQgetlength(res, r, i) + strlen(PQfname(res, i)) + 8;
    if (sample == 0)
        return;
    size_t per_row = bytes / (size_t)sample + 16, cap = (size_t)4 << 20;
    size_t guess = per_row > cap / (size_t)nrows ? cap : per_row * (size_t)nrows;
    fc__jw_hint(w, guess + guess / 8);
}

int fc_jw_pg(fc_jw *w, const fc_pg_result *r, fc_pg_shape shape, int key_col)
{
    if (!w)
        return FC_EINVAL;
    if (fc_jw_error(w))
        return fc_jw_error(w);
    if (!r || r->err || !r->res || shape < FC_PG_OBJECTS || shape > FC_PG_KEYED ||
        (shape == FC_PG_KEYED && (key_col < 0 || key_col >= PQnfields(r->res))))
        return fc__jw_fail(w, FC_EINVAL);
    const PGresult *res = r->res;
    int nrows = PQntuples(res), ncols = PQnfields(res);
    if (fc__jw_depth_left(w) < PG_JSON_LEVELS)
        return fc__jw_fail(w, FC_ERANGE);
    if (shape == FC_PG_OBJECT && nrows == 0)
        return FC_ENOENT;
    if (fc__jw_value_begin(w))
        return fc_jw_error(w);
    if (nrows > 0)
        reserve_rows(w, res, ncols, shape == FC_PG_OBJECT ? 1 : nrows);
    if (shape == FC_PG_OBJECT) {
        put_row(w, res, ncols, 0, true, -1);
    } else if (!fc__jw_put(w, shape == FC_PG_KEYED ? "{" : "[", 1)) {
        for (int i = 0; i < nrows; i++) {
            if (i && fc__jw_put(w, ",", 1))
                break;
            if (shape == FC_PG_KEYED) {
                bool null = PQgetisnull(res, i, key_col);
                const char *k = null ? "null" : PQgetvalue(res, i, key_col);
                size_t klen = null ? 4 : (size_t)PQgetlength(res, i, key_col);
                if (fc__jw_put_str(w, k, klen) || fc__jw_put(w, ":", 1))
                    break;
            }
            if (put_row(w, res, ncols, i, shape != FC_PG_ARRAYS, shape == FC_PG_KEYED ? key_col : -1))
                break;
        }
        fc__jw_put(w, shape == FC_PG_KEYED ? "}" : "]", 1);
    }
    if (fc_jw_error(w))
        return fc_jw_error(w);
    fc__jw_value_end(w);
    return 0;
}

int fc_response_pg(fc_request *req, const fc_pg_result *r, fc_pg_shape shape, int key_col)
{
    if (!req)
        return FC_EINVAL;
    int err = fc_pg_ok(r);
    if (err) {
        const char *ep = fc_request_endpoint(req), *msg = fc_pg_error(r);
        fc_log(FC_LOG_WARNING, "%s: %s", ep ? ep : "fc_response_pg", msg ? msg : fc_strerror(err));
        return fc_abort(req, err == FC_EDBDOWN || err == FC_ETIMEDOUT ? 503 : 500,
                        err == FC_EDBDOWN || err == FC_ETIMEDOUT ? "database unavailable"
                                                                 : "database error");
    }
    fc_jw *w = fc_jw_new();
    if (!w)
        return fc_abort(req, 500, "out of memory");
    int rc = fc_jw_pg(w, r, shape, key_col);
    if (rc == FC_ENOENT) {
        fc_jw_free(w);
        return fc_abort(req, 404, "no such row");
    }
    return fc_response_jw(req, 200, w); /* a writer that failed answers 500 */
}
