/* films.c — the films/reviews service: two blueprints over PostgreSQL.
 *
 *   GET  /films/<int:id>/        one film, 404 if none
 *   GET  /films/?year.gt=2000    films newer than a year, keyed by id
 *   POST /reviews/               {"film_id": 995, "rating": 4}
 *
 * Handlers are asynchronous: they send a query and return; the query's
 * callback answers. Built with -DFILMS_SYNC=1 (films-sync) the same handlers
 * run on the worker pool and use a borrowed connection instead; the answers
 * on the wire are the same. Errors are always JSON:
 *   {"error":"Not Found","status":404,"message":"film 12345 not found"}
 *
 * Run: FLASKC_DATABASE_URL=postgresql:///films FLASKC_PORT=5000 ./films
 * Build: cc films.c $(pkg-config --cflags --libs libflaskc) -o films */
#include <flaskc.h>
#include <json-c/json.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if FILMS_SYNC
#define FILMS_ROUTE FC_ROUTE_BLOCKING
#else
#define FILMS_ROUTE FC_ROUTE
#endif

FC_BLUEPRINT(films, "/films");
FC_BLUEPRINT(reviews, "/reviews");

/* Answer a query's failure (503 when the database is down); false if it succeeded. */
static bool db_failed(fc_request *req, const fc_pg_result *r)
{
    int rc = fc_pg_ok(r);
    if (rc == 0)
        return false;
    fc_log(FC_LOG_WARNING, "%s: %s", fc_request_endpoint(req), fc_pg_error(r));
    if (rc == FC_EDBDOWN || rc == FC_ETIMEDOUT)
        fc_abort(req, 503, "database unavailable");
    else
        fc_abort(req, 500, "database error");
    return true;
}

/* Run @p sql and hand the result to @p cb, which answers. Async: fc_pg_query
 * defers the request and calls cb on the request's polling thread, which
 * writes even the 500-row answer itself: fc_response_pg costs a fraction of
 * what a hop to the worker pool (fc_pg_query_worker) would. Sync: borrow a
 * pooled connection, run the query here on the worker, call cb ourselves. */
static void query(fc_request *req, const char *sql, int nparams, const char *const *params,
                  fc_pg_cb cb, void *ud)
{
#if FILMS_SYNC
    fc_pg_conn *c = fc_pg_acquire(req);
    if (!c) {
        fc_abort(req, 503, "database unavailable");
        return;
    }
    const fc_pg_result *r = fc_pg_exec(c, sql, nparams, params);
    fc_pg_release(c); /* the result is request-owned: it outlives the connection */
    if (!r)
        fc_abort(req, 500, "out of memory");
    else
        cb(req, r, ud);
#else
    int rc = fc_pg_query(req, sql, nparams, params, cb, ud);
    if (rc) /* cb will not run */
        fc_abort(req, rc == FC_EDBDOWN ? 503 : 500, fc_strerror(rc));
#endif
}

/* ---- films ---- */

static void film_not_found(fc_request *req, long long id)
{
    fc_abort(req, 404, fc_request_printf(req, "film %lld not found", id));
}

static void film_found(fc_request *req, const fc_pg_result *r, void *ud)
{
    (void)ud;
    if (db_failed(req, r))
        return;
    if (fc_pg_nrows(r) == 0)
        film_not_found(req, fc_arg_int(req, "id"));
    else
        fc_response_pg(req, r, FC_PG_OBJECT, 0); /* {"film_id":..,"release_year":..,"title":..} */
}

FILMS_ROUTE(films, "GET", "/<int:id>/", get_film)
{
    if (fc_arg_int(req, "id") > INT32_MAX) { /* film_id is an INTEGER */
        film_not_found(req, fc_arg_int(req, "id"));
        return;
    }
    const char *params[] = {fc_arg(req, "id")};
    query(req, "SELECT film_id, release_year, title FROM film WHERE film_id = $1", 1, params,
          film_found, NULL);
}

