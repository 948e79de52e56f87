/* test_pg.c — libflaskc/pg_*.c on a private PostgreSQL cluster: typed rows, errors with
 * SQLSTATE, pipelining, the bounded queue, reconnects, transactions, blocking API, 504. */
#include "internal.h"
#include "tap.h"

#include <dlfcn.h>
#include <json-c/json.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "httpc.h"

/* ---- the private cluster: always stopped, also on failure ---- */
static char g_dir[64];
static char g_script[2 * PATH_MAX + 64];
static char g_psql[PATH_MAX];
static volatile sig_atomic_t g_started;
static int g_slow = 1; /* timing scale: 4 under valgrind (tests/vg-run) */

static void cluster_cleanup(void)
{
    char cmd[sizeof(g_script) + 256];
    if (!g_dir[0])
        return;
    if (g_started) {
        g_started = 0;
        snprintf(cmd, sizeof(cmd), "'%s' stop '%s' >/dev/null 2>&1", g_script, g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_pg: could not stop the cluster in %s\n", g_dir);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_pg: could not remove %s\n", g_dir);
    g_dir[0] = '\0';
}

static void on_signal(int sig)
{
    (void)sig;
    cluster_cleanup();
    _exit(1);
}

extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int psql(const char *sql)
{
    return run(". '%s/env' && '%s' -X -q -tA -v ON_ERROR_STOP=1 -c \"%s\" >/dev/null", g_dir,
               g_psql, sql);
}

static void urlenc(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* "/q?sql=...&p=..." for a statement and up to 3 parameters */
static const char *qpath(char *out, size_t cap, const char *sql, const char *p1, const char *p2)
{
    char es[1024], e1[256] = "", e2[256] = "";
    urlenc(es, sizeof(es), sql);
    if (p1)
        urlenc(e1, sizeof(e1), p1);
    if (p2)
        urlenc(e2, sizeof(e2), p2);
    snprintf(out, cap, "/q?sql=%s%s%s%s%s", es, p1 ? "&p=" : "", e1, p2 ? "&p=" : "", e2);
    return out;
}

static fc_test_response *tget(fc_app *app, const char *path)
{
    return fc_test_request(app, "GET", path, NULL, NULL, 0);
}

static json_object *tjson(fc_test_response *r)
{
    return json_tokener_parse(fc_test_body(r, NULL));
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* ---- handlers ---- */
static atomic_int g_callbacks, g_late;

static int answer(fc_request *req, const fc_pg_result *r)
{
    int err = fc_pg_ok(r);
    json_object *o = json_object_new_object();
    if (err) {
        json_object_object_add(o, "error", json_object_new_string(fc_pg_error(r)));
        json_object_object_add(o, "sqlstate", json_object_new_string(fc_pg_sqlstate(r)));
        json_object_object_add(o, "code", json_object_new_int(err));
        int st = err == FC_EDBDOWN ? 503 : err == FC_ETIMEDOUT ? 504 : 400;
        return fc_response_json(req, st, o);
    }
    json_object_object_add(o, "rows", fc_pg_json(r));
    json_object_object_add(o, "affected", json_object_new_int64(fc_pg_affected(r)));
    return fc_response_json(req, 200, o);
}

static void q_cb(fc_request *req, const fc_pg_result *r, void *ud)
{
    (void)ud;
    if (answer(req, r) == FC_EALREADY)
        atomic_fetch_add(&g_late, 1);
    atomic_fetch_add(&g_callbacks, 1);
}

static void h_q(fc_request *req)
{
    size_t n = 0;
    const char *const *ps = fc_query_list(req, "p", &n);
    const char *params[8];
    if (n > 8)
        n = 8;
    for (size_t i = 0; i < n; i++)
        params[i] = strcmp(ps[i], "NULL!") ? ps[i] : NULL;
    int rc = fc_pg_query(req, fc_query(req, "sql"), (int)n, params, q_cb, NULL);
    if (rc)
        fc_abort(req, 500, fc_strerror(rc));
}

/* fc_pg_query_worker: the callback sleeps ?ms= on a pool thread */
static atomic_int g_worker_on_loop, g_worker_calls;

static void qw_cb(fc_request *req, const fc_pg_result *r, void *ud)
{
    (void)ud;
    atomic_fetch_add(&g_worker_calls, 1);
    if (fc__loop_current())
        atomic_fetch_add(&g_worker_on_loop, 1);
    long long ms = 0;
    fc_query_int(req, "ms", 0, &ms);
    if (ms > 0)
        usleep((useconds_t)ms * 1000);
    answer(req, r);
}

static void h_qw(fc_request *req)
{
    int rc = fc_pg_query_worker(req, "SELECT g AS n FROM generate_series(1, 300) g", 0, NULL, qw_cb, NULL);
    if (rc)
        fc_abort(req, 500, fc_strerror(rc));
}

static void types_cb(fc_request *req, const fc_pg_result *r, void *ud)
{
    (void)ud;
    if (fc_pg_ok(r)) {
        answer(req, r);
        return;
    }
    if (ud) /* the JSON writer: the same values, no json-c objects */
        fc_response_pg(req, r, FC_PG_OBJECT, 0);
    else
        fc_response_json(req, 200, fc_pg_row_json(r, 0));
}

static void h_types(fc_request *req)
{
    const char *sql =
        "SELECT 1::int4 AS i, 9007199254740993::int8 AS big, 7::int2 AS small, 12.50::numeric AS n, "
        "true AS b, false AS f, 'h\xc3\xa9 \"q\"'::text AS t, NULL::int AS nul, "
        "'2013-05-26 14:50:58.951'::timestamp AS ts, '2020-02-29'::date AS d, "
        "ARRAY[1,2]::int[] AS arr, 1.5::float8 AS fl, '{\"a\":[1,null]}'::jsonb AS j, "
        "'English'::char(10) AS c, 'NaN'::float8 AS nan, $1::varchar AS p";
    /* every other type the writer knows, and strings that need escapes */
    const char *more =
        "SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '\\x00ff'::bytea AS by, "
        "'2006-02-15 09:34:33+02'::timestamptz AS tz, 'Infinity'::float8 AS inf, "
        "'-Infinity'::numeric AS ninf, 'NaN'::numeric AS nnan, 26::oid AS o, 1.25::float4 AS f4, "
        "'-0'::float8 AS negz, 1e300::float8 AS e300, 'nm'::name AS nm, "
        "123456789012345678901234567890.5::numeric AS bign, E'ctl\\x01\\t\\n\\\\/\\x7f'::text AS ctl, "
        "'\xf0\x9f\x98\x80 e\xcc\x81'::text AS uni, ''::text AS empty, NULL::text AS tnull, "
        "'infinity'::timestamp AS tsinf, '[1,{\"k\":\"v\"}]'::jsonb AS jb, $1::varchar AS p";
    const char *p[] = {"param"};
    bool w = fc_query(req, "w") != NULL;
    if (fc_pg_query(req, fc_query(req, "more") ? more : sql, 1, p, types_cb, w ? req : NULL))
        fc_abort(req, 500, NULL);
}

/* POST-less tx: /tx?v=VALUE&commit=0|1 */
struct txctx {
    bool commit;
    const char *v;
};

static void tx_done(fc_request *req, const fc_pg_result *r, void *ud)
{
    (void)ud;
    answer(req, r);
}

static void tx_failed_rolled_back(fc_request *req, const fc_pg_result *r, void *ud)
{
    (void)ud;
    fc_response_json_str(req, fc_pg_ok(r) ? 500 : 400, "{\"error\":\"insert failed\"}");
}

static void tx_inserted(fc_request *req, fc_pg_tx *tx, const fc_pg_result *r, void *ud)
{
    struct txctx *c = ud;
    if (fc_pg_ok(r)) {
        if (fc_pg_tx_rollback(tx, tx_failed_rolled_back, NULL))
            answer(req, r);
        return;
    }
    int rc = c->commit ? fc_pg_tx_commit(tx, tx_done, NULL) : fc_pg_tx_rollback(tx, tx_done, NULL);
    if (rc)
        fc_abort(req, 500, fc_strerror(rc));
}

static void tx_begun(fc_request *req, fc_pg_tx *tx, const fc_pg_result *r, void *ud)
{
    struct txctx *c = ud;
    if (!tx) {
        answer(req, r);
        return;
    }
    const char *p[] = {c->v};
    if (fc_pg_tx_query(tx, "INSERT INTO item(v) VALUES ($1)", 1, p, tx_inserted, c))
        fc_abort(req, 500, NULL);
}

static void h_tx(fc_request *req)
{
    struct txctx *c = fc_request_alloc(req, sizeof(*c));
    c->v = fc_query(req, "v");
    const char *cm = fc_query(req, "commit");
    c->commit = cm && !strcmp(cm, "1");
    if (fc_pg_begin(req, tx_begun, c))
        fc_abort(req, 500, NULL);
}

/* /txsleep?v=V&s=SECONDS: BEGIN; INSERT v; pg_sleep(s); COMMIT */
static void txs_slept(fc_request *req, fc_pg_tx *tx, const fc_pg_result *r, void *ud)
{
    (void)ud;
    int rc = fc_pg_tx_commit(tx, q_cb, NULL);
    if (rc) /* canceled meanwhile (504): the library rolls back when the request ends */
        atomic_fetch_add(&g_late, 1);
}

static void txs_inserted(fc_request *req, fc_pg_tx *tx, const fc_pg_result *r, void *ud)
{
    const char *p[] = {ud};
    if (fc_pg_ok(r) || fc_pg_tx_query(tx, "SELECT pg_sleep($1::float8)", 1, p, txs_slept, NULL))
        answer(req, r);
}

static void txs_begun(fc_request *req, fc_pg_tx *tx, const fc_pg_result *r, void *ud)
{
    const char *v = fc_query(req, "v");
    const char *p[] = {v ? v : "x"};
    if (!tx || fc_pg_tx_query(tx, "INSERT INTO item(v) VALUES ($1)", 1, p, txs_inserted, ud))
        answer(req, r);
}

static void h_txsleep(fc_request *req)
{
    const char *s = fc_query(req, "s");
    if (fc_pg_begin(req, txs_begun, (void *)(s ? s : "1")))
        fc_abort(req, 500, NULL);
}

/* blocking API: count the parents, or run ?sql= */
static void h_sync(fc_request *req)
{
    fc_pg_conn *c = fc_pg_acquire(req);
    if (!c) {
        fc_abort(req, 503, "no database connection");
        return;
    }
    const char *sql = fc_query(req, "sql");
    const fc_pg_result *r = fc_pg_exec(c, sql ? sql : "SELECT count(*) AS n FROM parent", 0, NULL);
    fc_pg_release(c);
    if (!r)
        fc_abort(req, 500, NULL);
    else
        answer(req, r);
}

static void h_nodb(fc_request *req)
{
    int rc = fc_pg_query(req, "SELECT 1", 0, NULL, q_cb, NULL);
    fc_response_json_str(req, 200, rc == FC_EINVAL ? "{\"einval\":true}" : "{\"einval\":false}");
}

/* /where: the handler, its query's callback, and a transaction's BEGIN,
 * statement and COMMIT callbacks must all run on the polling thread that owns
 * the connection; the answer says "<thread> <steps on it>/<steps>" */
struct where {
    pthread_t handler;
    int same, steps;
};

static void where_step(fc_request *req)
{
    struct where *w = fc_request_data(req);
    w->steps++;
    if (pthread_equal(pthread_self(), w->handler) && fc__loop_current() == req->loop)
        w->same++;
}

static void where_done(fc_request *req, const fc_pg_result *r, void *ud)
{
    struct where *w = fc_request_data(req);
    (void)ud;
    where_step(req);
    if (fc_pg_ok(r) != 0) {
        fc_abort(req, 503, fc_pg_error(r));
        return;
    }
    char body[64];
    snprintf(body, sizeof(body), "%u %d/%d", fc__loop_index(req->loop), w->same, w->steps);
    fc_response_text(req, 200, body);
}

static void where_txq(fc_request *req, fc_pg_tx *tx, const fc_pg_result *r, void *ud)
{
    (void)ud;
    where_step(req);
    if (fc_pg_ok(r) != 0 || fc_pg_tx_commit(tx, where_done, NULL) != 0)
        fc_abort(req, 503, "transaction failed");
}

static void where_begun(fc_request *req, fc_pg_tx *tx, const fc_pg_result *r, void *ud)
{
    (void)ud;
    where_step(req);
    if (!tx || fc_pg_ok(r) != 0 || fc_pg_tx_query(tx, "SELECT 2", 0, NULL, where_txq, NULL) != 0)
        fc_abort(req, 503, "transaction failed");
}

static void where_q(fc_request *req, const fc_pg_result *r, void *ud)
{
    (void)ud;
    where_step(req);
    if (fc_pg_ok(r) != 0 || fc_pg_begin(req, where_begun, NULL) != 0)
        fc_abort(req, 503, "query failed");
}

static void h_where(fc_request *req)
{
    struct where *w = fc_request_alloc(req, sizeof(*w));
    if (!w) {
        fc_abort(req, 500, NULL);
        return;
    }
    *w = (struct where){.handler = pthread_self()};
    fc_request_set_data(req, w);
    if (fc_pg_query(req, "SELECT 1", 0, NULL, where_q, NULL) != 0)
        fc_abort(req, 503, "query failed");
}

/* ---- tests ---- */
static int query_status(fc_app *app, const char *sql, const char *p1, json_object **out)
{
    char path[2048];
    fc_test_response *r = tget(app, qpath(path, sizeof(path), sql, p1, NULL));
    int st = fc_test_status(r);
    if (out)
        *out = tjson(r);
    fc_test_response_free(r);
    return st;
}

static void test_types(fc_app *app)
{
    fc_test_response *r = tget(app, "/types");
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_body(r, NULL),
              "{\"i\":1,\"big\":9007199254740993,\"small\":7,\"n\":12.50,\"b\":true,\"f\":false,"
              "\"t\":\"h\xc3\xa9 \\\"q\\\"\",\"nul\":null,\"ts\":\"2013-05-26T14:50:58.951\","
              "\"d\":\"2020-02-29\",\"arr\":\"{1,2}\",\"fl\":1.5,\"j\":{\"a\":[1,null]},"
              "\"c\":\"English   \",\"nan\":\"NaN\",\"p\":\"param\"}\n");
    /* the JSON writer gives the same bytes, on these columns and on every other type */
    for (int more = 0; more < 2; more++) {
        fc_test_response *jc = tget(app, more ? "/types?more=1" : "/types");
        fc_test_response *jw = tget(app, more ? "/types?more=1&w=1" : "/types?w=1");
        CHECK_INT(fc_test_status(jw), 200);
        CHECK_STR(fc_test_body(jw, NULL), fc_test_body(jc, NULL));
        if (more)
            CHECK(strstr(fc_test_body(jw, NULL),
                         "\"ninf\":\"-Infinity\",\"nnan\":\"NaN\",\"o\":26,\"f4\":1.25,\"negz\":-0,"
                         "\"e300\":1e+300,\"nm\":\"nm\",\"bign\":123456789012345678901234567890.5,"
                         "\"ctl\":\"ctl\\u0001\\t\\n\\\\/\x7f\",\"uni\":\"\xf0\x9f\x98\x80 e\xcc\x81\","
                         "\"empty\":\"\",\"tnull\":null,\"tsinf\":\"infinity\","
                         "\"jb\":[1,{\"k\":\"v\"}]") != NULL);
        fc_test_response_free(jc);
        fc_test_response_free(jw);
    }
    fc_test_response_free(r);

    json_object *o = NULL;
    CHECK_INT(query_status(app, "SELECT id, name FROM parent ORDER BY id", NULL, &o), 200);
    CHECK_STR(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
              "{\"rows\":[{\"id\":1,\"name\":\"one\"},{\"id\":2,\"name\":\"two\"}],\"affected\":2}");
    json_object_put(o);
    CHECK_INT(query_status(app, "UPDATE parent SET name = name WHERE id <= $1", "2", &o), 200);
    CHECK_STR(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "{\"rows\":[],\"affected\":2}");
    json_object_put(o);
    /* SQL NULL as a parameter */
    CHECK_INT(query_status(app, "SELECT $1::text IS NULL AS isnull", "NULL!", &o), 200);
    CHECK_STR(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
              "{\"rows\":[{\"isnull\":true}],\"affected\":1}");
    json_object_put(o);
}

static void test_errors(fc_app *app)
{
    json_object *o = NULL;
    CHECK_INT(query_status(app, "SELECT $1::int AS x", "abc", &o), 400);
    CHECK_STR(jstr(o, "sqlstate"), "22P02");
    CHECK(jstr(o, "error") && strstr(jstr(o, "error"), "invalid input syntax"));
    json_object_put(o);
    /* the same statement (prepared and cached) still works with a good value */
    CHECK_INT(query_status(app, "SELECT $1::int AS x", "41", &o), 200);
    json_object_put(o);

    CHECK_INT(query_status(app, "INSERT INTO child(parent_id) VALUES ($1::int)", "99", &o), 400);
    CHECK_STR(jstr(o, "sqlstate"), "23503");
    CHECK_INT(json_object_get_int(json_object_object_get(o, "code")), FC_EDB);
    json_object_put(o);
    CHECK_INT(query_status(app, "INSERT INTO child(parent_id) VALUES ($1::int)", "1", &o), 200);
    json_object_put(o);

    CHECK_INT(query_status(app, "INSERT INTO item(v) VALUES ($1)", "dup", NULL), 200);
    CHECK_INT(query_status(app, "INSERT INTO item(v) VALUES ($1)", "dup", &o), 400);
    CHECK_STR(jstr(o, "sqlstate"), "23505");
    json_object_put(o);

    /* a statement that fails to prepare, twice: the cache must not keep it */
    for (int i = 0; i < 2; i++) {
        CHECK_INT(query_status(app, "SELEC 1", NULL, &o), 400);
        CHECK_STR(jstr(o, "sqlstate"), "42601");
        json_object_put(o);
    }
    CHECK_INT(query_status(app, "SELECT 1 FROM no_such_table", NULL, &o), 400);
    CHECK_STR(jstr(o, "sqlstate"), "42P01");
    json_object_put(o);
    CHECK_INT(query_status(app, "CREATE TABLE late_t(x int)", NULL, NULL), 200);
    CHECK_INT(query_status(app, "SELECT 1 FROM no_such_table", NULL, NULL), 400);
}

static int item_count(fc_app *app, const char *v)
{
    json_object *o = NULL;
    int n = -1;
    if (query_status(app, "SELECT count(*) AS n FROM item WHERE v = $1", v, &o) == 200) {
        json_object *rows = json_object_object_get(o, "rows");
        n = json_object_get_int(json_object_object_get(json_object_array_get_idx(rows, 0), "n"));
    }
    json_object_put(o);
    return n;
}

static void test_tx(fc_app *app)
{
    fc_test_response *r = tget(app, "/tx?v=rolled&commit=0");
    CHECK_INT(fc_test_status(r), 200);
    fc_test_response_free(r);
    CHECK_INT(item_count(app, "rolled"), 0);
    r = tget(app, "/tx?v=kept&commit=1");
    CHECK_INT(fc_test_status(r), 200);
    fc_test_response_free(r);
    CHECK_INT(item_count(app, "kept"), 1);
    /* an error inside the transaction: 23505, then rolled back */
    r = tget(app, "/tx?v=kept&commit=1");
    CHECK_INT(fc_test_status(r), 400);
    fc_test_response_free(r);
    CHECK_INT(item_count(app, "kept"), 1);
}

static void test_sync(fc_app *app)
{
    fc_test_response *r = tget(app, "/sync");
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_body(r, NULL), "{\"rows\":[{\"n\":2}],\"affected\":1}\n");
    fc_test_response_free(r);
    r = tget(app, "/sync?sql=SELECT%201%2F0");
    CHECK_INT(fc_test_status(r), 400);
    json_object *o = tjson(r);
    CHECK_STR(jstr(o, "sqlstate"), "22012");
    json_object_put(o);
    fc_test_response_free(r);
}

/* one GET on a thread of its own: path, or else SELECT i * 2 */
struct conc {
    int port;
    int i;
    const char *path;
    resp r;
    uint64_t ms; /* how long the answer took */
    pthread_t t;
};

static void *conc_main(void *p)
{
    struct conc *c = p;
    char buf[2048], v[16];
    snprintf(v, sizeof(v), "%d", c->i);
    const char *path = c->path ? c->path : qpath(buf, sizeof(buf), "SELECT $1::int * 2 AS x", v, NULL);
    uint64_t t0 = fc__now_ms();
    if (!http_get(c->port, path, &c->r, 15000 * g_slow))
        c->r.status = -1;
    c->ms = fc__now_ms() - t0;
    return NULL;
}

static void test_concurrent(int port)
{
    enum { N = 100 };
    static struct conc c[N];
    for (int i = 0; i < N; i++) {
        c[i] = (struct conc){.port = port, .i = i};
        pthread_create(&c[i].t, NULL, conc_main, &c[i]);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(c[i].t, NULL);
        char want[64];
        snprintf(want, sizeof(want), "{\"rows\":[{\"x\":%d}],\"affected\":1}\n", 2 * i);
        if (c[i].r.status == 200 && !strcmp(c[i].r.body, want))
            ok++;
        else
            fprintf(stderr, "concurrent %d: %d %s\n", i, c[i].r.status, c[i].r.body);
    }
    CHECK_INT(ok, N);
}

/* 60 connections over a two-thread server: every callback of every request
 * ran on the thread of its handler, and both threads served */
static void test_same_thread(int port)
{
    enum { N = 60 };
    static struct conc c[N];
    for (int i = 0; i < N; i++) {
        c[i] = (struct conc){.port = port, .i = i, .path = "/where"};
        pthread_create(&c[i].t, NULL, conc_main, &c[i]);
    }
    int ok = 0;
    unsigned threads = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(c[i].t, NULL);
        unsigned th = 9;
        if (c[i].r.status == 200 && sscanf(c[i].r.body, "%u 4/4", &th) == 1 && th < 2 &&
            strstr(c[i].r.body, " 4/4")) {
            ok++;
            threads |= 1u << th;
        } else {
            fprintf(stderr, "where %d: %d %s\n", i, c[i].r.status, c[i].r.body);
        }
    }
    CHECK_INT(ok, N);
    CHECK_INT(threads, 3);
}

