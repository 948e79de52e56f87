/* fuzz_request.c — whole requests through the in-process test client
 * (fc_test_request): request line, target decoding, headers, routing, hooks,
 * handlers reading args/query/cookies/form/files/JSON, error pages, redirects,
 * streams, deferred and blocking routes. Input: "METHOD\nTARGET\n" then
 * "Name: value" lines up to an empty line, then the body. Invariants: status
 * in 200..599, response header lines free of stray CR/LF with token names,
 * the framing libmicrohttpd sent (Content-Length equal to the body; none
 * for 1xx and 204; no body for HEAD, 1xx, 204, 304), a Date, teardown ran
 * once (unless libmicrohttpd refused the request itself). The request goes
 * through libmicrohttpd like any connection's. */
#include "fuzz.h"

#include <json-c/json.h>
#include <stdatomic.h>

static fc_app *APP;
static fc_blueprint *BP, *INNER;
static atomic_long TEARDOWNS;

/* ---- handlers ---- */
static void h_index(fc_request *req) { fc_response_text(req, 200, "ok"); }

static void h_args(fc_request *req)
{
    struct json_object *o = json_object_new_object();
    if (!o) {
        fc_abort(req, 500, NULL);
        return;
    }
    json_object_object_add(o, "id", json_object_new_int64(fc_arg_int(req, "id")));
    json_object_object_add(o, "name", json_object_new_string(fc_arg(req, "name")));
    json_object_object_add(o, "rest", json_object_new_string(fc_arg(req, "rest")));
    json_object_object_add(o, "endpoint", json_object_new_string(fc_request_endpoint(req)));
    fc_response_json(req, 200, o);
}

static bool add_pair(const char *k, const char *v, void *ud)
{
    json_object_array_add(ud, json_object_new_string(k));
    json_object_array_add(ud, json_object_new_string(v));
    return true;
}

static void h_query(fc_request *req)
{
    struct json_object *arr = json_object_new_array();
    size_t n = 0;
    long long i = 0;
    const char *const *l = fc_query_list(req, "a", &n);
    fc_query_int(req, "n", -1, &i);
    fc_query_each(req, add_pair, arr);
    for (size_t k = 0; l && k < n; k++)
        (void)strlen(l[k]);
    const char *h = fc_query(req, "h");
    if (h)
        fc_response_header(req, "X-Q", h); /* refused when it holds CR/LF */
    const char *cn = fc_query(req, "cn");
    if (cn) {
        fc_cookie_opts o = FC_COOKIE_OPTS_DEFAULT;
        o.path = fc_query(req, "cp");
        o.domain = fc_query(req, "cd");
        o.max_age = i;
        fc_response_cookie(req, cn, fc_query(req, "cv"), &o);
    }
    if (fc_query(req, "del"))
        fc_response_delete_cookie(req, fc_query(req, "del"), fc_query(req, "cp"));
    fc_response_json(req, 200, arr);
}

static void h_cookies(fc_request *req)
{
    const char *a = fc_request_cookie(req, "a");
    const char *s = fc_request_cookie(req, "session");
    char *t = fc_request_printf(req, "a=[%s] session=[%s]", a ? a : "-", s ? s : "-");
    fc_response_text(req, 200, t ? t : "");
}

static bool count_field(const char *k, const char *v, void *ud)
{
    /* form text, urlencoded or multipart: UTF-8, other bytes as %XX */
    FZ_CHECK(fc__utf8_valid(k, strlen(k)) && fc__utf8_valid(v, strlen(v)),
             "form field not UTF-8");
    *(size_t *)ud += strlen(k) + strlen(v);
    return true;
}

static bool count_file(const fc_file *f, void *ud)
{
    const unsigned char *d = fc_file_data(f);
    size_t sz = fc_file_size(f);
    FZ_CHECK(fc__utf8_valid(fc_file_filename(f), strlen(fc_file_filename(f))),
             "file name not UTF-8");
    *(size_t *)ud += sz + strlen(fc_file_field(f)) + strlen(fc_file_filename(f)) +
                     strlen(fc_file_content_type(f)) + (sz ? d[0] + d[sz - 1] : 0);
    return true;
}

