/* test_app.c — the app through the in-process test client: routing
 * (308/404/405/HEAD/OPTIONS), converters, request accessors, JSON, forms,
 * cookies, responses, hooks order, error handlers, async and blocking modes. */
#include "internal.h"
#include "tap.h"
#include "helpers.h"

#include <json-c/json.h>
#include <pthread.h>
#include <unistd.h>

static char trace[512];
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static void tr(const char *s)
{
    pthread_mutex_lock(&trace_mu);
    if (*trace)
        strncat(trace, ",", sizeof(trace) - strlen(trace) - 1);
    strncat(trace, s, sizeof(trace) - strlen(trace) - 1);
    pthread_mutex_unlock(&trace_mu);
}

FC_BLUEPRINT(films, "/films");
FC_BLUEPRINT(parent, "/p");
FC_BLUEPRINT(child, "/c");
FC_BLUEPRINT(misc, "");

FC_ROUTE(films, "GET", "/<int:id>/", get_film)
{
    tr("view");
    fc_response_text(req, 200, fc_request_printf(req, "film %lld", fc_arg_int(req, "id")));
}

FC_ROUTE(films, "GET,POST", "/", films_index)
{
    fc_response_text(req, 200, fc_request_printf(req, "items %s", fc_request_method(req)));
}

FC_ROUTE(films, "POST", "/onlypost", onlypost)
{
    fc_response_text(req, 200, "posted");
}

FC_ROUTE(child, "GET", "/x", child_x)
{
    tr("view");
    fc_response_text(req, 200, fc_request_endpoint(req));
}

FC_ROUTE(child, "GET", "/teapot", child_teapot)
{
    fc_abort(req, 418, NULL);
}

FC_ROUTE(misc, "GET", "/about", about)
{
    fc_response_html(req, 200, "about");
}

FC_ROUTE(misc, "GET", "/str/<name>", str_name)
{
    fc_response_text(req, 200, fc_request_printf(req, "name=[%s] len=%zu", fc_arg(req, "name"),
                                                 strlen(fc_arg(req, "name"))));
}

FC_ROUTE(misc, "POST", "/len", body_len)
{
    size_t n = 0;
    const char *b = fc_request_body(req, &n);
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (unsigned char)b[i];
    /* a 1xx is an interim answer, never a final one */
    int rc = fc_response_text(req, 100, "interim");
    fc_response_text(req, 200, fc_request_printf(req, "len=%zu sum=%lu 1xx=%d addr=%s", n, sum, rc,
                                                 fc_request_remote_addr(req)));
}

/* the test client refuses a polling thread: its wait would stall the loop */
static fc_app *g_app;
FC_ROUTE(misc, "GET", "/nested", nested)
{
    fc_test_response *r = fc_test_request(g_app, "GET", "/about", NULL, NULL, 0);
    fc_response_text(req, 200, r ? "served" : "refused");
    fc_test_response_free(r);
}

FC_ROUTE(misc, "GET", "/path/<path:p>", path_p)
{
    fc_response_text(req, 200,
                     fc_request_printf(req, "%s %s", fc_arg(req, "p"), fc_request_path(req)));
}

FC_ROUTE(misc, "GET", "/u/<uuid:u>", uuid_u)
{
    fc_response_text(req, 200, fc_arg(req, "u"));
}

FC_ROUTE(misc, "GET", "/f/<float:x>", float_x)
{
    fc_response_text(req, 200, fc_request_printf(req, "%.2f", fc_arg_float(req, "x")));
}

FC_ROUTE(misc, "GET", "/args", args)
{
    size_t n = 0;
    const char *const *l = fc_query_list(req, "a", &n);
    fc_response_text(req, 200, fc_request_printf(req, "n=%zu first=%s last=%s b=%s", n,
                                                 n ? l[0] : "-", n ? l[n - 1] : "-",
                                                 fc_query(req, "b") ? fc_query(req, "b") : "NULL"));
}

FC_ROUTE(misc, "POST", "/json", json_echo)
{
    json_object *o = fc_request_json(req);
    if (!o && fc_request_answered(req))
        return;
    json_object *r = json_object_new_object();
    json_object_object_add(r, "got", json_object_get(o));
    fc_response_json(req, 200, r);
}

FC_ROUTE(misc, "POST", "/form", form)
{
    const fc_file *f = fc_request_file(req, "f");
    size_t n = 0;
    fc_form_list(req, "a", &n);
    fc_response_text(req, 200, fc_request_printf(req, "a=%s n=%zu b=%s file=%s:%zu:%s", fc_form(req, "a"), n,
                                                 fc_form(req, "b") ? fc_form(req, "b") : "-",
                                                 f ? fc_file_filename(f) : "-", f ? fc_file_size(f) : 0,
                                                 f ? fc_file_content_type(f) : "-"));
}

FC_ROUTE(misc, "GET", "/cookie", cookie)
{
    fc_cookie_opts o = FC_COOKIE_OPTS_DEFAULT;
    o.max_age = 60;
    o.http_only = true;
    o.same_site = FC_SAMESITE_LAX;
    CHECK_INT(fc_response_cookie(req, "k", "v", &o), 0);
    CHECK_INT(fc_response_cookie(req, "bad name", "v", NULL), FC_EINVAL);
    CHECK_INT(fc_response_header(req, "X-Bad", "a\r\nInjected: 1"), FC_EINVAL);
    const char *c = fc_request_cookie(req, "sid");
    fc_response_text(req, 200, c ? c : "none");
}

FC_ROUTE(misc, "GET", "/twice", twice)
{
    CHECK_INT(fc_response_text(req, 201, "first"), 0);
    CHECK_INT(fc_response_text(req, 200, "second"), FC_EALREADY);
}

FC_ROUTE(misc, "GET", "/forgot", forgot)
{
    (void)req;
}

FC_ROUTE(misc, "GET", "/redir", redir)
{
    fc_response_redirect(req, 0, "/about");
}

FC_ROUTE(misc, "GET", "/stream", stream)
{
    stream_three_chunks(req);
}