/* A callback that takes CPU time (here: sleeps 400 ms) on a 300-row result
 * runs on the worker pool with fc_pg_query_worker, so a second request's
 * query meanwhile completes through the free loop thread at once; with
 * fc_pg_query the loop would be stuck in the first callback. */
static void test_worker_callbacks(int port)
{
    int ms = 400 * g_slow;
    char slow_path[64], fast_path[512];
    snprintf(slow_path, sizeof(slow_path), "/qw?ms=%d", ms);
    qpath(fast_path, sizeof(fast_path), "SELECT 7 AS x", NULL, NULL);
    struct conc a = {.port = port, .path = slow_path}, b = {.port = port, .path = fast_path};
    uint64_t t0 = fc__now_ms();
    pthread_create(&a.t, NULL, conc_main, &a);
    usleep(100 * 1000); /* A's callback is sleeping now */
    uint64_t t1 = fc__now_ms();
    pthread_create(&b.t, NULL, conc_main, &b);
    pthread_join(b.t, NULL);
    uint64_t tb = fc__now_ms() - t1;
    pthread_join(a.t, NULL);
    uint64_t ta = fc__now_ms() - t0;
    CHECK_INT(a.r.status, 200);
    CHECK(strstr(a.r.body, "{\"n\":300}") != NULL);
    CHECK_INT(b.r.status, 200);
    CHECK_STR(b.r.body, "{\"rows\":[{\"x\":7}],\"affected\":1}\n");
    fprintf(stderr, "worker callback: slow request %llu ms, the other meanwhile %llu ms\n",
            (unsigned long long)ta, (unsigned long long)tb);
    CHECK(ta >= (uint64_t)ms);
    CHECK(tb < (uint64_t)ms / 2);
    CHECK(atomic_load(&g_worker_calls) == 1);
    CHECK(atomic_load(&g_worker_on_loop) == 0);
}

