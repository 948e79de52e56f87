/* diff_app.c — the libflaskc side of tests/test_diff.sh: the rules of
 * tests/diff/routes.txt (also read by diff_app.py, the Flask side), each answered
 * by one handler that describes what it parsed, as JSON.
 *
 * Usage: diff_app ROUTES_FILE   (port from FLASKC_PORT, host from FLASKC_HOST)
 *
 * The answer of every route is the JSON object
 *   {"endpoint", "method", "path", "args": {name: typed value},
 *    "query": [[k, v]...], "form": [[k, v]...],
 *    "files": [[field, filename, content_type, size]...],
 *    "cookies": {name: value or null}, "headers": {name: value or null},
 *    "json": body}                          (json routes only)
 * diff_app.py builds the same from Flask's request. Only the public API
 * (flaskc.h) and json-c are used. */
#include <flaskc.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the headers and cookies a handler reports (gen.py sends these names) */
static const char *const report_headers[] = {"X-A",        "X-B",          "X-Long",
                                             "User-Agent", "Content-Type", NULL};
static const char *const report_cookies[] = {"a", "b", "sid", "q", "e", NULL};

enum { BODY_NONE, BODY_JSON, BODY_SILENT };
enum { T_STRING, T_INT, T_FLOAT, T_OTHER };

#define MAX_VARS 8
#define MAX_ROUTES 128
#define MAX_BPS 16

struct route {
    char endpoint[128]; /* with the blueprint names: "api.v1.v1_put" */
    int body;
    size_t nvars;
    char var[MAX_VARS][32];
    int type[MAX_VARS];
};

static struct route routes[MAX_ROUTES];
static size_t nroutes;

static struct {
    char name[32];
    char full[128]; /* dotted name of the blueprint and its parents */
    fc_blueprint *bp;
    int parent; /* -1: registered on the app */
} bps[MAX_BPS];
static size_t nbps;

/* ---- the answer ---- */