/* async: answered from another thread */
static void *answer_later(void *p)
{
    fc_request *req = p;
    usleep(20000);
    fc_response_text(req, 200, "from a thread");
    return NULL;
}

FC_ROUTE(misc, "GET", "/thread", thread_answer)
{
    pthread_t t;
    fc_request_defer(req, NULL, NULL);
    pthread_create(&t, NULL, answer_later, req);
    pthread_detach(t);
}

static void after_cb(fc_request *req, void *ud)
{
    fc_response_text(req, 200, ud);
}

FC_ROUTE(misc, "GET", "/after", after)
{
    fc_after(req, 50, after_cb, "timer fired");
}

static atomic_int canceled;

FC_ROUTE(misc, "GET", "/never", never)
{
    fc_request_defer(req, count_cancel, &canceled);
}

FC_ROUTE_BLOCKING(misc, "GET", "/blocking", blocking)
{
    usleep(10000);
    fc_response_text(req, 200, "blocked ok");
}

static void work(void *ud)
{
    int *x = ud;
    *x = 42;
}
static void work_done(fc_request *req, void *ud)
{
    fc_response_text(req, 200, fc_request_printf(req, "work=%d", *(int *)ud));
    free(ud);
}

FC_ROUTE(misc, "GET", "/poolrun", poolrun)
{
    int *x = calloc(1, sizeof(int));
    fc_pool_run(req, work, work_done, x);
}

static atomic_int bg_ran;
static void bg_task(void *ud)
{
    (void)ud;
    atomic_store(&bg_ran, 1);
}

FC_ROUTE(misc, "GET", "/bg", bg)
{
    CHECK_INT(fc_background(req, bg_task, NULL), 0);
    fc_response_text(req, 200, "queued");
}

FC_ROUTE(misc, "GET", "/slowinline", slowinline)
{
    usleep(150 * 1000); /* a mistake the watchdog must name */
    fc_response_text(req, 200, "slow");
}

/* ---- hooks ---- */
static bool app_before(fc_request *req)
{
    tr("app-before");
    if (fc_request_header(req, "X-Deny")) {
        fc_response_text(req, 203, "short-circuited");
        return false;
    }
    return true;
}
static void app_after1(fc_request *req) { tr("app-after1"); fc_response_set_header(req, "X-After", trace); }
static void app_after2(fc_request *req) { (void)req; tr("app-after2"); }
static bool p_before(fc_request *req) { (void)req; tr("p-before"); return true; }
static bool c_before(fc_request *req) { (void)req; tr("c-before"); return true; }
static void p_after(fc_request *req) { (void)req; tr("p-after"); }
static void c_after(fc_request *req) { (void)req; tr("c-after"); }
static int torn_status;
static void app_teardown(fc_request *req, int status) { (void)req; torn_status = status; tr("teardown"); }

static void app_404(fc_request *req, int status)
{
    fc_response_json_str(req, status, "{\"error\":\"not found\"}");
}
static void c_418(fc_request *req, int status)
{
    fc_response_text(req, status, "child teapot");
}

static fc_app *make_app(void)
{
    fc_app *app = fc_app_new("test");
    CHECK(app != NULL);
    fc_app_set_max_body(app, 1024);
    fc_app_set_deadline(app, 300);
    /* blueprint hooks and handlers are declared before registration (Flask) */
    CHECK_INT(fc_blueprint_register(parent, child), 0);
    CHECK_INT(fc_blueprint_before(parent, p_before), 0);
    CHECK_INT(fc_blueprint_before(child, c_before), 0);
    CHECK_INT(fc_blueprint_after(parent, p_after), 0);
    CHECK_INT(fc_blueprint_after(child, c_after), 0);
    CHECK_INT(fc_blueprint_errorhandler(child, 418, c_418), 0);
    CHECK_INT(fc_app_register(app, films), 0);
    CHECK_INT(fc_app_register(app, parent), 0);
    CHECK_INT(fc_app_register(app, misc), 0);
    /* registered blueprints are frozen */
    CHECK_INT(fc_blueprint_before(child, c_before), FC_EBUSY);
    CHECK_INT(fc_route(misc, "GET", "/late", (fc_handler)forgot, "late", 0), FC_EBUSY);
    fc_app_before(app, app_before);
    fc_app_after(app, app_after1);
    fc_app_after(app, app_after2);
    fc_app_teardown(app, app_teardown);
    fc_app_errorhandler(app, 404, app_404);
    return app;
}

static fc_test_response *get(fc_app *app, const char *method, const char *path)
{
    return fc_test_request(app, method, path, NULL, NULL, 0);
}

#define EXPECT(app, method, path, status, body)                                        \
    do {                                                                               \
        fc_test_response *r_ = get(app, method, path);                                 \
        CHECK_INT(fc_test_status(r_), status);                                         \
        if (body)                                                                      \
            CHECK_STR(fc_test_body(r_, NULL), (const char *)(body));                   \
        fc_test_response_free(r_);                                                     \
    } while (0)