/* each request may fail at most once (the query in flight when the server cut it) */
static int retried_ok(fc_app *app, const char *path, int *n503)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        fc_test_response *r = tget(app, path);
        int st = fc_test_status(r);
        fc_test_response_free(r);
        if (st == 200)
            return 1;
        if (st == 503)
            (*n503)++;
    }
    return 0;
}

/* A worker-pool callback reads the message of a connection lost while its
 * query ran: the message must outlive the loop's stack frame that made it
 * (it was conn_close's stack buffer; ASan saw the stale read). */
static void h_qwsleep(fc_request *req)
{
    int rc = fc_pg_query_worker(req, "SELECT pg_sleep(5) AS fc_lost_on_worker", 0, NULL, qw_cb, NULL);
    if (rc)
        fc_abort(req, 500, fc_strerror(rc));
}

struct lost {
    fc_app *app;
    fc_test_response *r;
};

static void *lost_get(void *p)
{
    struct lost *l = p;
    l->r = tget(l->app, "/qwsleep?ms=200");
    return NULL;
}

static void test_worker_lost_message(fc_app *app)
{
    struct lost l = {app, NULL};
    pthread_t th;
    pthread_create(&th, NULL, lost_get, &l);
    usleep(500 * 1000 * (unsigned)g_slow);
    CHECK_INT(psql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                   "WHERE query LIKE 'SELECT pg_sleep(5) AS fc_lost_on_worker%'"),
              0);
    pthread_join(th, NULL);
    CHECK_INT(fc_test_status(l.r), 503);
    json_object *o = tjson(l.r);
    const char *err = jstr(o, "error");
    CHECK(err && (strstr(err, "terminat") || strstr(err, "connection")));
    CHECK(err && fc__utf8_valid(err, strlen(err)));
    fprintf(stderr, "test_pg: worker callback after a lost connection: %s\n", err ? err : "(none)");
    json_object_put(o);
    fc_test_response_free(l.r);
}

