/* fuzz_match.c — fc__router_match on a fixed router holding every converter
 * kind (string with lengths, int with bounds/sign/fixed digits, float, path
 * in the middle and at the end, uuid, any, suffixes, non-strict slashes).
 * Input: "METHOD\npath" (the path may hold any byte). Invariants: an OK match
 * has one NUL-terminated argument per rule variable that its converter
 * accepts (an int or float argument's value is its text's), a path argument
 * of a rule ending in '/' does not end in '/' (Werkzeug's "(?<!/)(/?)"), and
 * url_for of those arguments builds a URL that matches again; a redirect goes
 * to an absolute path, and following it neither redirects again nor finds
 * nothing, unless a converter refuses a value there; a converter refusing a
 * value (min, max, fixed_digits: Werkzeug converts after the match) ends in
 * 404 or 405, never OK; 405 and OPTIONS carry an Allow set. */
#include "fuzz.h"

#define GET FC__M_GET
#define POST FC__M_POST
static const struct {
    const char *rule;
    unsigned methods, flags;
} RULES[] = {
    {"/", GET, 0},
    {"/films/", GET | POST, 0},
    {"/films/<int:id>/", GET | FC__M_PUT | FC__M_DELETE, 0},
    {"/films/<int:id>/cast/<name>", GET, 0},
    {"/signed/<int(signed=True):n>", GET, 0},
    {"/range/<int(min=1, max=10):n>", GET, 0},
    {"/fd/<int(fixed_digits=4):n>", GET, 0},
    {"/pos/<int(3, 1, 999):n>", GET, 0},
    {"/f/<float:x>", GET, 0},
    {"/fs/<float(signed=True, max=2.5):x>", GET, 0},
    {"/u/<uuid:u>", GET, 0},
    {"/str/<name>", GET, 0},
    {"/len/<string(length=3):c>", GET, 0},
    {"/mm/<string(minlength=2, maxlength=4):c>", GET, 0},
    {"/path/<path:p>", GET, 0},
    {"/dl/<path:p>/edit", GET | POST, 0},
    {"/tree/<path:p>/", GET, 0},
    {"/any/<any(a, b, \"c,d\"):k>", GET, 0},
    {"/file/<name>.json", GET, 0},
    {"/v<int:n>/info", GET, 0},
    {"/d/<int:a>-<int:b>", GET, 0},
    {"/movies/<id>", GET, 0},
    {"/movies/new", GET | POST, 0},
    {"/x/<a>", GET, 0},
    {"/x/<int:a>", GET, 0},
    {"/x/<path:a>", POST, 0},
    {"/y/<n>.txt", GET, 0},
    {"/loose/", GET, FC__RULE_NO_STRICT_SLASHES},
    {"/nostrict", GET, FC__RULE_NO_STRICT_SLASHES},
    {"/noopt", GET, FC__RULE_NO_AUTO_OPTIONS},
    {"/opt", GET | FC__M_OPTIONS, 0},
    {"/api/<any(v1,v2):ver>/<path:rest>/<uuid:id>", GET, 0},
    {"/<string(minlength=5):slug>", GET, 0},
    /* values refused after the match end it (no fall-through to the next rule) */
    {"/lim/<int(max=100):n>", GET, 0},
    {"/lim/<s>", GET | POST, 0},
    {"/lq/<int(min=2, fixed_digits=2, signed=True):n>", POST, 0},
    {"/lq/<int(min=2, fixed_digits=2, signed=True):n>", GET, 0},
    {"/lf/<float(min=0.5, max=9.5):x>-<int(max=9):n>/", GET, 0},
    /* several variables in a segment, after a path, and a path in a rule ending in '/' */
    {"/m/<a>-<b>.<any(x, xy):c>", GET, 0},
    {"/pp/<path:a>-<path:b>/", GET, FC__RULE_NO_STRICT_SLASHES},
    {"/pq/<path:a>.<int:n>/<b>", GET, 0},
};
#define NRULES (sizeof(RULES) / sizeof(RULES[0]))

static fc__router *R;
static char EP[NRULES][8];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[160];
    R = fc__router_new();
    if (!R)
        abort();
    for (size_t i = 0; i < NRULES; i++) {
        snprintf(EP[i], sizeof(EP[i]), "e%zu", i);
        if (fc__router_add(R, RULES[i].rule, RULES[i].methods, EP[i], (void *)(i + 1),
                           RULES[i].flags, err, sizeof(err)) != 0) {
            fprintf(stderr, "fuzz_match: rule %s: %s\n", RULES[i].rule, err);
            abort();
        }
    }
    return 0;
}

/* replay.c calls this at exit so valgrind sees everything freed */
void fz_cleanup(void);
void fz_cleanup(void)
{
    fc__router_free(R);
    R = NULL;
}