static bool allow_has(const char *allow, const char *m)
{
    size_t n = strlen(m);
    for (const char *p = allow; p && (p = strstr(p, m)); p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static void test_routing(fc_app *app)
{
    EXPECT(app, "GET", "/films/5/", 200, "film 5");
    EXPECT(app, "GET", "/films/05/", 200, "film 5");
    EXPECT(app, "GET", "/films/%35/", 200, "film 5");
    fc_test_response *r = get(app, "GET", "/films/5?x=1&y=2");
    CHECK_INT(fc_test_status(r), 308);
    CHECK_STR(fc_test_header(r, "Location"), "http://localhost/films/5/?x=1&y=2");
    CHECK(strstr(fc_test_body(r, NULL), "Redirecting...") != NULL);
    fc_test_response_free(r);
    /* 404s: bad int, sign, overflow; leaf with slash; POST on a GET branch */
    r = get(app, "GET", "/films/abc/");
    CHECK_INT(fc_test_status(r), 404);
    CHECK_STR(fc_test_body(r, NULL), "{\"error\":\"not found\"}\n"); /* the app's 404 handler */
    fc_test_response_free(r);
    EXPECT(app, "GET", "/films/-1/", 404, NULL);
    EXPECT(app, "GET", "/films/99999999999999999999999/", 404, NULL);
    EXPECT(app, "GET", "/about/", 404, NULL);
    EXPECT(app, "POST", "/films/5", 404, NULL);
    EXPECT(app, "POST", "/films", 308, NULL);
    /* 405 + Allow */
    r = get(app, "DELETE", "/films/");
    CHECK_INT(fc_test_status(r), 405);
    const char *allow = fc_test_header(r, "Allow");
    CHECK(allow_has(allow, "GET") && allow_has(allow, "HEAD") && allow_has(allow, "POST") &&
          allow_has(allow, "OPTIONS") && !allow_has(allow, "DELETE"));
    fc_test_response_free(r);
    r = get(app, "GET", "/films/onlypost");
    CHECK_INT(fc_test_status(r), 405);
    allow = fc_test_header(r, "Allow");
    CHECK(allow_has(allow, "POST") && allow_has(allow, "OPTIONS") && !allow_has(allow, "HEAD"));
    fc_test_response_free(r);
    EXPECT(app, "FOO", "/films/", 405, NULL);
    /* OPTIONS */
    r = get(app, "OPTIONS", "/films/");
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_header(r, "Content-Length"), "0");
    CHECK(allow_has(fc_test_header(r, "Allow"), "POST"));
    fc_test_response_free(r);
    EXPECT(app, "OPTIONS", "/nope", 404, NULL);
    /* HEAD: the view runs with method HEAD, Content-Length of the would-be body, no body */
    r = get(app, "HEAD", "/films/");
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_header(r, "Content-Length"), "10");
    CHECK_INT(strlen(fc_test_body(r, NULL)), 0);
    fc_test_response_free(r);
    /* converters through the app */
    EXPECT(app, "GET", "/str/hello%20world", 200, "name=[hello world] len=11");
    EXPECT(app, "GET", "/str/caf%C3%A9", 200, "name=[caf\xc3\xa9] len=5");
    EXPECT(app, "GET", "/str/a+b", 200, "name=[a+b] len=3");
    EXPECT(app, "GET", "/str/a%2Fb", 404, NULL);
    EXPECT(app, "GET", "/path/a%2Fb/c", 200, "a/b/c /path/a/b/c");
    /* leading slashes route and read as one (Werkzeug's "/" + path.lstrip("/")) */
    EXPECT(app, "GET", "//path/x", 200, "x /path/x");
    EXPECT(app, "GET", "/%2F/path/x?q=1", 200, "x /path/x");
    EXPECT(app, "GET", "///path/a%2Fb/c", 200, "a/b/c /path/a/b/c");
    EXPECT(app, "GET", "/u/12345678-1234-1234-1234-123456789ABC", 200, "12345678-1234-1234-1234-123456789abc");
    EXPECT(app, "GET", "/u/not-a-uuid", 404, NULL);
    EXPECT(app, "GET", "/f/1", 404, NULL);
    EXPECT(app, "GET", "/f/1.5", 200, "1.50");
    EXPECT(app, "GET", "/str/%FF", 400, NULL);
    /* url_for */
    char *u = NULL;
    const char *kv[] = {"id", "995", "q", "a b", NULL};
    CHECK_INT(fc_url_for(app, "films.get_film", kv, &u), 0);
    CHECK_STR(u, "/films/995/?q=a+b");
    free(u);
    u = NULL;
    CHECK_INT(fc_url_for(app, "parent.child.child_x", NULL, &u), 0);
    CHECK_STR(u, "/p/c/x");
    free(u);
    CHECK_INT(fc_url_for(app, "nope", NULL, &u), FC_ENOENT);
    const char *missing[] = {NULL};
    CHECK_INT(fc_url_for(app, "films.get_film", missing, &u), FC_EINVAL);
}