/* The server's notices go to the library's log, not to stderr */
static char g_notice[512];
static void notice_log(fc_log_level level, const char *line, void *ud)
{
    (void)ud;
    if (strstr(line, "fc-notice-test"))
        snprintf(g_notice, sizeof(g_notice), "%d %s", (int)level, line);
}

static void test_notices(fc_app *app)
{
    fc_log_set_handler(notice_log, NULL);
    fc_test_response *r = tget(app, "/q?sql=DO%20%24%24BEGIN%20RAISE%20WARNING%20%27fc-notice-test%27%3B%20END%24%24");
    fc_log_set_handler(NULL, NULL);
    CHECK_INT(fc_test_status(r), 200);
    fc_test_response_free(r);
    char want[64];
    snprintf(want, sizeof(want), "%d ", (int)FC_LOG_WARNING);
    CHECK(!strncmp(g_notice, want, strlen(want)) && strstr(g_notice, "database: WARNING:  fc-notice-test"));
}

static void test_terminate(fc_app *app)
{
    char path[2048];
    qpath(path, sizeof(path), "SELECT count(*) AS n FROM parent", NULL, NULL);
    /* warm the blocking pool too */
    fc_test_response_free(tget(app, "/sync"));
    /* with a timeout, each call waits until its backend is gone */
    CHECK_INT(psql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                   "WHERE application_name = 'pgtest_a'"), 0);
    int ok = 0, n503 = 0;
    for (int i = 0; i < 10; i++) {
        ok += retried_ok(app, path, &n503);
        ok += retried_ok(app, "/sync", &n503);
    }
    CHECK_INT(ok, 20);
    fprintf(stderr, "test_pg: after pg_terminate_backend: %d requests answered 503 once\n", n503);
}