static void h_form(fc_request *req)
{
    size_t n = 0, sum = 0;
    const char *a = fc_form(req, "a");
    fc_form_list(req, "a", &n);
    fc_form_each(req, count_field, &sum);
    fc_request_files_each(req, count_file, &sum);
    const fc_file *f = fc_request_file(req, "f");
    const char *why = NULL;
    int err = fc_request_form_error(req, &why);
    char *t = fc_request_printf(req, "a=%s n=%zu sum=%zu f=%zu err=%d why=%s", a ? a : "-", n,
                                sum, f ? fc_file_size(f) : 0, err, why ? why : "-");
    if (err)
        fc_abort(req, 400, why);
    else
        fc_response_text(req, 200, t ? t : "");
}

static void h_json(fc_request *req)
{
    struct json_object *o = fc_request_json(req);
    if (fc_request_answered(req))
        return; /* 415 or 400 already sent */
    if (!o) {
        fc_response_json_str(req, 200, "null");
        return;
    }
    /* what was accepted is RFC 8259 JSON, and so is its echo ("1." was not) */
    size_t len = 0, off = 0;
    const char *why = NULL, *body = fc_request_body(req, &len);
    FZ_CHECK(body && len, "JSON without a body");
    if (len >= 3 && !memcmp(body, "\xEF\xBB\xBF", 3)) {
        body += 3;
        len -= 3;
    }
    FZ_CHECK(fc__json_check(body, len, &off, &why) == 0, "accepted a body that is not JSON: %s",
             why);
    const char *echo = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    FZ_CHECK(echo && fc__json_check(echo, len, &off, &why) == 0, "echo '%s' is not JSON: %s",
             echo ? echo : "(null)", why);
    fc_response_json(req, 200, json_object_get(o));
}

static void h_redirect(fc_request *req)
{
    const char *to = fc_query(req, "to");
    if (fc_response_redirect(req, (int)(300 + (to ? strlen(to) % 9 : 2)), to ? to : "/") != 0)
        fc_response_text(req, 400, "bad location");
}

static void h_typed(fc_request *req)
{
    const char *v = fc_arg(req, "v");
    char *t = fc_request_printf(req, "v=[%s] f=%g i=%lld", v ? v : "-", fc_arg_float(req, "v"),
                                fc_arg_int(req, "v"));
    fc_response_text(req, 200, t ? t : "");
}

static void h_abort(fc_request *req)
{
    fc_abort(req, (int)fc_arg_int(req, "code"), fc_query(req, "msg"));
}

static long gen(void *ud, uint64_t pos, char *buf, size_t max)
{
    (void)ud;
    if (pos >= 10)
        return FC_STREAM_END;
    buf[0] = (char)('0' + pos);
    (void)max;
    return 1;
}

static void h_stream(fc_request *req) { fc_response_stream(req, 200, "text/plain", gen, NULL, NULL); }

static void h_blocking(fc_request *req) { fc_response_text(req, 201, fc_request_path(req)); }

static void later(fc_request *req, void *ud)
{
    (void)ud;
    fc_response_text(req, 202, "later");
}

static void h_defer(fc_request *req) { fc_after(req, 0, later, NULL); }

static void h_forget(fc_request *req) { (void)req; /* no answer: the library sends 500 */ }

static bool hdr_each(const char *k, const char *v, void *ud)
{
    *(size_t *)ud += strlen(k) + strlen(v);
    return true;
}

static void h_headers(fc_request *req)
{
    size_t sum = 0;
    fc_request_headers_each(req, hdr_each, &sum);
    const char *ua = fc_request_header(req, "user-agent");
    char *t = fc_request_printf(req, "%zu %s %s %s", sum, ua ? ua : "-",
                                fc_request_query_string(req), fc_request_remote_addr(req));
    fc_response_html(req, 200, t ? t : "");
}

/* ---- hooks ---- */
static bool before(fc_request *req)
{
    if (fc_request_header(req, "X-Deny")) {
        fc_response_text(req, 401, "denied");
        return false;
    }
    return true;
}

static void after(fc_request *req)
{
    const char *e = fc_request_header(req, "X-Echo");
    if (e)
        fc_response_set_header(req, "X-Echo", e); /* refused when it holds CR/LF */
    const char *st = fc_request_header(req, "X-Status");
    if (st)
        fc_response_set_status(req, (int)strtol(st, NULL, 10));
}