static void test_request(fc_app *app)
{
    EXPECT(app, "GET", "/args?a=1&a=2&b=3", 200, "n=2 first=1 last=2 b=3");
    EXPECT(app, "GET", "/args?a=&b", 200, "n=1 first= last= b=");
    EXPECT(app, "GET", "/args?a=x+y%20z%26", 200, "n=1 first=x y z& last=x y z& b=NULL");
    EXPECT(app, "GET", "/args?a=1;b=2", 200, "n=1 first=1;b=2 last=1;b=2 b=NULL");
    /* JSON */
    const char *jh[] = {"Content-Type", "application/json", NULL};
    fc_test_response *r = fc_test_request(app, "POST", "/json", jh, "{\"a\":1}", 7);
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_body(r, NULL), "{\"got\":{\"a\":1}}\n");
    CHECK_STR(fc_test_header(r, "Content-Type"), "application/json");
    fc_test_response_free(r);
    /* bare scalars at the very end of the body */
    r = fc_test_request(app, "POST", "/json", jh, "42", 2);
    CHECK_STR(fc_test_body(r, NULL), "{\"got\":42}\n");
    fc_test_response_free(r);
    r = fc_test_request(app, "POST", "/json", jh, "null", 4);
    CHECK_STR(fc_test_body(r, NULL), "{\"got\":null}\n");
    fc_test_response_free(r);
    const char *bad[] = {"{bad", "[1,2", "", "{\"a\":1} x"};
    for (size_t i = 0; i < 4; i++) {
        r = fc_test_request(app, "POST", "/json", jh, bad[i], strlen(bad[i]));
        CHECK_INT(fc_test_status(r), 400);
        CHECK_STR(fc_test_header(r, "Content-Type"), "application/json");
        CHECK(strstr(fc_test_body(r, NULL), "\"message\":\"Failed to decode JSON object") != NULL);
        fc_test_response_free(r);
    }
    const char *th[] = {"Content-Type", "text/plain", NULL};
    r = fc_test_request(app, "POST", "/json", th, "{}", 2);
    CHECK_INT(fc_test_status(r), 415);
    CHECK_STR(fc_test_header(r, "Content-Type"), "application/json");
    CHECK(strstr(fc_test_body(r, NULL), "Content-Type was not 'application/json'") != NULL);
    fc_test_response_free(r);
    const char *vh[] = {"Content-Type", "application/vnd.api+json", NULL};
    r = fc_test_request(app, "POST", "/json", vh, "[1]", 3);
    CHECK_INT(fc_test_status(r), 200);
    fc_test_response_free(r);
    /* 413: body over the app's 64-byte limit */
    char big[2000];
    memset(big, 'x', sizeof(big));
    r = fc_test_request(app, "POST", "/json", jh, big, sizeof(big));
    CHECK_INT(fc_test_status(r), 413);
    fc_test_response_free(r);
    /* forms */
    const char *fh[] = {"Content-Type", "application/x-www-form-urlencoded", NULL};
    r = fc_test_request(app, "POST", "/form", fh, "a=1&a=2&b=x+y", 13);
    CHECK_STR(fc_test_body(r, NULL), "a=1 n=2 b=x y file=-:0:-");
    fc_test_response_free(r);
    const char *mh[] = {"Content-Type", "multipart/form-data; boundary=XyZ", NULL};
    const char mp[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                      "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"t.txt\"\r\n"
                      "Content-Type: text/plain\r\n\r\nabc\r\n--XyZ--\r\n";
    r = fc_test_request(app, "POST", "/form", mh, mp, sizeof(mp) - 1);
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_body(r, NULL), "a=1 n=1 b=- file=t.txt:3:text/plain");
    fc_test_response_free(r);
    /* issue 19: text as the query parser has it (a NUL cut "a\0\xff" to "a"),
     * filename*= decoded, an empty part body, VT padding after a boundary */
    const char mp2[] = "--XyZ\v\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\na\0\xff\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"n.txt\"; "
                       "filename*=UTF-8''na%C3%AFve.txt\r\n\r\nabc\r\n--XyZ--\r\n";
    r = fc_test_request(app, "POST", "/form", mh, mp2, sizeof(mp2) - 1);
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_body(r, NULL), "a=a%00%FF n=1 b= file=na\xc3\xafve.txt:3:application/octet-stream");
    fc_test_response_free(r);
    /* cookies in and out */
    const char *ch[] = {"Cookie", "a=1; sid=xyz", NULL};
    r = fc_test_request(app, "GET", "/cookie", ch, NULL, 0);
    CHECK_STR(fc_test_body(r, NULL), "xyz");
    const char *sc = fc_test_header(r, "Set-Cookie");
    CHECK(sc && !strncmp(sc, "k=v; Expires=", 13));
    CHECK(sc && strstr(sc, "; Max-Age=60; HttpOnly; Path=/; SameSite=Lax") != NULL);
    fc_test_response_free(r);
}

static void test_responses(fc_app *app)
{
    fc_test_response *r = get(app, "GET", "/twice");
    CHECK_INT(fc_test_status(r), 201);
    CHECK_STR(fc_test_body(r, NULL), "first");
    fc_test_response_free(r);
    r = get(app, "GET", "/forgot");
    CHECK_INT(fc_test_status(r), 500);
    CHECK(strstr(fc_test_body(r, NULL), "<title>500 Internal Server Error</title>") != NULL);
    fc_test_response_free(r);
    const char *acc[] = {"Accept", "application/json", NULL};
    r = fc_test_request(app, "GET", "/forgot", acc, NULL, 0);
    CHECK_INT(fc_test_status(r), 500);
    CHECK(strstr(fc_test_body(r, NULL), "\"status\":500") != NULL);
    fc_test_response_free(r);
    r = get(app, "GET", "/redir");
    CHECK_INT(fc_test_status(r), 302);
    CHECK_STR(fc_test_header(r, "Location"), "/about");
    fc_test_response_free(r);
    r = get(app, "GET", "/about");
    CHECK_STR(fc_test_header(r, "Content-Type"), "text/html; charset=utf-8");
    CHECK_STR(fc_test_header(r, "Content-Length"), "5");
    fc_test_response_free(r);
    r = get(app, "GET", "/stream");
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_body(r, NULL), "chunk0\nchunk1\nchunk2\n");
    CHECK_STR(fc_test_header(r, "Transfer-Encoding"), "chunked");
    CHECK(fc_test_header(r, "Content-Length") == NULL);
    fc_test_response_free(r);
    /* the test client answers as the server does: libmicrohttpd announces
     * the chunking on HEAD of a stream too (Werkzeug would send neither) */
    r = get(app, "HEAD", "/stream");
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_header(r, "Transfer-Encoding"), "chunked");
    CHECK(fc_test_header(r, "Content-Length") == NULL);
    CHECK_STR(fc_test_body(r, NULL), "");
    fc_test_response_free(r);
}

static void test_hooks(fc_app *app)
{
    trace[0] = '\0';
    fc_test_response *r = get(app, "GET", "/p/c/x");
    CHECK_STR(fc_test_body(r, NULL), "parent.child.child_x");
    /* X-After was set by app_after1, the last after hook to run */
    CHECK_STR(fc_test_header(r, "X-After"),
              "app-before,p-before,c-before,view,c-after,p-after,app-after2,app-after1");
    fc_test_response_free(r);
    CHECK_STR(trace, "app-before,p-before,c-before,view,c-after,p-after,app-after2,app-after1,teardown");
    CHECK_INT(torn_status, 200);
    /* a before hook answering early: the view is skipped, after hooks still run */
    trace[0] = '\0';
    const char *deny[] = {"X-Deny", "1", NULL};
    r = fc_test_request(app, "GET", "/p/c/x", deny, NULL, 0);
    CHECK_INT(fc_test_status(r), 203);
    CHECK_STR(fc_test_body(r, NULL), "short-circuited");
    /* as in Flask: the after hooks of the matched route's blueprints run too */
    CHECK_STR(fc_test_header(r, "X-After"), "app-before,c-after,p-after,app-after2,app-after1");
    fc_test_response_free(r);
    /* routing errors run app hooks only, and teardown sees the status */
    trace[0] = '\0';
    r = get(app, "GET", "/nothing");
    CHECK_INT(fc_test_status(r), 404);
    fc_test_response_free(r);
    CHECK_STR(trace, "app-before,app-after2,app-after1,teardown");
    CHECK_INT(torn_status, 404);
    /* blueprint error handler */
    r = get(app, "GET", "/p/c/teapot");
    CHECK_INT(fc_test_status(r), 418);
    CHECK_STR(fc_test_body(r, NULL), "child teapot");
    fc_test_response_free(r);
}