/* A database host name whose lookup takes 800 ms (this program's own
 * getaddrinfo stands in for a slow DNS): the polling thread that owns the
 * connection serves HTTP meanwhile, at start and at each reconnect. */
static atomic_int g_slow_lookups;
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
    typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    if (node && !strcmp(node, "slow.flaskc.test")) {
        atomic_fetch_add(&g_slow_lookups, 1);
        usleep(800 * 1000);
        node = "127.0.0.1";
    }
    return real ? real(node, service, hints, res) : EAI_FAIL;
}

static int cluster_port(void)
{
    char port[16] = "", fn[128];
    snprintf(fn, sizeof(fn), "%s/port", g_dir);
    FILE *f = fopen(fn, "r");
    if (!f || !fgets(port, sizeof(port), f))
        port[0] = '\0';
    if (f)
        fclose(f);
    return atoi(port);
}

static void test_slow_dns(fc_blueprint *bp)
{
    char url[256];
    snprintf(url, sizeof(url), "postgresql://postgres@slow.flaskc.test:%d/films?application_name=pgtest_dns",
             cluster_port());
    fc_app *d = fc_app_new("pgtest_dns");
    CHECK_INT(fc_app_set_database_url(d, url), 0);
    fc_app_set_threads(d, 1);
    fc_app_set_db_pool(d, 1);
    fc_app_register(d, bp);
    int n503 = 0;
    CHECK_INT(retried_ok(d, "/q?sql=SELECT%201%20AS%20one", &n503), 1);
    CHECK(atomic_load(&g_slow_lookups) >= 1);
    int before = atomic_load(&g_slow_lookups);
    CHECK_INT(psql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                   "WHERE application_name = 'pgtest_dns'"),
              0);
    /* the loss is seen at once (the socket closes): the reconnect's lookup runs */
    for (int i = 0; i < 100 && atomic_load(&g_slow_lookups) == before; i++)
        usleep(10 * 1000);
    CHECK(atomic_load(&g_slow_lookups) > before);
    uint64_t t0 = fc__now_ms();
    fc_test_response *r = tget(d, "/nodb");
    uint64_t dt = fc__now_ms() - t0;
    CHECK_INT(fc_test_status(r), 200);
    fc_test_response_free(r);
    fprintf(stderr, "test_pg: HTTP during a slow database host lookup: %llu ms\n", (unsigned long long)dt);
    CHECK(dt < 400u * (unsigned)g_slow);
    /* and the connection comes back through the looked-up address */
    int ok = 0;
    for (int i = 0; i < 40 && !ok; i++) {
        ok = retried_ok(d, "/q?sql=SELECT%201%20AS%20one", &n503);
        if (!ok)
            usleep(100 * 1000);
    }
    CHECK_INT(ok, 1);
    fc_app_free(d);
}