static void teardown(fc_request *req, int status)
{
    (void)req;
    (void)status;
    atomic_fetch_add(&TEARDOWNS, 1);
}

static void on_404(fc_request *req, int status)
{
    if (!strncmp(fc_request_path(req), "/bp/in/", 7))
        fc_response_json_str(req, status, "{\"error\":\"inner\"}");
}

/* the library's log lines (a forgotten answer...) would flood the fuzzer's
 * output: swallow them, but touch every byte so ASan checks them */
static void quiet_log(fc_log_level level, const char *line, void *ud)
{
    (void)level;
    (void)ud;
    FZ_CHECK(line, "NULL log line");
    (void)strlen(line);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fc_log_set_handler(quiet_log, NULL);
    APP = fc_app_new("fuzz");
    BP = fc_blueprint_new("fz", "/bp");
    INNER = fc_blueprint_new("inner", "/in");
    if (!APP || !BP || !INNER)
        abort();
    fc_app_set_workers(APP, 2);
    fc_app_set_deadline(APP, 2000);
    fc_app_set_max_body(APP, 1 << 16);
    int rc = 0;
    rc |= fc_route(BP, "GET", "/", h_index, "index", 0);
    rc |= fc_route(BP, "GET", "/args/<int(signed=True):id>/<name>/<path:rest>", h_args, "args", 0);
    rc |= fc_route(BP, "GET,POST", "/q", h_query, "query", 0);
    rc |= fc_route(BP, "GET", "/c", h_cookies, "cookies", 0);
    rc |= fc_route(BP, "POST,PUT,PATCH", "/form", h_form, "form", 0);
    rc |= fc_route(BP, "POST,PUT", "/json", h_json, "json", 0);
    rc |= fc_route(BP, "GET", "/redir", h_redirect, "redir", 0);
    rc |= fc_route(BP, "GET", "/u/<uuid:v>", h_typed, "uuid", 0);
    rc |= fc_route(BP, "GET", "/f/<float(signed=True):v>", h_typed, "float", 0);
    rc |= fc_route(BP, "GET", "/any/<any(a, b, \"c d\"):v>/", h_typed, "any", 0);
    rc |= fc_route(BP, "GET", "/s/<string(minlength=2, maxlength=8):v>.txt", h_typed, "str", 0);
    rc |= fc_route(BP, "GET", "/abort/<int(min=400, max=599):code>", h_abort, "abort", 0);
    rc |= fc_route(BP, "GET", "/stream", h_stream, "stream", 0);
    rc |= fc_route(BP, "GET", "/blk/<path:v>", h_blocking, "blk", FC_BLOCKING);
    rc |= fc_route(BP, "GET", "/defer", h_defer, "defer", 0);
    rc |= fc_route(BP, "GET", "/forget", h_forget, "forget", 0);
    rc |= fc_route(INNER, "GET,DELETE", "/h/<v>", h_headers, "headers", FC_NO_STRICT_SLASHES);
    rc |= fc_blueprint_errorhandler(INNER, 404, on_404);
    rc |= fc_blueprint_register(BP, INNER);
    rc |= fc_app_before(APP, before);
    rc |= fc_app_after(APP, after);
    rc |= fc_app_teardown(APP, teardown);
    rc |= fc_app_errorhandler(APP, 404, on_404);
    rc |= fc_app_register(APP, BP);
    if (rc) {
        fprintf(stderr, "fuzz_request: setup failed\n");
        abort();
    }
    return 0;
}

/* replay.c calls this at exit so valgrind sees everything freed */
void fz_cleanup(void);
void fz_cleanup(void)
{
    fc_app_free(APP);
    fc_log_set_handler(NULL, NULL);
    fc_blueprint_free(BP);
    fc_blueprint_free(INNER);
    APP = NULL;
}

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

