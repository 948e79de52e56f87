/* oracle_app.c — the libflaskc side of tests/test_oracle.sh: the same app as
 * tests/oracle/oracle_app.py (Flask), route for route, so that both can be
 * run on loopback and their answers compared byte for byte. Flask returns a
 * str as text/html (fc_response_html here) and jsonify sorts keys (the JSON
 * here is rebuilt with sorted keys before it is sent). Error pages are the
 * library's defaults. Port from FLASKC_PORT. */
#include <flaskc.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A deep copy of @p obj whose objects have their keys in sorted order, as
 * Flask's jsonify writes them (new reference; NULL stays NULL = null). */
static json_object *sorted_copy(json_object *obj)
{
    if (!obj)
        return NULL;
    if (json_object_is_type(obj, json_type_array)) {
        size_t n = json_object_array_length(obj);
        json_object *a = json_object_new_array_ext((int)n);
        for (size_t i = 0; i < n; i++)
            json_object_array_add(a, sorted_copy(json_object_array_get_idx(obj, i)));
        return a;
    }
    if (!json_object_is_type(obj, json_type_object))
        return json_object_get(obj);
    size_t n = (size_t)json_object_object_length(obj), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    if (!keys)
        return NULL;
    json_object_object_foreach(obj, k, v)
    {
        (void)v;
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_str);
    json_object *o = json_object_new_object();
    for (i = 0; i < n; i++)
        json_object_object_add(o, keys[i], sorted_copy(json_object_object_get(obj, keys[i])));
    free(keys);
    return o;
}

/* jsonify(): sorted keys, compact, trailing newline, application/json */
static void jsonify(fc_request *req, int status, json_object *obj)
{
    json_object *s = sorted_copy(obj);
    json_object_put(obj);
    fc_response_json(req, status, s);
}

/* Python's len() of a UTF-8 string: code points */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Python's repr() of a float: the shortest digits that read back the same,
 * positional for exponents -4..15 (with ".0" when integral), else scientific */
static void py_float_repr(double x, char *buf, size_t len)
{
    int prec = 0;
    for (; prec < 17; prec++) {
        snprintf(buf, len, "%.*e", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    const char *e = strchr(buf, 'e');
    int exp = e ? atoi(e + 1) : 0;
    if (exp >= -4 && exp < 16) {
        int decimals = prec - exp > 0 ? prec - exp : 0;
        snprintf(buf, len, "%.*f%s", decimals, x, decimals ? "" : ".0");
    }
}

/* ---- routes ---- */

FC_APP_ROUTE("GET", "/films/<int:id>/", film)
{
    fc_response_html(req, 200, fc_request_printf(req, "film %lld type=int", fc_arg_int(req, "id")));
}

FC_APP_ROUTE("GET,POST", "/items", items)
{
    fc_response_html(req, 200, fc_request_printf(req, "items %s", fc_request_method(req)));
}

FC_APP_ROUTE("POST", "/onlypost", onlypost)
{
    fc_response_html(req, 200, "onlypost");
}

FC_APP_ROUTE("GET", "/about", about)
{
    fc_response_html(req, 200, "about");
}

FC_APP_ROUTE("GET,POST", "/coll/", coll)
{
    fc_response_html(req, 200, fc_request_printf(req, "coll %s", fc_request_method(req)));
}

FC_APP_ROUTE("GET", "/str/<name>", str_)
{
    const char *name = fc_arg(req, "name");
    fc_response_html(req, 200, fc_request_printf(req, "name=[%s] len=%zu", name, utf8_len(name)));
}

FC_APP_ROUTE("GET", "/path/<path:p>", path)
{
    fc_response_html(req, 200, fc_request_printf(req, "path=[%s]", fc_arg(req, "p")));
}

FC_APP_ROUTE("GET", "/f/<float:x>", float_)
{
    char buf[64];
    py_float_repr(fc_arg_float(req, "x"), buf, sizeof(buf));
    fc_response_html(req, 200, fc_request_printf(req, "float=%s", buf));
}

FC_APP_ROUTE("GET", "/u/<uuid:u>", uuid_)
{
    fc_response_html(req, 200, fc_arg(req, "u"));
}

/* issue 19: values are converted after the match; a path before a final '/';
 * two variables in one segment */
FC_APP_ROUTE("GET", "/lim/<int(max=100):n>", lim)
{
    fc_response_html(req, 200, fc_request_printf(req, "lim n=%lld", fc_arg_int(req, "n")));
}

FC_APP_ROUTE("GET", "/lim/<s>", lim_s)
{
    fc_response_html(req, 200, fc_request_printf(req, "lim s=[%s]", fc_arg(req, "s")));
}

FC_APP_ROUTE("GET", "/paths/<path:p>/", paths)
{
    fc_response_html(req, 200, fc_request_printf(req, "paths=[%s]", fc_arg(req, "p")));
}

FC_APP_ROUTE("GET", "/pair/<a>-<b>", pair)
{
    fc_response_html(req, 200, fc_request_printf(req, "pair a=%zu b=%zu", strlen(fc_arg(req, "a")),
                                                 strlen(fc_arg(req, "b"))));
}

FC_APP_ROUTE("GET", "/pair/<path:rest>", pair_rest)
{
    fc_response_html(req, 200, fc_request_printf(req, "pair rest=%zu", strlen(fc_arg(req, "rest"))));
}

FC_APP_ROUTE("GET", "/any/<any(a,b):v>", any_)
{
    fc_response_html(req, 200, fc_request_printf(req, "any=%s", fc_arg(req, "v")));
}

static json_object *string_list(const char *const *v, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

/* {key: getlist(key)} for every key seen by @p fn's visitor */
static bool add_query_key(const char *key, const char *value, void *ud)
{
    (void)value;
    if (!json_object_object_get_ex(ud, key, NULL))
        json_object_object_add(ud, key, NULL); /* placeholder; filled below */
    return true;
}

FC_APP_ROUTE("GET", "/args", args)
{
    json_object *all = json_object_new_object();
    fc_query_each(req, add_query_key, all);
    json_object_object_foreach(all, k, v)
    {
        (void)v;
        size_t n = 0;
        const char *const *vals = fc_query_list(req, k, &n);
        json_object_object_add(all, k, string_list(vals, n));
    }
    size_t n = 0;
    const char *const *a = fc_query_list(req, "a", &n);
    const char *first = fc_query(req, "a");
    json_object *o = json_object_new_object();
    json_object_object_add(o, "all", all);
    json_object_object_add(o, "get", first ? json_object_new_string(first) : NULL);
    json_object_object_add(o, "getlist", string_list(a, n));
    jsonify(req, 200, o);
}

FC_APP_ROUTE("POST", "/json", json_)
{
    json_object *got = fc_request_json(req);
    if (!got && fc_request_answered(req))
        return; /* 415 or 400 already sent */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "got", json_object_get(got));
    jsonify(req, 200, o);
}

FC_APP_ROUTE("POST", "/jsonsilent", jsonsilent)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "got", json_object_get(fc_request_json_silent(req)));
    jsonify(req, 200, o);
}