/* libpq's multi-host form: the first socket directory does not exist */
static void test_multihost(fc_blueprint *bp)
{
    char port[16] = "", url[512], fn[128];
    snprintf(fn, sizeof(fn), "%s/port", g_dir);
    FILE *f = fopen(fn, "r");
    if (!f || !fgets(port, sizeof(port), f))
        port[0] = '\0';
    if (f)
        fclose(f);
    port[strcspn(port, "\n")] = '\0';
    snprintf(url, sizeof(url), "postgresql:///films?host=/nonexistent-fcpg,%s&port=%s,%s&user=postgres",
             g_dir, port, port);
    fc_app *e = fc_app_new("pgtest_e");
    CHECK_INT(fc_app_set_database_url(e, url), 0);
    fc_app_set_db_pool(e, 2);
    fc_app_register(e, bp);
    for (int i = 0; i < 3; i++) {
        fc_test_response *r = tget(e, "/q?sql=SELECT%20current_database()%20AS%20db");
        CHECK_INT(fc_test_status(r), 200);
        CHECK_STR(fc_test_body(r, NULL), "{\"rows\":[{\"db\":\"films\"}],\"affected\":1}\n");
        fc_test_response_free(r);
    }
    fc_test_response *r = tget(e, "/sync");
    CHECK_INT(fc_test_status(r), 200);
    fc_test_response_free(r);
    fc_app_free(e);

    /* a malformed URL fails the start instead of retrying forever */
    fc_app *bad = fc_app_new("pgtest_bad");
    fc_app_set_database_url(bad, "postgresql://[::1");
    fc_app_register(bad, bp);
    CHECK_INT(fc_app_start(bad), FC_EINVAL);
    fc_app_free(bad);
}

static void test_restart(fc_app *app, const char *url, fc_blueprint *bp)
{
    char path[2048];
    qpath(path, sizeof(path), "SELECT 1 AS one", NULL, NULL);
    CHECK_INT(run("'%s' stop '%s' >/dev/null", g_script, g_dir), 0);
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = fc__now_ms();
        fc_test_response *r1 = tget(app, path);
        uint64_t dt = fc__now_ms() - t0;
        CHECK_INT(fc_test_status(r1), 503);
        CHECK(dt < 2000u * (unsigned)g_slow);
        fc_test_response_free(r1);
        t0 = fc__now_ms();
        r1 = tget(app, "/sync");
        CHECK_INT(fc_test_status(r1), 503);
        CHECK(fc__now_ms() - t0 < 2000u * (unsigned)g_slow);
        fc_test_response_free(r1);
    }
    /* an app started while the database is down starts at once and answers 503 */
    uint64_t t0 = fc__now_ms();
    fc_app *d = fc_app_new("pgtest_d");
    fc_app_set_database_url(d, url);
    fc_app_set_db_pool(d, 2);
    fc_app_register(d, bp);
    fc_test_response *r = tget(d, path);
    CHECK_INT(fc_test_status(r), 503);
    CHECK(fc__now_ms() - t0 < 3000u * (unsigned)g_slow);
    fc_test_response_free(r);

    CHECK_INT(run("'%s' restart '%s' >/dev/null", g_script, g_dir), 0);
    fc_app *apps[] = {app, d};
    for (int k = 0; k < 2; k++) {
        /* every polling thread's part is back: four answers in a row (the
         * test client takes the threads in turn) */
        int st = 0, row = 0;
        t0 = fc__now_ms();
        while (row < 4 && fc__now_ms() - t0 < 15000) {
            r = tget(apps[k], path);
            st = fc_test_status(r);
            fc_test_response_free(r);
            row = st == 200 ? row + 1 : 0;
            if (st != 200)
                usleep(100 * 1000);
        }
        CHECK_INT(st, 200);
        CHECK_INT(row, 4);
    }
    fc_app_free(d);
    int ok = 0;
    for (int i = 0; i < 10; i++) {
        r = tget(app, path);
        ok += fc_test_status(r) == 200;
        fc_test_response_free(r);
        r = tget(app, "/sync");
        ok += fc_test_status(r) == 200;
        fc_test_response_free(r);
    }
    CHECK_INT(ok, 20);
}

