/* fuzz_rule.c — the rule compiler (fc__router_add) on arbitrary rule text,
 * then matching and url_for on the router it built. Input: lines; a line
 * starting with '@' is a path to match, any other line a rule (up to 8, each
 * its own endpoint "r<i>"; the line number picks methods and flags). A
 * rejected rule must say why; an OK match has NUL-terminated arguments, and
 * url_for with them must succeed; a value a converter refuses after the match
 * (min, max, fixed_digits) ends in 404 or 405. Matching is linear in the path
 * whatever the rules (pattern.c): libFuzzer's -timeout catches a slow input. */
#include "fuzz.h"

#define MAX_RULES 8
#define MAX_PATHS 8

static const unsigned METHODS[] = {FC__M_GET, FC__M_GET | FC__M_POST, FC__M_POST, FC__M_PUT};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fc__router *r = fc__router_new();
    fc__arena *a = fc__arena_new(0);
    char *lines[MAX_RULES + MAX_PATHS];
    size_t nl = 0, nrules = 0, npaths = 0, added = 0;
    char eps[MAX_RULES][8];
    const uint8_t *d = data;
    size_t n = size;
    if (!r || !a)
        goto out;
    while (n && nl < MAX_RULES + MAX_PATHS) {
        size_t len;
        char *s = fz_take(&d, &n, '\n', &len);
        if (!s)
            goto out;
        lines[nl++] = s;
        if (s[0] == '@') {
            npaths++;
            continue;
        }
        if (nrules == MAX_RULES)
            continue;
        char err[128] = "";
        size_t i = nrules++;
        snprintf(eps[i], sizeof(eps[i]), "r%zu", i);
        unsigned flags = (i & 1 ? FC__RULE_NO_STRICT_SLASHES : 0) | (i & 2 ? FC__RULE_NO_AUTO_OPTIONS : 0);
        int rc = fc__router_add(r, s, METHODS[i % 4], eps[i], (void *)(i + 1), flags, err, sizeof(err));
        if (rc == 0) {
            added++;
            FZ_CHECK(s[0] == '/', "accepted a rule not starting with '/'");
        } else {
            FZ_CHECK(rc == FC_EINVAL || rc == FC_EEXIST || rc == FC_ENOMEM, "error %d", rc);
            FZ_CHECK(rc == FC_ENOMEM || err[0], "no reason given for '%s'", s);
        }
    }
    FZ_CHECK(fc__router_count(r) == added, "count %zu, added %zu", fc__router_count(r), added);

    for (size_t li = 0; li < nl; li++) {
        if (lines[li][0] != '@')
            continue;
        const char *path = lines[li] + 1;
        for (size_t mi = 0; mi < 3; mi++) {
            static const unsigned mb[] = {FC__M_GET, FC__M_POST, FC__M_OPTIONS};
            fc__match m;
            if (fc__router_match(r, mb[mi], path, strlen(path), a, &m) != 0)
                continue;
            if (m.kind == FC__MATCH_REDIRECT)
                FZ_CHECK(m.redirect_path[0] == '/', "relative redirect");
            FZ_CHECK(!m.refused || m.kind == FC__MATCH_NOT_FOUND ||
                         m.kind == FC__MATCH_METHOD_NOT_ALLOWED,
                     "a refused value gives %d", (int)m.kind);
            if (m.kind != FC__MATCH_OK)
                continue;
            const char **kv = fc__arena_calloc(a, (2 * m.nargs + 3) * sizeof(char *));
            if (!kv)
                continue;
            size_t k;
            for (k = 0; k < m.nargs; k++) {
                FZ_CHECK(m.args[k].name && m.args[k].value, "NULL argument");
                kv[2 * k] = m.args[k].name;
                kv[2 * k + 1] = m.args[k].value;
                (void)strlen(m.args[k].value);
            }
            kv[2 * k] = "extra key";
            kv[2 * k + 1] = "v&=/?#";
            char *url = NULL;
            int rc = fc__router_build(r, m.endpoint, kv, &url);
            FZ_CHECK(rc == 0 || rc == FC_ENOMEM, "url_for(%s) after a match: %d", m.endpoint, rc);
            if (url)
                FZ_CHECK(url[0] == '/' && strstr(url, "?extra+key=v%26%3D/?%23"), "url '%s'", url);
            free(url);
        }
    }
    /* url_for with fixed values for common names, on every endpoint */
    static const char *const kv[] = {"id", "5", "name", "a b", "p", "x/y", "n", "-1", "u",
                                     "0A1B2C3D-0000-4000-8000-00000000000F", "x", "1.5", NULL};
    for (size_t i = 0; i < nrules; i++) {
        char *url = NULL;
        int rc = fc__router_build(r, eps[i], kv, &url);
        FZ_CHECK(rc == 0 || rc == FC_EINVAL || rc == FC_ENOENT || rc == FC_ENOMEM, "build %d", rc);
        FZ_CHECK(rc != 0 || (url && url[0] == '/'), "built '%s'", url ? url : "(null)");
        free(url);
    }
out:
    for (size_t i = 0; i < nl; i++)
        free(lines[i]);
    fc__router_free(r);
    fc__arena_free(a);
    return 0;
}