static const struct route *route_of(const char *endpoint)
{
    for (size_t i = 0; endpoint && i < nroutes; i++)
        if (!strcmp(routes[i].endpoint, endpoint))
            return &routes[i];
    return NULL;
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *pair(const char *k, const char *v)
{
    json_object *a = json_object_new_array_ext(2);
    json_object_array_add(a, json_object_new_string(k));
    json_object_array_add(a, json_object_new_string(v));
    return a;
}

static bool add_pair(const char *k, const char *v, void *ud)
{
    json_object_array_add(ud, pair(k, v));
    return true;
}

static bool add_file(const fc_file *f, void *ud)
{
    json_object *a = json_object_new_array_ext(4);
    json_object_array_add(a, json_object_new_string(fc_file_field(f)));
    json_object_array_add(a, json_object_new_string(fc_file_filename(f)));
    json_object_array_add(a, str_or_null(fc_file_content_type(f)));
    json_object_array_add(a, json_object_new_int64((int64_t)fc_file_size(f)));
    json_object_array_add(ud, a);
    return true;
}

static void describe(fc_request *req)
{
    const struct route *r = route_of(fc_request_endpoint(req));
    json_object *body = NULL;
    if (!r) {
        fc_abort(req, 500, "diff_app: unknown endpoint");
        return;
    }
    if (r->body == BODY_JSON) {
        body = fc_request_json(req);
        if (!body && fc_request_answered(req))
            return; /* 415 or 400, as Flask's get_json() */
    } else if (r->body == BODY_SILENT) {
        body = fc_request_json_silent(req);
    }

    json_object *o = json_object_new_object();
    json_object_object_add(o, "endpoint", json_object_new_string(r->endpoint));
    json_object_object_add(o, "method", json_object_new_string(fc_request_method(req)));
    json_object_object_add(o, "path", str_or_null(fc_request_path(req)));

    json_object *args = json_object_new_object();
    for (size_t i = 0; i < r->nvars; i++) {
        const char *name = r->var[i];
        json_object *v;
        if (r->type[i] == T_INT)
            v = json_object_new_int64(fc_arg_int(req, name));
        else if (r->type[i] == T_FLOAT)
            v = json_object_new_double(fc_arg_float(req, name));
        else
            v = str_or_null(fc_arg(req, name));
        json_object_object_add(args, name, v);
    }
    json_object_object_add(o, "args", args);

    json_object *q = json_object_new_array();
    fc_query_each(req, add_pair, q);
    json_object_object_add(o, "query", q);
    json_object *form = json_object_new_array();
    fc_form_each(req, add_pair, form);
    json_object_object_add(o, "form", form);
    json_object *files = json_object_new_array();
    fc_request_files_each(req, add_file, files);
    json_object_object_add(o, "files", files);

    json_object *cookies = json_object_new_object();
    for (size_t i = 0; report_cookies[i]; i++)
        json_object_object_add(cookies, report_cookies[i],
                               str_or_null(fc_request_cookie(req, report_cookies[i])));
    json_object_object_add(o, "cookies", cookies);
    json_object *headers = json_object_new_object();
    for (size_t i = 0; report_headers[i]; i++)
        json_object_object_add(headers, report_headers[i],
                               str_or_null(fc_request_header(req, report_headers[i])));
    json_object_object_add(o, "headers", headers);

    if (r->body != BODY_NONE)
        json_object_object_add(o, "json", json_object_get(body));
    fc_response_json(req, 200, o);
}

/* ---- routes.txt ---- */

static int type_of(const char *conv, size_t n)
{
    if (n == 3 && !memcmp(conv, "int", 3))
        return T_INT;
    if (n == 5 && !memcmp(conv, "float", 5))
        return T_FLOAT;
    if (n == 0 || (n == 6 && !memcmp(conv, "string", 6)) || (n == 7 && !memcmp(conv, "default", 7)))
        return T_STRING;
    return T_OTHER; /* path, uuid, any: text */
}

/* the variables of @p rule: "<conv(args):name>" or "<name>" */
static int parse_vars(struct route *r, const char *rule)
{
    for (const char *p = strchr(rule, '<'); p; p = strchr(p, '<')) {
        const char *end = strchr(p, '>');
        if (!end || r->nvars == MAX_VARS)
            return -1;
        const char *colon = NULL;
        for (const char *c = p; c < end; c++)
            if (*c == ':')
                colon = c;
        const char *name = colon ? colon + 1 : p + 1;
        size_t convlen = 0;
        if (colon) {
            const char *paren = memchr(p + 1, '(', (size_t)(colon - p - 1));
            convlen = (size_t)((paren ? paren : colon) - (p + 1));
        }
        size_t nlen = (size_t)(end - name);
        if (nlen == 0 || nlen >= sizeof(r->var[0]))
            return -1;
        memcpy(r->var[r->nvars], name, nlen);
        r->var[r->nvars][nlen] = '\0';
        r->type[r->nvars++] = type_of(p + 1, convlen);
        p = end;
    }
    return 0;
}

static int bp_index(const char *name)
{
    for (size_t i = 0; i < nbps; i++)
        if (!strcmp(bps[i].name, name))
            return (int)i;
    return -1;
}

/* the next word of *@p s separated by any of @p seps (NUL-terminated in place), NULL at the end */
static char *next_word(char **s, const char *seps)
{
    char *p = *s + strspn(*s, seps);
    if (!*p)
        return NULL;
    char *e = p + strcspn(p, seps);
    *s = *e ? e + 1 : e;
    *e = '\0';
    return p;
}

static int load_routes(const char *file)
{
    FILE *f = fopen(file, "r");
    char line[512];
    int lineno = 0;
    if (!f) {
        perror(file);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *w[7] = {0}, *rest = line;
        int n = 0;
        lineno++;
        while (n < 7 && (w[n] = next_word(&rest, " \t\r\n")))
            n++;
        if (n == 0 || w[0][0] == '#')
            continue;
        if (!strcmp(w[0], "blueprint") && n == 4 && nbps < MAX_BPS) {
            int parent = strcmp(w[3], "-") ? bp_index(w[3]) : -1;
            if (strcmp(w[3], "-") && parent < 0)
                goto bad;
            snprintf(bps[nbps].name, sizeof(bps[nbps].name), "%s", w[1]);
            snprintf(bps[nbps].full, sizeof(bps[nbps].full), "%s%s%s",
                     parent >= 0 ? bps[parent].full : "", parent >= 0 ? "." : "", w[1]);
            bps[nbps].parent = parent;
            if (!(bps[nbps].bp = fc_blueprint_new(w[1], w[2])))
                goto bad;
            nbps++;
        } else if (!strcmp(w[0], "route") && (n == 5 || n == 6) && nroutes < MAX_ROUTES) {
            struct route *r = &routes[nroutes];
            fc_blueprint *bp = fc_app_routes();
            unsigned flags = 0;
            if (strcmp(w[1], "-")) {
                int b = bp_index(w[1]);
                if (b < 0)
                    goto bad;
                bp = bps[b].bp;
                snprintf(r->endpoint, sizeof(r->endpoint), "%s.%s", bps[b].full, w[4]);
            } else {
                snprintf(r->endpoint, sizeof(r->endpoint), "%s", w[4]);
            }
            char none[1] = "", *fl, *flist = n == 6 ? w[5] : none;
            while ((fl = next_word(&flist, ","))) {
                if (!strcmp(fl, "nostrict"))
                    flags |= FC_NO_STRICT_SLASHES;
                else if (!strcmp(fl, "noopts"))
                    flags |= FC_NO_AUTO_OPTIONS;
                else if (!strcmp(fl, "json"))
                    r->body = BODY_JSON;
                else if (!strcmp(fl, "silent"))
                    r->body = BODY_SILENT;
                else
                    goto bad;
            }
            if (parse_vars(r, w[3]) < 0 || fc_route(bp, w[2], w[3], describe, w[4], flags) != 0)
                goto bad;
            nroutes++;
        } else {
            goto bad;
        }
    }
    fclose(f);
    return 0;
bad:
    fprintf(stderr, "diff_app: %s:%d: bad line (or a rule libflaskc refuses)\n", file, lineno);
    fclose(f);
    return -1;
}

int main(int argc, char **argv)
{
    int rc = 1;
    fc_app *app = NULL;
    if (argc != 2) {
        fprintf(stderr, "usage: diff_app ROUTES_FILE\n");
        return 2;
    }
    if (load_routes(argv[1]) < 0)
        goto out;
    for (size_t i = 0; i < nbps; i++)
        if (bps[i].parent >= 0 && fc_blueprint_register(bps[bps[i].parent].bp, bps[i].bp) != 0)
            goto out;
    if (!(app = fc_app_new("diff")))
        goto out;
    for (size_t i = 0; i < nbps; i++) {
        if (bps[i].parent < 0 && fc_app_register(app, bps[i].bp) != 0) {
            fprintf(stderr, "diff_app: blueprint %s refused\n", bps[i].name);
            goto out;
        }
    }
    rc = fc_app_run(app) ? 1 : 0;
out:
    fc_app_free(app);
    for (size_t i = 0; i < nbps; i++)
        fc_blueprint_free(bps[i].bp);
    return rc;
}