/* db_pool 1, db_queue 1: a transaction pins the only connection; of 10 more
 * queries one waits, nine get 503 at once */
static void test_queue(fc_app *app)
{
    int port = fc_app_port(app);
    char hpath[64], spath[64];
    snprintf(hpath, sizeof(hpath), "/txsleep?v=queue&s=%d", g_slow);
    snprintf(spath, sizeof(spath), "/q?sql=SELECT%%20pg_sleep(%d)", 2 * g_slow);
    struct conc hold = {.port = port, .path = hpath};
    pthread_create(&hold.t, NULL, conc_main, &hold);
    usleep(300 * 1000 * (unsigned)g_slow);
    enum { N = 10 };
    static struct conc c[N];
    for (int i = 0; i < N; i++) {
        c[i] = (struct conc){.port = port, .i = i};
        pthread_create(&c[i].t, NULL, conc_main, &c[i]);
    }
    int n200 = 0, n503 = 0, fast503 = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(c[i].t, NULL);
        n200 += c[i].r.status == 200;
        n503 += c[i].r.status == 503;
        fast503 += c[i].r.status == 503 && c[i].ms < 500u * (unsigned)g_slow;
    }
    pthread_join(hold.t, NULL);
    CHECK_INT(hold.r.status, 200);
    CHECK_INT(n200, 1);
    CHECK_INT(n503, N - 1);
    CHECK_INT(fast503, N - 1);

    /* plain overload: a slow query heads the pipeline of the one connection,
     * 31 quick ones wait behind it (32 in flight, the pipeline depth), one
     * waits in the queue; 10 more get 503 at once */
    struct conc slow = {.port = port, .path = spath};
    pthread_create(&slow.t, NULL, conc_main, &slow);
    usleep(200 * 1000 * (unsigned)g_slow);
    enum { M = 32, X = 10 };
    static struct conc d[M + X];
    for (int i = 0; i < M + X; i++) {
        if (i == M)
            usleep(400 * 1000 * (unsigned)g_slow);
        d[i] = (struct conc){.port = port, .i = i};
        pthread_create(&d[i].t, NULL, conc_main, &d[i]);
    }
    n200 = n503 = fast503 = 0;
    for (int i = 0; i < M + X; i++) {
        pthread_join(d[i].t, NULL);
        if (i < M) {
            n200 += d[i].r.status == 200;
        } else {
            n503 += d[i].r.status == 503;
            fast503 += d[i].r.status == 503 && d[i].ms < 500u * (unsigned)g_slow;
        }
    }
    pthread_join(slow.t, NULL);
    CHECK_INT(slow.r.status, 200);
    CHECK_INT(n200, M);
    CHECK_INT(n503, X);
    CHECK_INT(fast503, X);
}

/* deadline 300 ms: 504 on time; the late result must be harmless; a
 * transaction canceled in the middle is rolled back and its connection freed */
