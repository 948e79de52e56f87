/* pg_result.c — a query's result: status, error, SQLSTATE, rows, typed values and rows as JSON;
 * run by the thread that holds the result (its callback's, or the worker's), reading only. */
#include "pg_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* type OIDs (catalog/pg_type_d.h); domains are reported as their base type */
enum {
    OID_BOOL = 16, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25,
    OID_OID = 26, OID_JSON = 114, OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_BPCHAR = 1042,
    OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184,
    OID_NUMERIC = 1700, OID_JSONB = 3802,
};

int fc_pg_ok(const fc_pg_result *r)
{
    return r ? r->err : FC_EINVAL;
}

const char *fc_pg_error(const fc_pg_result *r)
{
    if (!r || !r->err)
        return NULL;
    return r->msg ? r->msg : fc_strerror(r->err);
}

const char *fc_pg_sqlstate(const fc_pg_result *r)
{
    return r && r->err ? r->sqlstate : NULL;
}

int fc_pg_nrows(const fc_pg_result *r)
{
    return r && r->res ? PQntuples(r->res) : 0;
}

int fc_pg_ncols(const fc_pg_result *r)
{
    return r && r->res ? PQnfields(r->res) : 0;
}

const char *fc_pg_colname(const fc_pg_result *r, int col)
{
    return r && r->res ? PQfname(r->res, col) : NULL;
}

static bool in_range(const fc_pg_result *r, int row, int col)
{
    return r && r->res && row >= 0 && col >= 0 && row < PQntuples(r->res) &&
           col < PQnfields(r->res);
}

const char *fc_pg_value(const fc_pg_result *r, int row, int col)
{
    if (!in_range(r, row, col) || PQgetisnull(r->res, row, col))
        return NULL;
    return PQgetvalue(r->res, row, col);
}

bool fc_pg_isnull(const fc_pg_result *r, int row, int col)
{
    return !in_range(r, row, col) || PQgetisnull(r->res, row, col);
}

long long fc_pg_int(const fc_pg_result *r, int row, int col)
{
    const char *v = fc_pg_value(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

long long fc_pg_affected(const fc_pg_result *r)
{
    if (!r || !r->res)
        return 0;
    const char *s = PQcmdTuples(r->res);
    return s && *s ? strtoll(s, NULL, 10) : 0;
}

/* One value typed by its column's OID; NULL = JSON null (also for SQL NULL). */
static struct json_object *value_json(const PGresult *res, int row, int col, Oid type)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    const char *v = PQgetvalue(res, row, col);
    int len = PQgetlength(res, row, col);
    char *end = NULL;
    switch (type) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            break; /* out of int64 (oid is unsigned 32-bit: fits) */
        return json_object_new_int64(x);
    }
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC: {
        double d = strtod(v, &end);
        if (end == v || *end || !isfinite(d))
            break; /* NaN, Infinity: no JSON number for them */
        /* keep PostgreSQL's text ("12.50", "0.1") as the serialization */
        return json_object_new_double_s(d, v);
    }
    case OID_BOOL:
        return json_object_new_boolean(v[0] == 't');
    case OID_JSON:
    case OID_JSONB: {
        enum json_tokener_error e = json_tokener_success;
        struct json_object *o = json_tokener_parse_verbose(v, &e);
        if (e == json_tokener_success)
            return o;
        break;
    }
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
    case OID_DATE: {
        /* ISO 8601: "2013-05-26 14:50:58.951" -> "2013-05-26T14:50:58.951" */
        char buf[64];
        if (len > 10 && len < (int)sizeof(buf) && v[10] == ' ') {
            memcpy(buf, v, (size_t)len);
            buf[10] = 'T';
            return json_object_new_string_len(buf, len);
        }
        break;
    }
    default:
        break;
    }
    return json_object_new_string_len(v, len);
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
