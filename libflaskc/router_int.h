/* router_int.h — the compiled rule, shared by rule.c (which makes it) and router.c (which
 * files it in the trie and matches it) and by no other file, so internal.h stays small. */
#ifndef FLASKC_ROUTER_INT_H
#define FLASKC_ROUTER_INT_H

#include "internal.h"

#define FC__RULE_MAX_VARS 32 /* variables in one rule (bounds the capture stack) */

struct conv {
    fc__argtype type;
    int weight;           /* Werkzeug weight: lower is tried first */
    size_t minlen, maxlen; /* string, in code points */
    bool is_signed;       /* int, float */
    unsigned fixed_digits; /* int, 0 = any */
    bool has_min, has_max;
    long long imin, imax;
    double dmin, dmax;
    char **items; /* any */
    size_t nitems, capitems;
};

struct var {
    char *name;
    struct conv cv;
    size_t spec_off, spec_len; /* "int(max=5)" in the rule text, for node keys */
};

/* A rule is a list of pieces: literal text or a variable. */
struct piece {
    char *lit; /* literal when var < 0 */
    size_t litlen;
    int var;
};

/* One trie step: the pieces of one path segment, or of everything from the
 * segment holding a path converter to the end ("final"). */
struct seg {
    size_t first, count, nvars; /* nvars: the variable pieces among count */
    bool is_static, final, suffixed;
    char *key; /* static: the text; dynamic: the pattern without names */
    size_t keylen;
};

struct rule {
    char *text, *endpoint;
    void *route;
    unsigned methods, explicit_methods, flags;
    bool auto_options;
    struct piece *pieces;
    size_t npieces;
    struct var *vars;
    size_t nvars;
    struct seg *segs;
    size_t nsegs;
};

/* A variable's text in the path matched: s[0..len). */
struct cap {
    const char *s;
    size_t len;
};

/** Write a reason into @p err (when given). Returns FC_EINVAL. */
int fc__rule_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Compile the rule text @p t into @p ru (pieces, variables, segments). 0, FC_EINVAL
 *  (@p err gets a reason) or FC_ENOMEM; on failure ru is partly filled: fc__rule_free it. */
int fc__rule_parse(struct rule *ru, const char *t, char *err, size_t errlen);
/** Free a rule and everything it owns; NULL is fine. */
void fc__rule_free(struct rule *ru);
/** Werkzeug's to_python for a value whose shape matched: *i (int) or *d (float) get the
 *  typed value. @p z is NUL-terminated at z[n]. 0, FC_EINVAL when the converter refuses it
 *  (fixed_digits, min, max: the match ends there, in a 404 or 405) or FC_ENOMEM. */
int fc__rule_convert(const struct conv *cv, const char *z, size_t n, long long *i, double *d);
/** Is s[0..n) 8-4-4-4-12 hexadecimal digits (Werkzeug's uuid regex)? */
bool fc__uuid_syntax(const char *s, size_t n);
/** True when the name/value pairs @p kv name every variable of @p ru. */
bool fc__rule_suitable(const struct rule *ru, const char *const *kv);
/** url_for for one suitable rule: its path from the values in @p kv (nkv strings, even),
 *  the other pairs as a query string. *out malloc'ed. 0, FC_EINVAL (a converter
 *  refuses a value) or FC_ENOMEM. */
int fc__rule_build(const struct rule *ru, const char *const *kv, size_t nkv, char **out);

/* ----- pattern.c --------------------------------------------------------- */

/** Match the @p np pieces of one trie step against s[pos..len) as Werkzeug's regex for
 *  that part would: converter shapes only (values are converted after the whole match),
 *  the same captures as its backtracking, in time linear in len - pos. @p caps gets one
 *  entry per variable piece, in order. 1 (matched), 0 (no match) or FC_ENOMEM. */
int fc__pattern_match(const struct piece *pc, size_t np, const struct var *vars, const char *s,
                      size_t pos, size_t len, struct cap *caps);

#endif /* FLASKC_ROUTER_INT_H */