static void films_found(fc_request *req, const fc_pg_result *r, void *ud)
{
    (void)ud;
    /* {"<film_id>": {"release_year": .., "title": ..}, ...} in id order, written
     * straight from the rows as JSON text: no tree of objects. A failed query
     * is answered there as db_failed would (logged; 503 or 500). */
    fc_response_pg(req, r, FC_PG_KEYED, 0);
}

FILMS_ROUTE(films, "GET", "/", list_films)
{
    long long year;
    if (fc_query_int(req, "year.gt", 2000, &year) == FC_ERANGE) {
        fc_abort(req, 400, "year.gt must be an integer");
        return;
    }
    const char *params[] = {fc_request_printf(req, "%lld", year)};
    query(req, "SELECT film_id, release_year, title FROM film WHERE release_year > $1 ORDER BY film_id",
          1, params, films_found, NULL);
}

/* ---- reviews ---- */

struct review {
    long long film_id, rating;
};

static void review_added(fc_request *req, const fc_pg_result *r, void *ud)
{
    const struct review *rv = ud;
    const char *state = fc_pg_sqlstate(r);
    if (state && strcmp(state, "23503") == 0) { /* foreign_key_violation */
        film_not_found(req, rv->film_id);
        return;
    }
    if (db_failed(req, r))
        return;
    fc_jw *w = fc_jw_new(); /* a writer that failed (no memory) answers 500 */
    fc_jw_object_begin(w);
    fc_jw_member_int(w, "film_id", rv->film_id);
    fc_jw_member_int(w, "rating", rv->rating);
    fc_jw_object_end(w);
    fc_response_jw(req, 200, w);
}

/* Read integer field @p name of @p body into *out; on failure answer 400. */
static bool int_field(fc_request *req, struct json_object *body, const char *name, long long *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(body, name, &v) || !json_object_is_type(v, json_type_int)) {
        fc_abort(req, 400, fc_request_printf(req, "%s must be an integer", name));
        return false;
    }
    *out = json_object_get_int64(v);
    if (*out < INT32_MIN || *out > INT32_MAX) { /* the columns are INTEGER */
        fc_abort(req, 400, fc_request_printf(req, "%s is out of range", name));
        return false;
    }
    return true;
}

FILMS_ROUTE(reviews, "POST", "/", add_review)
{
    struct json_object *body = fc_request_json(req);
    if (!body && fc_request_answered(req)) /* 415 or 400 already sent */
        return;
    if (!json_object_is_type(body, json_type_object)) {
        fc_abort(req, 400, "the body must be a JSON object");
        return;
    }
    struct review *rv = fc_request_alloc(req, sizeof *rv);
    if (!rv) {
        fc_abort(req, 500, "out of memory");
        return;
    }
    if (!int_field(req, body, "film_id", &rv->film_id) || !int_field(req, body, "rating", &rv->rating))
        return;
    const char *params[] = {fc_request_printf(req, "%lld", rv->film_id),
                            fc_request_printf(req, "%lld", rv->rating)};
    query(req, "INSERT INTO review (film_id, rating) VALUES ($1, $2)", 2, params, review_added, rv);
}

int main(void)
{
    const char *db = getenv("FLASKC_DATABASE_URL");
    if (!db || !*db) {
        fprintf(stderr, "films: FLASKC_DATABASE_URL is not set "
                        "(e.g. FLASKC_DATABASE_URL=postgresql:///films)\n");
        return 2;
    }
    fc_app *app = fc_app_new("films");
    if (!app)
        return 1;
    fc_app_set_json_errors(app, true); /* errors as JSON whatever the client accepts */
    int rc = fc_app_register(app, films);
    if (rc == 0)
        rc = fc_app_register(app, reviews);
    if (rc == 0)
        rc = fc_app_run(app); /* FLASKC_HOST, FLASKC_PORT...; until SIGINT/SIGTERM */
    if (rc)
        fprintf(stderr, "films: %s\n", fc_strerror(rc));
    fc_app_free(app);
    return rc ? 1 : 0;
}