static void test_async(fc_app *app)
{
    EXPECT(app, "GET", "/thread", 200, "from a thread");
    EXPECT(app, "GET", "/after", 200, "timer fired");
    EXPECT(app, "GET", "/blocking", 200, "blocked ok");
    EXPECT(app, "GET", "/poolrun", 200, "work=42");
    uint64_t t0 = fc__now_ms();
    fc_test_response *r = get(app, "GET", "/never");
    CHECK_INT(fc_test_status(r), 504);
    CHECK(fc__now_ms() - t0 >= 290);
    fc_test_response_free(r);
    CHECK_INT(atomic_load(&canceled), 1);
}

static char warned[512];
static void capture(fc_log_level level, const char *line, void *ud)
{
    (void)ud;
    if (level == FC_LOG_WARNING && strstr(line, "held a polling thread"))
        snprintf(warned, sizeof(warned), "%s", line);
}

static void test_background_and_watchdog(fc_app *app)
{
    EXPECT(app, "GET", "/bg", 200, "queued");
    for (int i = 0; i < 100 && !atomic_load(&bg_ran); i++)
        usleep(10000);
    CHECK_INT(atomic_load(&bg_ran), 1);
    fc_log_set_handler(capture, NULL);
    EXPECT(app, "GET", "/slowinline", 200, "slow");
    fc_log_set_handler(NULL, NULL);
    CHECK(strstr(warned, "misc.slowinline held a polling thread for") != NULL);
}

/* The test client's own parser, on answers libmicrohttpd would not send. */
static void test_client_parser(void)
{
    fc_test_response *r = NULL;
    const char *ch = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding:  chunked \r\n"
                     "X-A:b\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n";
    for (size_t n = 0; n < strlen(ch); n++) {
        CHECK_INT(fc__test_parse(ch, n, false, false, &r), 0); /* every prefix: more needed */
        CHECK(r == NULL);
    }
    CHECK_INT(fc__test_parse(ch, strlen(ch), false, false, &r), 1);
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_body(r, NULL), "abc0123456789");
    CHECK_STR(fc_test_header(r, "x-a"), "b");
    CHECK_STR(fc_test_headers(r), "Transfer-Encoding: chunked\r\nX-A: b\r\n");
    fc_test_response_free(r);
    /* without framing the close ends the body; HEAD and 304 have none */
    const char *cl = "HTTP/1.0 200 OK\r\n\r\nto the end";
    CHECK_INT(fc__test_parse(cl, strlen(cl), false, false, &r), 0);
    CHECK_INT(fc__test_parse(cl, strlen(cl), false, true, &r), 1);
    CHECK_STR(fc_test_body(r, NULL), "to the end");
    fc_test_response_free(r);
    CHECK_INT(fc__test_parse(cl, strlen(cl), true, false, &r), 1);
    CHECK_STR(fc_test_body(r, NULL), "");
    fc_test_response_free(r);
    const char *nm = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
    CHECK_INT(fc__test_parse(nm, strlen(nm), false, false, &r), 1);
    CHECK_INT(fc_test_status(r), 304);
    fc_test_response_free(r);
    /* malformed: -1; a short body at the close: -1 */
    static const char *const bad[] = {
        "HTTP/1.1 20 OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(fc__test_parse(bad[i], strlen(bad[i]), false, false, &r), -1);
        CHECK(r == NULL);
    }
    const char *sh = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab";
    CHECK_INT(fc__test_parse(sh, strlen(sh), false, true, &r), -1);
}

/* The test client goes through libmicrohttpd: what the server adds (Date),
 * bodies larger than a socket buffer, Expect: 100-continue, a target with
 * bytes a client would encode, the peer address. */
static void test_client_wire(fc_app *app)
{
    g_app = app;
    EXPECT(app, "GET", "/nested", 200, "refused");
    fc_test_response *r = get(app, "GET", "/about");
    const char *date = fc_test_header(r, "Date");
    CHECK(date && strlen(date) == 29 && !strcmp(date + 25, " GMT"));
    fc_test_response_free(r);
    size_t big = 3u << 20;
    char *body = malloc(big);
    unsigned long sum = 0;
    for (size_t i = 0; i < big; i++) {
        body[i] = (char)(i * 7);
        sum += (unsigned char)body[i];
    }
    const char *cont[] = {"Expect", "100-continue", NULL};
    /* over this app's limit: libmicrohttpd's early 413, as on a socket */
    r = fc_test_request(app, "POST", "/len", cont, body, big);
    CHECK_INT(fc_test_status(r), 413);
    fc_test_response_free(r);
    fc_app *roomy = fc_app_new("roomy");
    fc_blueprint *wire = fc_blueprint_new("wire", NULL);
    CHECK_INT(fc_route(wire, "POST", "/len", body_len, "len", 0), 0);
    CHECK_INT(fc_app_register(roomy, wire), 0);
    fc_app_set_max_body(roomy, 8u << 20);
    r = fc_test_request(roomy, "POST", "/len", cont, body, big);
    char want[96];
    snprintf(want, sizeof(want), "len=%zu sum=%lu 1xx=%d addr=127.0.0.1", big, sum, FC_EINVAL);
    CHECK_INT(fc_test_status(r), 200);
    CHECK_STR(fc_test_body(r, NULL), want);
    fc_test_response_free(r);
    fc_app_free(roomy);
    fc_blueprint_free(wire);
    free(body);
    /* no body: Content-Length 0 goes with a POST */
    r = fc_test_request(app, "POST", "/len", NULL, NULL, 0);
    snprintf(want, sizeof(want), "len=0 sum=0 1xx=%d addr=127.0.0.1", FC_EINVAL);
    CHECK_STR(fc_test_body(r, NULL), want);
    fc_test_response_free(r);
    EXPECT(app, "GET", "/str/a b", 200, "name=[a b] len=3");
    EXPECT(app, "GET", "/str/\xc3\xa9", 200, "name=[\xc3\xa9] len=2");
    /* what no client could send */
    const char *crlf[] = {"X-A", "1\r\nX-B: 2", NULL};
    CHECK(fc_test_request(app, "GET", "/about", crlf, NULL, 0) == NULL);
    CHECK(fc_test_request(app, "GE T", "/about", NULL, NULL, 0) == NULL);
}