static void test_deadline(fc_app *app, fc_app *check)
{
    int port = fc_app_port(app);
    static resp r;
    int late0 = atomic_load(&g_late);
    uint64_t t0 = fc__now_ms();
    CHECK(http_get(port, "/q?sql=SELECT%20pg_sleep(1.5)", &r, 15000 * g_slow));
    CHECK_INT(r.status, 504);
    CHECK(fc__now_ms() - t0 < 1200u * (unsigned)g_slow);
    t0 = fc__now_ms();
    while (atomic_load(&g_late) == late0 && fc__now_ms() - t0 < 5000)
        usleep(20 * 1000);
    CHECK_INT(atomic_load(&g_late), late0 + 1);

    late0 = atomic_load(&g_late);
    CHECK(http_get(port, "/txsleep?v=canceled&s=1", &r, 15000 * g_slow));
    CHECK_INT(r.status, 504);
    t0 = fc__now_ms();
    while (atomic_load(&g_late) == late0 && fc__now_ms() - t0 < 5000)
        usleep(20 * 1000);
    CHECK_INT(atomic_load(&g_late), late0 + 1);
    /* the one connection is usable again (unpinned after the rollback) */
    CHECK(http_get(port, "/q?sql=SELECT%201", &r, 15000 * g_slow));
    CHECK_INT(r.status, 200);
    CHECK_INT(item_count(check, "canceled"), 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (getenv("FC_UNDER_VALGRIND"))
        g_slow = 4;
    const char *top = getenv("top_srcdir");
    char srcdir[PATH_MAX];
    if (top && *top) {
        snprintf(srcdir, sizeof(srcdir), "%s", top);
    } else {
        /* __FILE__ is .../tests/test_pg.c */
        snprintf(srcdir, sizeof(srcdir), "%s", __FILE__);
        char *s = strrchr(srcdir, '/');
        if (s)
            *s = '\0';
        s = strrchr(srcdir, '/');
        if (s)
            *s = '\0';
        else
            snprintf(srcdir, sizeof(srcdir), ".");
    }
    snprintf(g_script, sizeof(g_script), "%s/tests/pgcluster.sh", srcdir);
    if (g_script[0] != '/') {
        char cwd[PATH_MAX], tmp[sizeof(g_script) + PATH_MAX + 2];
        if (getcwd(cwd, sizeof(cwd))) {
            snprintf(tmp, sizeof(tmp), "%s/%s", cwd, g_script);
            if (strlen(tmp) < sizeof(g_script))
                memcpy(g_script, tmp, strlen(tmp) + 1);
        }
    }
    const char *pgbin = getenv("PGBIN");
    snprintf(g_psql, sizeof(g_psql), "%s/psql", pgbin && *pgbin ? pgbin : "/usr/lib/postgresql/15/bin");

    snprintf(g_dir, sizeof(g_dir), "/tmp/fcpgXXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cluster_cleanup);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(cluster_cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGALRM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    alarm(170);

    char cmd[sizeof(g_script) + 128], url[1024] = "";
    snprintf(cmd, sizeof(cmd), "'%s' start '%s'", g_script, g_dir);
    g_started = 1;
    FILE *f = popen(cmd, "r");
    if (!f || !fgets(url, sizeof(url), f))
        url[0] = '\0';
    int st = f ? pclose(f) : -1;
    int code = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    if (code == 77) {
        fprintf(stderr, "test_pg: SKIP (no PostgreSQL)\n");
        return 77;
    }
    url[strcspn(url, "\n")] = '\0';
    if (code != 0 || !url[0]) {
        fprintf(stderr, "test_pg: cannot start a cluster (%d)\n", code);
        return 1;
    }
    char schema[128];
    snprintf(schema, sizeof(schema), "%s/schema.sql", g_dir);
    FILE *sf = fopen(schema, "w");
    if (!sf)
        return 1;
    fputs("SET client_min_messages = warning;\n"
          "CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL);\n"
          "CREATE TABLE child (id serial PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id));\n"
          "CREATE TABLE item (id serial PRIMARY KEY, v text UNIQUE);\n"
          "INSERT INTO parent VALUES (1, 'one'), (2, 'two');\n",
          sf);
    fclose(sf);
    if (run("'%s' load '%s' '%s' >/dev/null", g_script, g_dir, schema) != 0) {
        fprintf(stderr, "test_pg: cannot load the schema\n");
        return 1;
    }

    fc_blueprint *bp = fc_blueprint_new("db", "");
    fc_route(bp, "GET", "/q", h_q, NULL, 0);
    fc_route(bp, "GET", "/qw", h_qw, NULL, 0);
    fc_route(bp, "GET", "/qwsleep", h_qwsleep, NULL, 0);
    fc_route(bp, "GET", "/types", h_types, NULL, 0);
    fc_route(bp, "GET", "/tx", h_tx, NULL, 0);
    fc_route(bp, "GET", "/where", h_where, NULL, 0);
    fc_route(bp, "GET", "/txsleep", h_txsleep, NULL, 0);
    fc_route(bp, "GET", "/sync", h_sync, NULL, FC_BLOCKING);
    fc_route(bp, "GET", "/nodb", h_nodb, NULL, 0);

    /* no database configured: FC_EINVAL, nothing deferred */
    fc_app *none = fc_app_new("pgtest_none");
    fc_app_set_database_url(none, NULL);
    CHECK_INT(fc_app_register(none, bp), 0);
    fc_test_response *tr = tget(none, "/nodb");
    CHECK_INT(fc_test_status(tr), 200);
    CHECK_STR(fc_test_body(tr, NULL), "{\"einval\":true}\n");
    fc_test_response_free(tr);
    tr = tget(none, "/sync");
    CHECK_INT(fc_test_status(tr), 503);
    fc_test_response_free(tr);
    fc_app_free(none);

    fc_app *a = fc_app_new("pgtest_a");
    CHECK_INT(fc_app_set_database_url(a, url), 0);
    fc_app_set_db_pool(a, 4);
    fc_app_set_port(a, 0);
    fc_app_set_threads(a, 2);
    CHECK_INT(fc_app_register(a, bp), 0);
    CHECK_INT(fc_app_start(a), 0);

    fc_app *b = fc_app_new("pgtest_b");
    fc_app_set_database_url(b, url);
    /* one polling thread: the pool is split across threads, one each at least */
    fc_app_set_threads(b, 1);
    fc_app_set_db_pool(b, 1);
    fc_app_set_db_queue(b, 1);
    fc_app_set_port(b, 0);
    fc_app_register(b, bp);
    CHECK_INT(fc_app_start(b), 0);

    fc_app *c = fc_app_new("pgtest_c");
    fc_app_set_database_url(c, url);
    fc_app_set_threads(c, 1);
    fc_app_set_db_pool(c, 1);
    fc_app_set_deadline(c, 300);
    fc_app_set_port(c, 0);
    fc_app_register(c, bp);
    CHECK_INT(fc_app_start(c), 0);

    uint64_t t0 = fc__now_ms();
    test_types(a);
    test_errors(a);
    test_tx(a);
    test_sync(a);
    test_concurrent(fc_app_port(a));
    test_same_thread(fc_app_port(a));
    test_worker_callbacks(fc_app_port(a));
    fprintf(stderr, "test_pg: basic %llu ms\n", (unsigned long long)(fc__now_ms() - t0));
    test_queue(b);
    test_deadline(c, a);
    fprintf(stderr, "test_pg: queue+deadline %llu ms\n", (unsigned long long)(fc__now_ms() - t0));
    test_notices(a);
    test_worker_lost_message(a);
    test_terminate(a);
    test_multihost(bp);
    test_slow_dns(bp);
    test_restart(a, url, bp);
    fprintf(stderr, "test_pg: all %llu ms\n", (unsigned long long)(fc__now_ms() - t0));

    fc_app_free(c);
    fc_app_free(b);
    fc_app_free(a);
    fc_blueprint_free(bp);
    CHECK(atomic_load(&g_callbacks) > 100);
    cluster_cleanup();
    TAP_DONE();
}