static void check(fc__arena *a, unsigned mbit, const char *path, size_t len, bool again)
{
    fc__match m;
    if (fc__router_match(R, mbit, path, len, a, &m) != 0)
        return; /* out of memory */
    FZ_CHECK(!m.refused || m.kind == FC__MATCH_NOT_FOUND || m.kind == FC__MATCH_METHOD_NOT_ALLOWED,
             "a refused value gives %d", (int)m.kind);
    switch (m.kind) {
    case FC__MATCH_OK: {
        size_t idx = (size_t)m.route - 1;
        FZ_CHECK(idx < NRULES, "bad route pointer");
        FZ_CHECK(!strcmp(m.endpoint, EP[idx]) && !strcmp(m.rule, RULES[idx].rule), "route mismatch");
        FZ_CHECK(mbit & m.allow, "matched a rule without the method");
        const char **kv = fc__arena_calloc(a, (2 * m.nargs + 1) * sizeof(char *));
        if (!kv)
            return;
        /* the transports refuse NUL in paths: a raw path holding one only
         * has to be safe (arguments are cut at the NUL) */
        bool nul = memchr(path, '\0', len) != NULL;
        for (size_t k = 0; k < m.nargs; k++) {
            const fc__arg *g = &m.args[k];
            FZ_CHECK(g->name && g->value, "argument %zu is NULL", k);
            size_t vl = strlen(g->value); /* ASan: must be terminated */
            FZ_CHECK(vl <= len, "argument longer than the path");
            if (nul)
                continue;
            FZ_CHECK(g->type == FC__ARG_PATH || !strchr(g->value, '/'), "'/' in a segment argument");
            if (g->type == FC__ARG_PATH)
                FZ_CHECK(vl > 0 && g->value[0] != '/', "path argument '%s'", g->value);
            if (g->type == FC__ARG_INT) {
                long long v;
                FZ_CHECK(fc__parse_ll(g->value, vl, true, &v) == 0 && v == g->i,
                         "int argument '%s' vs %lld", g->value, g->i);
            }
            if (g->type == FC__ARG_FLOAT) {
                char *end;
                double v = strtod(g->value, &end);
                FZ_CHECK(*end == '\0' && v == g->d, "float argument '%s' vs %g", g->value, g->d);
            }
            size_t rl = strlen(m.rule);
            if (g->type == FC__ARG_PATH && k + 1 == m.nargs && rl > 2 &&
                !strcmp(m.rule + rl - 2, ">/"))
                FZ_CHECK(vl == 0 || g->value[vl - 1] != '/', "path argument '%s' ends in '/'",
                         g->value);
            if (g->type == FC__ARG_UUID) {
                FZ_CHECK(vl == 36, "uuid length %zu", vl);
                for (const char *q = g->value; *q; q++)
                    FZ_CHECK(!(*q >= 'A' && *q <= 'Z'), "uuid not lower-cased");
            }
        }
        for (size_t k = 0; k < m.nargs; k++) {
            kv[2 * k] = m.args[k].name;
            kv[2 * k + 1] = m.args[k].value;
        }
        if (nul)
            return;
        char *url = NULL;
        int rc = fc__router_build(R, m.endpoint, kv, &url);
        if (rc == FC_ENOMEM)
            return;
        FZ_CHECK(rc == 0 && url && url[0] == '/', "url_for(%s) of a matched path failed: %d",
                 m.endpoint, rc);
        if (again) {
            /* the built URL, decoded, matches (some rule: static ones win), unless an
             * earlier rule of that method has its shape and refuses the value, which
             * ends routing as in Werkzeug (POST /lim/500 matched /lim/<s>; GET finds
             * /lim/<int(max=100):n> first) */
            size_t ul = fc__percent_decode(url, strlen(url), false);
            fc__match m2;
            if (fc__router_match(R, FC__M_GET, url, ul, a, &m2) == 0 && (m.allow & FC__M_GET))
                FZ_CHECK(m2.kind == FC__MATCH_OK || m2.refused, "url_for gave '%s' that does not match (%d)",
                         url, (int)m2.kind);
        }
        free(url);
        break;
    }
    case FC__MATCH_REDIRECT:
        FZ_CHECK(m.redirect_path && m.redirect_path[0] == '/', "redirect to a relative path");
        FZ_CHECK(strlen(m.redirect_path) <= len + 2, "redirect path too long");
        if (again) {
            /* following the redirect must not redirect again; it finds the rule, whose
             * converters may still refuse a value ("/lim//500" -> "/lim/500" -> 404:
             * Werkzeug redirects before converting) */
            const char *rp = m.redirect_path;
            fc__match m2;
            if (fc__router_match(R, mbit, rp, strlen(rp), a, &m2) == 0)
                FZ_CHECK(m2.kind != FC__MATCH_REDIRECT &&
                             (m2.kind != FC__MATCH_NOT_FOUND || m2.refused),
                         "redirect to '%s' gives %d", rp, (int)m2.kind);
        }
        break;
    case FC__MATCH_METHOD_NOT_ALLOWED:
    case FC__MATCH_OPTIONS:
        FZ_CHECK(m.allow != 0, "empty Allow");
        FZ_CHECK(m.kind != FC__MATCH_METHOD_NOT_ALLOWED || !(m.allow & mbit), "405 but allowed");
        break;
    case FC__MATCH_NOT_FOUND:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *d = data;
    size_t n = size;
    char *method = fz_take(&d, &n, '\n', NULL);
    char *path = malloc(n ? n : 1); /* exact size: no terminator to lean on */
    char *dec = fz_rest(d, n);
    fc__arena *a = fc__arena_new(0);
    if (!method || !path || !dec || !a)
        goto out;
    if (n)
        memcpy(path, d, n);
    unsigned mbit = fc__method_bit(method);
    /* raw bytes (a NUL cuts an argument short, so no round trip then) */
    check(a, mbit, path, n, mbit != 0 && !memchr(path, '\0', n));
    /* as the server does: percent-decoded, only valid UTF-8 without NUL */
    size_t dn = fc__percent_decode(dec, n, false);
    if (fc__utf8_valid(dec, dn) && !memchr(dec, '\0', dn))
        check(a, mbit, dec, dn, mbit != 0);
out:
    free(method);
    free(path);
    free(dec);
    fc__arena_free(a);
    return 0;
}
