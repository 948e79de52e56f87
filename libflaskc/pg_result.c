/* pg_result.c — a query's result: status, error, SQLSTATE, rows, values (pg_json.c: as JSON);
 * run by the thread that holds the result (its callback's, or the worker's), reading only. */
#include "pg_int.h"

#include <stdlib.h>

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