/* Issue 19, whole requests: values are converted after the rule is chosen (404, or 405
 * with the Allow of the rules for other methods met first), long floats, and a path
 * variable of a rule ending in '/' never ends in '/' (308 to the merged path). */
static void i19_arg(fc_request *req)
{
    const char *name = fc_arg(req, "n") ? "n" : fc_arg(req, "x") ? "x" : fc_arg(req, "p") ? "p" : "s";
    fc_response_text(req, 200, fc_request_printf(req, "%s %s=%s", fc_request_endpoint(req), name,
                                                 fc_arg(req, name)));
}

static void test_convert_and_trailing_slashes(void)
{
    fc_app *app = fc_app_new("i19");
    fc_blueprint *bp = fc_blueprint_new("i19", "");
    static const struct {
        const char *methods, *rule, *ep;
    } routes[] = {
        {"GET", "/lim/<int(max=100):n>", "lim"},  {"GET", "/lim/<s>", "lims"},
        {"POST", "/lq/<int(max=1):n>", "lqp"},    {"GET", "/lq/<int(max=1):n>", "lqg"},
        {"GET", "/float/<float:x>", "float"},     {"GET", "/paths/<path:p>/", "paths"},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        CHECK_INT(fc_route(bp, routes[i].methods, routes[i].rule, i19_arg, routes[i].ep, 0), 0);
    CHECK_INT(fc_app_register(app, bp), 0);
    EXPECT(app, "GET", "/lim/50", 200, "i19.lim n=50");
    EXPECT(app, "GET", "/lim/abc", 200, "i19.lims s=abc");
    EXPECT(app, "GET", "/lim/500", 404, NULL); /* Flask: 404, not the next rule */
    EXPECT(app, "HEAD", "/lim/500", 404, NULL);
    EXPECT(app, "OPTIONS", "/lim/500", 404, NULL);
    fc_test_response *r = get(app, "GET", "/lim//500?q=1");
    CHECK_INT(fc_test_status(r), 308); /* merged first, converted on the next request */
    CHECK_STR(fc_test_header(r, "Location"), "http://localhost/lim/500?q=1");
    fc_test_response_free(r);
    r = get(app, "GET", "/lq/5");
    CHECK_INT(fc_test_status(r), 405);
    const char *allow = fc_test_header(r, "Allow");
    CHECK(allow_has(allow, "POST") && allow_has(allow, "OPTIONS") && !allow_has(allow, "GET"));
    fc_test_response_free(r);
    EXPECT(app, "GET", "/lq/1", 200, "i19.lqg n=1");
    r = get(app, "GET", "/paths/a///?q=1");
    CHECK_INT(fc_test_status(r), 308);
    CHECK_STR(fc_test_header(r, "Location"), "http://localhost/paths/a/?q=1");
    fc_test_response_free(r);
    r = get(app, "GET", "/paths/a//edit");
    CHECK_INT(fc_test_status(r), 308);
    CHECK_STR(fc_test_header(r, "Location"), "http://localhost/paths/a//edit/");
    fc_test_response_free(r);
    EXPECT(app, "GET", "/paths/a//b/", 200, "i19.paths p=a//b");
    EXPECT(app, "GET",
           "/float/3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803",
           200,
           "i19.float x=3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803");
    fc_app_free(app);
    fc_blueprint_free(bp);
}

static void test_config(void)
{
    fc_app *app = fc_app_new("cfg");
    CHECK_INT(fc_app_set_port(app, 70000), FC_EINVAL);
    CHECK_INT(fc_app_set_threads(app, 0), FC_EINVAL);
    CHECK_INT(fc_app_set_port(app, 0), 0);
    fc_blueprint *bp = fc_blueprint_new("bp", "/bp");
    CHECK_INT(fc_route(bp, "GET", "/a", (fc_handler)forgot, "a", 0), 0);
    CHECK_INT(fc_route(bp, "GET", "/a", (fc_handler)forgot, "a", 0), FC_EEXIST);
    CHECK_INT(fc_route(bp, "BREW", "/b", (fc_handler)forgot, "b", 0), FC_EINVAL);
    CHECK_INT(fc_route(bp, "GET", "/<int:x", (fc_handler)forgot, "c", 0), 0); /* syntax checked at register */
    CHECK(fc_app_register(app, bp) == FC_EINVAL);
    fc_app_free(app);
    fc_blueprint_free(bp);
    setenv("FLASKC_PORT", "6123", 1);
    setenv("FLASKC_MAX_BODY", "junk", 1);
    app = fc_app_new("env");
    CHECK_INT(app->cfg.port, 6123);
    CHECK_INT(app->cfg.max_body, 16u * 1024 * 1024);
    CHECK_INT(app->cfg.env_err, FC_EINVAL); /* made, but it will not start */
    fc_app_free(app);
    unsetenv("FLASKC_PORT");
    unsetenv("FLASKC_MAX_BODY");
    CHECK_STR(fc_strerror(FC_EEXIST), "already exists (duplicate rule or name)");
    CHECK_STR(fc_version_string(), "0.1.0");
}

/* ---- settings (libflaskc/settings.h) ---- */

static char env_log[4096];
static void capture_env_log(fc_log_level level, const char *line, void *ud)
{
    (void)ud;
    if (level == FC_LOG_ERROR)
        strncat(env_log, line, sizeof(env_log) - strlen(env_log) - 1);
}

/* A bad FLASKC_* value: fc_app_new logs the setting, the value and what it
 * accepts, keeps the default, and the app refuses to start. */
static void bad_env(const char *name, const char *value, const char *why)
{
    char want[600];
    snprintf(want, sizeof(want), "%s=%s", name, why);
    env_log[0] = '\0';
    setenv(name, value, 1);
    fc_log_set_handler(capture_env_log, NULL);
    fc_app *app = fc_app_new("badenv");
    CHECK(app != NULL);
    if (app) {
        CHECK_INT(app->cfg.env_err, FC_EINVAL);
        CHECK_STR(app->cfg.env_msg, want);
        CHECK(strstr(env_log, want) != NULL);
        CHECK_INT(fc_app_start(app), FC_EINVAL);
        CHECK_INT(fc_app_port(app), 0);
        CHECK(strstr(env_log, "badenv: not starting: ") != NULL);
        fc_test_response *r = fc_test_request(app, "GET", "/", NULL, NULL, 0);
        CHECK(r == NULL); /* the test client starts the app too */
        fc_test_response_free(r);
        fc_app_free(app);
    }
    fc_log_set_handler(NULL, NULL);
    unsetenv(name);
}

static void test_settings_env(void)
{
    /* non-numeric, negative, above the maximum, too many digits, not a boolean, not a level */
    bad_env("FLASKC_PORT", "junk",
            "\"junk\": not a whole number; accepted: 0..65535 (0 = a free port, which `fc_app_port` tells)");
    bad_env("FLASKC_TIMEOUT", "-1", "\"-1\": out of range; accepted: 0..86400 seconds (0 = no timeout)");
    bad_env("FLASKC_THREADS", "1025", "\"1025\": out of range; accepted: 1..1024");
    bad_env("FLASKC_THREADS", "0", "\"0\": out of range; accepted: 1..1024");
    bad_env("FLASKC_MAX_BODY", "99999999999999999999",
            "\"99999999999999999999\": out of range; accepted: 0 or more bytes (0 = no limit)");
    bad_env("FLASKC_CONNECTION_MEMORY", "20k",
            "\"20k\": not a whole number; accepted: 4096..67108864 bytes");
    bad_env("FLASKC_DEADLINE_MS", " 5", "\" 5\": not a whole number; accepted: 0..86400000 milliseconds "
            "(0 = no deadline)");
    bad_env("FLASKC_ACCESS_LOG", "maybe",
            "\"maybe\": not a boolean; accepted: 1, true, yes, on or 0, false, no, off");
    bad_env("FLASKC_REUSEPORT", "2", "\"2\": not a boolean; accepted: 1, true, yes, on or 0, false, no, off");
    bad_env("FLASKC_LOG_LEVEL", "verbose",
            "\"verbose\": not a log level; accepted: debug, info, warning, error");
    /* the value as logged: control bytes and quotes escaped */
    bad_env("FLASKC_DB_POOL", "1\n\"x", "\"1\\x0a\\x22x\": not a whole number; accepted: 1..1000");

    /* two bad values: both logged, the first kept; the good ones applied */
    setenv("FLASKC_WORKERS", "x", 1);
    setenv("FLASKC_DB_QUEUE", "0", 1);
    setenv("FLASKC_DB_PIPELINE", "7", 1);
    env_log[0] = '\0';
    fc_log_set_handler(capture_env_log, NULL);
    fc_app *app = fc_app_new("two");
    fc_log_set_handler(NULL, NULL);
    CHECK_INT(app->cfg.env_err, FC_EINVAL);
    CHECK(strncmp(app->cfg.env_msg, "FLASKC_WORKERS=\"x\"", 18) == 0);
    CHECK(strstr(env_log, "FLASKC_WORKERS=\"x\"") && strstr(env_log, "FLASKC_DB_QUEUE=\"0\""));
    CHECK_INT(app->cfg.workers, 32);
    CHECK_INT(app->cfg.db_queue, 10000);
    CHECK_INT(app->cfg.db_pipeline, 7);
    fc_app_free(app);
    unsetenv("FLASKC_WORKERS");
    unsetenv("FLASKC_DB_QUEUE");
    unsetenv("FLASKC_DB_PIPELINE");

    /* good values of each kind; empty = unset */
    setenv("FLASKC_ACCESS_LOG", "Yes", 1);
    setenv("FLASKC_REUSEPORT", "on", 1);
    setenv("FLASKC_JSON_ERRORS", "0", 1);
    setenv("FLASKC_LOG_LEVEL", "Warning", 1);
    setenv("FLASKC_MAX_BODY", "0", 1);
    setenv("FLASKC_HOST", "", 1);
    setenv("FLASKC_DATABASE_URL", "dbname=x", 1);
    setenv("FLASKC_SHUTDOWN_GRACE_MS", "3600000", 1);
    app = fc_app_new("good");
    CHECK_INT(app->cfg.env_err, 0);
    CHECK_STR(app->cfg.env_msg, "");
    CHECK(app->cfg.access_log && app->cfg.reuseport && !app->cfg.json_errors);
    CHECK_INT(app->cfg.log_level, FC_LOG_WARNING);
    CHECK_INT(app->cfg.max_body, 0);
    CHECK_STR(app->cfg.host, "127.0.0.1");
    CHECK_STR(app->cfg.database_url, "dbname=x");
    CHECK_INT(app->cfg.shutdown_grace_ms, 3600000);
    fc_app_free(app);
    unsetenv("FLASKC_ACCESS_LOG");
    unsetenv("FLASKC_REUSEPORT");
    unsetenv("FLASKC_JSON_ERRORS");
    unsetenv("FLASKC_LOG_LEVEL");
    unsetenv("FLASKC_MAX_BODY");
    unsetenv("FLASKC_HOST");
    unsetenv("FLASKC_DATABASE_URL");
    unsetenv("FLASKC_SHUTDOWN_GRACE_MS");
}

/* Every setter named in the table takes exactly the table's range, into the
 * table's field, and its default is the table's. */
#define CHECK_S(s, cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fprintf(stderr, "%s (%s): ", (s)->env, (s)->setter);                                   \
        CHECK(cond);                                                                               \
    } while (0)