static bool add_form_field(const char *name, const char *value, void *ud)
{
    json_object *list;
    if (!json_object_object_get_ex(ud, name, &list)) {
        list = json_object_new_array();
        json_object_object_add(ud, name, list);
    }
    json_object_array_add(list, json_object_new_string(value));
    return true;
}

static bool add_form_file(const fc_file *f, void *ud)
{
    if (json_object_object_get_ex(ud, fc_file_field(f), NULL))
        return true; /* request.files[k] is the first file of the field */
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(fc_file_filename(f)));
    json_object_array_add(a, json_object_new_int64((int64_t)fc_file_size(f)));
    json_object_object_add(ud, fc_file_field(f), a);
    return true;
}

FC_APP_ROUTE("POST", "/form", form)
{
    json_object *files = json_object_new_object(), *fields = json_object_new_object();
    fc_request_files_each(req, add_form_file, files);
    fc_form_each(req, add_form_field, fields);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "files", files);
    json_object_object_add(o, "form", fields);
    jsonify(req, 200, o);
}

/* a generator of three chunks, "chunk0\n".."chunk2\n" */
static long stream_read(void *ud, uint64_t pos, char *buf, size_t max)
{
    int *i = ud;
    (void)pos;
    if (*i == 3)
        return FC_STREAM_END;
    return snprintf(buf, max, "chunk%d\n", (*i)++);
}

FC_APP_ROUTE("GET", "/stream", stream)
{
    int *i = calloc(1, sizeof(*i));
    if (!i) {
        fc_abort(req, 500, NULL);
        return;
    }
    fc_response_stream(req, 200, "text/plain; charset=utf-8", stream_read, i, free);
}

FC_APP_ROUTE("GET", "/dict", dict_)
{
    fc_response_json_str(req, 200, "{\"a\":1}");
}

FC_APP_ROUTE("GET", "/list", list_)
{
    fc_response_json_str(req, 200, "[1,2]");
}

FC_APP_ROUTE("GET", "/tuple", tuple_)
{
    fc_response_header(req, "X-Custom", "yes");
    fc_response_html(req, 201, "created");
}

FC_APP_ROUTE("GET", "/abort", abort_)
{
    fc_abort(req, 418, NULL);
}

FC_APP_ROUTE("GET", "/abort401", abort401)
{
    fc_abort(req, 401, NULL);
}

FC_APP_ROUTE("GET", "/redir", redir)
{
    fc_response_redirect(req, 302, "/about");
}

FC_APP_ROUTE("GET", "/cookie", cookie)
{
    fc_cookie_opts o = FC_COOKIE_OPTS_DEFAULT;
    o.max_age = 60;
    o.http_only = true;
    o.same_site = FC_SAMESITE_LAX;
    fc_response_cookie(req, "k", "v", &o);
    fc_response_html(req, 200, "cookie");
}

/* ---- blueprint bp at /bp ---- */
FC_BLUEPRINT(bp, "/bp");

FC_ROUTE(bp, "GET", "/x", x)
{
    fc_response_html(req, 200, "bp x");
}

int main(void)
{
    fc_app *app = fc_app_new("oracle");
    if (!app)
        return 1;
    if (fc_app_register(app, bp)) {
        fprintf(stderr, "oracle_app: route registration failed\n");
        fc_app_free(app);
        return 1;
    }
    int rc = fc_app_run(app);
    fc_app_free(app);
    return rc ? 1 : 0;
}