#define MAX_HEADERS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *d = data;
    size_t n = size;
    char *method = fz_take(&d, &n, '\n', NULL);
    char *target = fz_take(&d, &n, '\n', NULL);
    char *lines[MAX_HEADERS];
    const char *hv[2 * MAX_HEADERS + 1];
    size_t nh = 0;
    fc_test_response *r = NULL;
    if (!method || !target)
        goto out;
    while (n && nh < MAX_HEADERS) {
        size_t len;
        char *line = fz_take(&d, &n, '\n', &len);
        if (!line)
            goto out;
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (!len) {
            free(line);
            break; /* the empty line: the body follows */
        }
        char *colon = strchr(line, ':');
        if (colon && ((colon - line == 14 && !fc__strncasecmp(line, "Content-Length", 14)) ||
                      (colon - line == 17 && !fc__strncasecmp(line, "Transfer-Encoding", 17)))) {
            /* the test client frames the body; a wrong length would only
             * wait for the connection timeout */
            free(line);
            continue;
        }
        lines[nh] = line;
        hv[2 * nh] = line;
        if (colon) {
            *colon++ = '\0';
            while (*colon == ' ')
                colon++;
            hv[2 * nh + 1] = colon;
        } else {
            hv[2 * nh + 1] = "";
        }
        nh++;
    }
    hv[2 * nh] = NULL;

    long before_td = atomic_load(&TEARDOWNS);
    r = fc_test_request(APP, method, target, hv, n ? d : NULL, n);
    if (!r)
        goto out; /* out of memory */
    int st = fc_test_status(r);
    /* once for every request that reached the app; libmicrohttpd answers
     * some malformed ones itself (400, 413, 431) */
    long td = atomic_load(&TEARDOWNS) - before_td;
    FZ_CHECK(td == 1 || (td == 0 && (st == 400 || st == 413 || st == 431)), "teardown ran %ld times (status %d)",
             td, st);
    /* the library answers 200..599; an app may set any status up to 999
     * (fc_response_set_status takes 200..999) */
    bool app_status = false;
    for (size_t i = 0; i < nh; i++)
        app_status |= !fc__strcasecmp(hv[2 * i], "X-Status");
    FZ_CHECK(st >= 200 && st <= (app_status ? 999 : 599), "status %d", st);

    /* every header line: token ": " value "\r\n", no other CR or LF */
    const char *h = fc_test_headers(r);
    FZ_CHECK(h, "no header block");
    while (*h) {
        const char *eol = strstr(h, "\r\n");
        FZ_CHECK(eol, "header block not CRLF-terminated: '%s'", h);
        const char *c = memchr(h, ':', (size_t)(eol - h));
        FZ_CHECK(c && c > h && c[1] == ' ', "malformed header line '%.*s'", (int)(eol - h), h);
        for (const char *p = h; p < c; p++)
            FZ_CHECK(tchar((unsigned char)*p), "bad header name '%.*s'", (int)(c - h), h);
        for (const char *p = c; p < eol; p++)
            FZ_CHECK(*p != '\r' && *p != '\n' && *p != '\0', "CR/LF in header value '%.*s'",
                     (int)(eol - h), h);
        h = eol + 2;
    }
    size_t blen = 0;
    const char *body = fc_test_body(r, &blen);
    FZ_CHECK(body && body[blen] == '\0', "body not NUL-terminated");
    /* the framing libmicrohttpd put on the wire */
    const char *cl = fc_test_header(r, "Content-Length");
    const char *te = fc_test_header(r, "Transfer-Encoding");
    FZ_CHECK(!(cl && te), "both Content-Length and Transfer-Encoding");
    FZ_CHECK(fc_test_header(r, "Date"), "no Date header");
    if ((st >= 100 && st < 200) || st == 204)
        FZ_CHECK(blen == 0 && !cl && !te, "%d with a body or its framing", st);
    else if (!strcmp(method, "HEAD") || st == 304)
        FZ_CHECK(blen == 0, "%s %d answered with a body of %zu bytes", method, st, blen);
    else if (cl)
        FZ_CHECK((size_t)strtoull(cl, NULL, 10) == blen, "Content-Length %s, body %zu", cl, blen);
    const char *loc = fc_test_header(r, "Location");
    if (loc)
        FZ_CHECK(fc__header_value_ok(loc), "Location with CR/LF");
out:
    fc_test_response_free(r);
    for (size_t i = 0; i < nh; i++)
        free(lines[i]);
    free(method);
    free(target);
    return 0;
}