#define FIELD(app, off, type) ((type *)(void *)((char *)&(app)->cfg + (off)))

static void setter_unsigned(const fc__setting *s, int (*fn)(fc_app *, unsigned), size_t off)
{
    fc_app *app = fc_app_new("setters");
    unsigned *f = FIELD(app, off, unsigned);
    if (s != &fc__settings[FC__S_THREADS])
        CHECK_S(s, *f == s->dflt);
    if (fn) {
        if (s->min > 0)
            CHECK_S(s, fn(app, (unsigned)s->min - 1) == FC_EINVAL);
        CHECK_S(s, fn(app, (unsigned)s->max + 1) == FC_EINVAL);
        CHECK_S(s, fn(app, (unsigned)s->min) == 0 && *f == s->min);
        CHECK_S(s, fn(app, (unsigned)s->max) == 0 && *f == s->max);
        CHECK_S(s, fn(NULL, (unsigned)s->min) == FC_EINVAL);
    }
    fc_app_free(app);
}

static void setter_size(const fc__setting *s, int (*fn)(fc_app *, size_t), size_t off)
{
    fc_app *app = fc_app_new("setters");
    size_t *f = FIELD(app, off, size_t);
    CHECK_S(s, *f == s->dflt);
    if (fn) {
        if (s->min > 0)
            CHECK_S(s, fn(app, (size_t)s->min - 1) == FC_EINVAL);
        CHECK_S(s, fn(app, (size_t)s->max + 1) == FC_EINVAL);
        CHECK_S(s, fn(app, (size_t)s->min) == 0 && *f == s->min);
        CHECK_S(s, fn(app, (size_t)s->max) == 0 && *f == s->max);
    }
    fc_app_free(app);
}

