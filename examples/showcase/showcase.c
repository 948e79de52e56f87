/* showcase.c — a tour of libflaskc: nested blueprints, converters, hooks,
 * error handlers, a form upload, a streaming (SSE) route, async and
 * blocking handlers.
 * Build: cc showcase.c $(pkg-config --cflags --libs libflaskc) -o showcase */
#include <flaskc.h>

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- blueprints: /api and /api/v1 (endpoints "api.v1.item"...) ---- */
FC_BLUEPRINT(api, "/api");
FC_BLUEPRINT(v1, "/v1");
FC_BLUEPRINT(admin, "/admin");

FC_ROUTE(v1, "GET", "/items/<int:id>", item)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(fc_arg_int(req, "id")));
    json_object_object_add(o, "endpoint", json_object_new_string(fc_request_endpoint(req)));
    fc_response_json(req, 200, o);
}

FC_ROUTE(v1, "GET", "/files/<path:name>", file_name)
{
    fc_response_text(req, 200, fc_arg(req, "name"));
}

FC_ROUTE(v1, "GET", "/users/<uuid:uid>/", user)
{
    fc_response_text(req, 200, fc_arg(req, "uid"));
}

FC_ROUTE(v1, "GET", "/scale/<float:x>", scale)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%g", fc_arg_float(req, "x") * 2);
    fc_response_text(req, 200, buf);
}

FC_ROUTE(v1, "GET", "/teapot", teapot)
{
    fc_abort(req, 418, NULL);
}

/* a blueprint error handler: only for requests routed into /api/v1 */
static void v1_teapot(fc_request *req, int status)
{
    fc_response_json_str(req, status, "{\"error\":\"I'm a teapot\",\"where\":\"v1\"}");
}

/* ---- hooks: an auth check on /admin answers early ---- */
static bool admin_auth(fc_request *req)
{
    const char *tok = fc_request_header(req, "Authorization");
    if (!tok || strcmp(tok, "Bearer secret") != 0) {
        fc_abort(req, 401, "missing or wrong token");
        return false;
    }
    return true;
}

FC_ROUTE(admin, "GET,POST", "/stats", stats)
{
    fc_response_json_str(req, 200, "{\"requests\":42}");
}

static void add_server_header(fc_request *req)
{
    fc_response_set_header(req, "X-Powered-By", "libflaskc");
}

static void app_not_found(fc_request *req, int status)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string("not found"));
    json_object_object_add(o, "path", json_object_new_string(fc_request_path(req)));
    fc_response_json(req, status, o);
}

/* ---- forms and uploads ---- */
static bool add_file(const fc_file *f, void *ud)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(fc_file_filename(f)));
    json_object_array_add(a, json_object_new_int64((int64_t)fc_file_size(f)));
    json_object_object_add(ud, fc_file_field(f), a);
    return true;
}

static bool add_field(const char *k, const char *v, void *ud)
{
    json_object_object_add(ud, k, json_object_new_string(v));
    return true;
}

FC_APP_ROUTE("POST", "/upload", upload)
{
    const char *why;
    if (fc_request_form_error(req, &why)) {
        fc_abort(req, 400, why);
        return;
    }
    json_object *o = json_object_new_object(), *files = json_object_new_object(),
                *form = json_object_new_object();
    fc_request_files_each(req, add_file, files);
    fc_form_each(req, add_field, form);
    json_object_object_add(o, "files", files);
    json_object_object_add(o, "form", form);
    fc_response_json(req, 200, o);
}

/* ---- Server-Sent Events: five ticks, 100 ms apart, fed by a loop timer ---- */
struct ticker {
    pthread_mutex_t mu;
    fc_request *req;
    fc_app *app;
    int produced, sent, refs;
    bool closed;
};

static void ticker_unref(struct ticker *t)
{
    pthread_mutex_lock(&t->mu);
    bool last = --t->refs == 0;
    pthread_mutex_unlock(&t->mu);
    if (last) {
        pthread_mutex_destroy(&t->mu);
        free(t);
    }
}

static void tick(void *ud)
{
    struct ticker *t = ud;
    pthread_mutex_lock(&t->mu);
    bool again = false;
    if (!t->closed) {
        t->produced++;
        fc_stream_wake(t->req);
        again = t->produced < 5;
    }
    pthread_mutex_unlock(&t->mu);
    if (again && fc_app_timer(t->app, 100, tick, t) == 0)
        return;
    ticker_unref(t);
}

static long sse_read(void *ud, uint64_t pos, char *buf, size_t max)
{
    struct ticker *t = ud;
    (void)pos;
    pthread_mutex_lock(&t->mu);
    long n = FC_STREAM_WAIT;
    if (t->sent == 5)
        n = FC_STREAM_END;
    else if (t->sent < t->produced)
        n = snprintf(buf, max, "id: %d\ndata: {\"tick\":%d}\n\n", t->sent + 1, t->sent + 1),
        t->sent++;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static void sse_free(void *ud)
{
    struct ticker *t = ud;
    pthread_mutex_lock(&t->mu);
    t->closed = true; /* the request may be gone after this: stop waking it */
    pthread_mutex_unlock(&t->mu);
    ticker_unref(t);
}

FC_APP_ROUTE("GET", "/events", events)
{
    struct ticker *t = calloc(1, sizeof(*t));
    if (!t) {
        fc_abort(req, 500, NULL);
        return;
    }
    pthread_mutex_init(&t->mu, NULL);
    t->req = req;
    t->app = fc_request_app(req);
    t->refs = 2; /* the stream and the timer */
    fc_response_set_header(req, "Cache-Control", "no-cache");
    if (fc_app_timer(t->app, 100, tick, t) != 0)
        t->refs = 1;
    fc_response_stream(req, 200, "text/event-stream", sse_read, t, sse_free);
}

/* ---- async: answer after a timer, holding no thread meanwhile ---- */
static void later(fc_request *req, void *ud)
{
    (void)ud;
    fc_response_json_str(req, 200, "{\"waited_ms\":200}");
}

FC_APP_ROUTE("GET", "/slow", slow)
{
    fc_after(req, 200, later, NULL);
}

/* ---- blocking: runs on the worker pool, may sleep ---- */
FC_APP_ROUTE_BLOCKING("GET", "/blocking", blocking)
{
    usleep(200 * 1000);
    fc_response_text(req, 200, "slept 200 ms on a worker\n");
}

/* ---- cookies ---- */
FC_APP_ROUTE("GET", "/cookie", cookie)
{
    fc_cookie_opts o = FC_COOKIE_OPTS_DEFAULT;
    o.max_age = 60;
    o.http_only = true;
    o.same_site = FC_SAMESITE_LAX;
    fc_response_cookie(req, "k", "v", &o);
    const char *seen = fc_request_cookie(req, "k");
    fc_response_text(req, 200, seen ? seen : "(none)");
}

int main(void)
{
    fc_app *app = fc_app_new("showcase");
    if (!app)
        return 1;
    fc_blueprint_register(api, v1);
    fc_blueprint_errorhandler(v1, 418, v1_teapot);
    fc_blueprint_before(admin, admin_auth);
    fc_app_after(app, add_server_header);
    fc_app_errorhandler(app, 404, app_not_found);
    if (fc_app_register(app, api) || fc_app_register(app, admin)) {
        fprintf(stderr, "showcase: route registration failed\n");
        fc_app_free(app);
        return 1;
    }
    int rc = fc_app_run(app);
    fc_app_free(app);
    return rc ? 1 : 0;
}