static void setter_port(const fc__setting *s, int (*fn)(fc_app *, int), size_t off)
{
    fc_app *app = fc_app_new("setters");
    int *f = FIELD(app, off, int);
    CHECK_S(s, *f == (int)s->dflt);
    if (fn) {
        CHECK_S(s, fn(app, -1) == FC_EINVAL);
        CHECK_S(s, fn(app, (int)s->max + 1) == FC_EINVAL);
        CHECK_S(s, fn(app, (int)s->min) == 0 && *f == (int)s->min);
        CHECK_S(s, fn(app, (int)s->max) == 0 && *f == (int)s->max);
    }
    fc_app_free(app);
}

static void setter_bool(const fc__setting *s, int (*fn)(fc_app *, bool), size_t off)
{
    fc_app *app = fc_app_new("setters");
    bool *f = FIELD(app, off, bool);
    CHECK_S(s, *f == (bool)s->dflt);
    if (fn) {
        CHECK_S(s, fn(app, true) == 0 && *f);
        CHECK_S(s, fn(app, false) == 0 && !*f);
    }
    fc_app_free(app);
}

static void setter_level(const fc__setting *s, int (*fn)(fc_app *, fc_log_level), size_t off)
{
    fc_app *app = fc_app_new("setters");
    CHECK_S(s, *FIELD(app, off, fc_log_level) == (fc_log_level)s->dflt);
    CHECK_S(s, fn == NULL); /* none yet: a new one would need a test here */
    fc_app_free(app);
}

static void setter_string(const fc__setting *s, int (*fn)(fc_app *, const char *), size_t off)
{
    fc_app *app = fc_app_new("setters");
    char **f = FIELD(app, off, char *);
    CHECK_S(s, s->dflt_str ? *f && !strcmp(*f, s->dflt_str) : *f == NULL);
    if (fn) {
        CHECK_S(s, fn(app, "::1") == 0 && *f && !strcmp(*f, "::1"));
        CHECK_S(s, fn(app, "") == (s->min ? FC_EINVAL : 0));
        CHECK_S(s, fn(app, NULL) == (s->min ? FC_EINVAL : 0));
        CHECK_S(s, s->min ? *f && !strcmp(*f, "::1") : *f == NULL);
    }
    fc_app_free(app);
}

#define setter_COUNT setter_unsigned
#define setter_SECONDS setter_unsigned
#define setter_MS setter_unsigned
#define setter_BYTES setter_size
#define setter_PORT setter_port
#define setter_BOOL setter_bool
#define setter_LEVEL setter_level
#define setter_STRING setter_string

static void test_settings_setters(void)
{
    size_t rows = 0;
#define none NULL /* a row without a setter */
#define SETTER_ROW(NAME, field, kind, dflt, dflt_doc, min, max, zero, setter, meaning)             \
    setter_##kind(&fc__settings[FC__S_##NAME], setter, offsetof(fc__config, field));               \
    rows++;
    FC__SETTINGS(SETTER_ROW)
#undef SETTER_ROW
#undef none
    CHECK_INT(rows, FC__S_N);
    /* the setter names the generator prints are the functions the table holds */
    CHECK_STR(fc__settings[FC__S_THREADS].setter, "fc_app_set_threads");
    CHECK_STR(fc__settings[FC__S_LOG_LEVEL].setter, "none");
}

int main(void)
{
    fc_app *app = make_app();
    test_routing(app);
    test_request(app);
    test_responses(app);
    test_hooks(app);
    test_async(app);
    test_background_and_watchdog(app);
    test_client_wire(app);
    CHECK_INT(fc_app_before(app, app_before), FC_EBUSY);
    fc_app_free(app);
    test_config();
    test_settings_env();
    test_settings_setters();
    test_convert_and_trailing_slashes();
    test_client_parser();
    TAP_DONE();
}
