/* form.c — request bodies as forms: x-www-form-urlencoded and a byte-level
 * multipart/form-data (RFC 7578) parser over the complete body in memory. */
#include "internal.h"

#include <string.h>

int fc__form_urlencoded(const char *body, size_t len, fc__arena *a, fc__kvlist *fields)
{
    /* Werkzeug decodes form bodies with the same rules as query strings */
    if (!body)
        return 0;
    return fc__query_parse(body, len, a, fields);
}

/* The multipart parser keeps its state here; [p, end) is what is left. */
typedef struct mp {
    const char *p;
    const char *end;
    const char *delim; /* "\r\n--" boundary */
    size_t dlen;
    fc__arena *a;
    const char **err;
} mp;

static int file_add(fc__filelist *l, fc__arena *a, const fc_file *f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        if (cap < l->cap || cap > SIZE_MAX / sizeof(fc_file))
            return FC_ENOMEM;
        fc_file *items = fc__arena_alloc(a, cap * sizeof(fc_file));
        if (!items)
            return FC_ENOMEM;
        if (l->n)
            memcpy(items, l->items, l->n * sizeof(fc_file));
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = *f;
    return 0;
}

/*
 * What may follow "--boundary" for it to be a delimiter, as Werkzeug's
 * boundary regex has it: "--" (the close; the epilogue is ignored), or
 * optional transport padding and CRLF (the next part). The padding is
 * Werkzeug's [^\S\n\r]: space, tab, vertical tab, form feed. Anything else
 * means the bytes were data that only looked like a boundary. Returns true
 * with *next after the line and *close set, false otherwise.
 */
static bool delim_tail(const mp *m, const char *q, const char **next, bool *close)
{
    if (m->end - q >= 2 && q[0] == '-' && q[1] == '-') {
        *next = m->end;
        *close = true;
        return true;
    }
    while (q < m->end && (*q == ' ' || *q == '\t' || *q == '\v' || *q == '\f'))
        q++;
    if (m->end - q >= 2 && q[0] == '\r' && q[1] == '\n') {
        *next = q + 2;
        *close = false;
        return true;
    }
    return false;
}

/* The next delimiter ("\r\n--boundary" + tail) at or after @p from, or NULL. */
static const char *find_delim(const mp *m, const char *from, const char **next, bool *close)
{
    while (from < m->end) {
        const char *d = memmem(from, (size_t)(m->end - from), m->delim, m->dlen);
        if (!d)
            return NULL;
        if (delim_tail(m, d + m->dlen, next, close))
            return d;
        from = d + 1;
    }
    return NULL;
}

/* A folded header line [h, e) as one: each line break and the space or
 * tab after it read as one space (Werkzeug's HEADER_CONTINUATION_RE). */
static char *unfold(fc__arena *a, const char *h, const char *e, const char **out_end)
{
    char *u = fc__arena_alloc(a, (size_t)(e - h) + 1);
    if (!u)
        return NULL;
    size_t n = 0;
    for (const char *c = h; c < e; c++) {
        if (c[0] == '\r' && e - c >= 3 && c[1] == '\n') {
            c += 2; /* the space or tab: the logical line holds no other CRLF */
            u[n++] = ' ';
        } else {
            u[n++] = *c;
        }
    }
    u[n] = '\0';
    *out_end = u + n;
    return u;
}

/*
 * Parse the header block [h, hend) of one part as Werkzeug's _parse_headers
 * does: a line beginning with a space or tab continues the one before, each
 * line is "name: value" with both stripped, and a line without ':' is a
 * header named by the whole line with an empty value, which nobody reads.
 * So a part with no header block ("--a" CRLF "--a" CRLF ...) lends its
 * delimiter line to the next part's block, which is read as it stands (the
 * form is not lost). The first Content-Disposition and Content-Type count.
 */
static int part_headers(mp *m, const char *h, const char *hend, char **disp, char **ctype)
{
    *disp = NULL;
    *ctype = NULL;
    while (h < hend) {
        const char *eol = memmem(h, (size_t)(hend - h), "\r\n", 2);
        bool folded = false;
        while (eol && hend - eol > 2 && (eol[2] == ' ' || eol[2] == '\t')) {
            folded = true;
            eol = memmem(eol + 3, (size_t)(hend - eol - 3), "\r\n", 2);
        }
        const char *lend = eol ? eol : hend;
        /* Werkzeug decodes header lines as UTF-8 (and drops the whole form
         * when one is not); a NUL would cut a name or file name short */
        if (memchr(h, '\0', (size_t)(lend - h))) {
            *m->err = "NUL in a part header";
            return FC_EINVAL;
        }
        if (!fc__utf8_valid(h, (size_t)(lend - h))) {
            *m->err = "part header is not UTF-8";
            return FC_EINVAL;
        }
        const char *line = h, *le = lend;
        if (folded && !(line = unfold(m->a, h, lend, &le)))
            return FC_ENOMEM;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        const char *name = line, *nend = colon ? colon : le;
        const char *v = colon ? colon + 1 : le, *vend = le;
        fc__space_trim(&name, &nend);
        size_t nlen = (size_t)(nend - name);
        char **slot = NULL;
        if (nlen == 19 && fc__strncasecmp(name, "Content-Disposition", 19) == 0)
            slot = disp;
        else if (nlen == 12 && fc__strncasecmp(name, "Content-Type", 12) == 0)
            slot = ctype;
        if (slot && !*slot) {
            fc__space_trim(&v, &vend);
            if (!(*slot = fc__arena_strndup(m->a, v, (size_t)(vend - v))))
                return FC_ENOMEM;
        }
        h = eol ? eol + 2 : hend;
    }
    return 0;
}

/* Werkzeug's charsets (others are not decoded): *cs set, or false. */
static bool charset_of(const char *name, size_t n, fc__charset *cs)
{
    static const struct {
        const char *name;
        fc__charset cs;
    } known[] = {{"utf-8", FC__CS_UTF8},
                 {"us-ascii", FC__CS_ASCII},
                 {"ascii", FC__CS_ASCII},
                 {"iso-8859-1", FC__CS_LATIN1}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strlen(known[i].name) == n && fc__strncasecmp(name, known[i].name, n) == 0) {
            *cs = known[i].cs;
            return true;
        }
    return false;
}

/* A token character (RFC 9110) or, when @p ext, also '%' and '\'' (the
 * ext-value's percent-encoded value, as Werkzeug's pattern has it). */
static bool ext_char(unsigned char c, bool quote)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && (strchr("!#$%&*+-.^_`|~", c) || (quote && c == '\''));
}

/*
 * An RFC 8187 (5987) ext-value, charset'language'percent-encoded, decoded
 * into the arena as fc__text_clean has text. NULL when it is not one or its
 * charset is not UTF-8, US-ASCII or ISO-8859-1; then *@p rest gets what
 * Werkzeug keeps of it: the value without charset and language when only
 * the charset was unknown, else the whole parameter.
 */
static char *ext_value(fc__arena *a, char *v, const char **rest, bool *oom)
{
    *rest = v;
    char *q1 = strchr(v, '\'');
    char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
    if (!q2 || !q2[1])
        return NULL;
    for (const char *c = v; c < q2; c++)
        if (c != q1 && !ext_char((unsigned char)*c, false))
            return NULL;
    for (const char *c = q2 + 1; *c; c++)
        if (!ext_char((unsigned char)*c, true))
            return NULL;
    *rest = q2 + 1;
    fc__charset cs;
    if (!charset_of(v, (size_t)(q1 - v), &cs))
        return NULL;
    size_t n = fc__percent_decode(q2 + 1, strlen(q2 + 1), false), out;
    char *t = fc__text_clean(a, q2 + 1, n, cs, &out);
    *oom = !t;
    return t;
}

/*
 * What Werkzeug reads of an unquoted ext-value that does not decode as a
 * whole: its token characters up to the first other one ('UTF-8\'\'../x'
 * is 'UTF-8\'\'..'), decoded when they form an ext-value ('..'), else as
 * ext_value leaves them. NULL when there are none: Werkzeug then drops the
 * parameter. @p v is the arena's copy, cut in place.
 */
static char *ext_prefix(fc__arena *a, char *v, bool *oom)
{
    size_t n = 0;
    while (ext_char((unsigned char)v[n], true))
        n++;
    if (!n)
        return NULL;
    v[n] = '\0';
    const char *rest;
    char *dec = ext_value(a, v, &rest, oom);
    return (dec || *oom) ? dec : (char *)rest;
}

/*
 * A parameter of a part's Content-Disposition ("name", "filename"). Its
 * RFC 8187 form name*=UTF-8''na%C3%AFve.txt, when it decodes, wins over the
 * plain one wherever each stands (RFC 6266 4.3; Werkzeug takes the last).
 * One that does not decode leaves the plain one, or when there is none
 * reads as Werkzeug reads it: quoted, as it stands (Werkzeug decodes no
 * quoted one); unquoted, its token characters (ext_prefix), so that a path
 * in a file name never comes out more whole than Werkzeug has it. NULL
 * when absent or on out of memory (*oom).
 */
static char *disp_param(fc__arena *a, const char *disp, const char *name, bool *oom)
{
    char star[16];
    size_t n = strlen(name);
    memcpy(star, name, n);
    memcpy(star + n, "*", 2);
    *oom = false;
    bool quoted;
    char *plain = fc__content_type_param(a, disp, name);
    char *ext = fc__header_param(a, disp, star, &quoted);
    if (!ext)
        return plain;
    const char *rest;
    char *dec = ext_value(a, ext, &rest, oom);
    if (dec || *oom)
        return dec;
    if (plain)
        return plain;
    return quoted ? ext : ext_prefix(a, ext, oom);
}

/* The charset a part's text is in: its Content-Type's, UTF-8 by default. */
static fc__charset part_charset(fc__arena *a, const char *ctype)
{
    fc__charset cs = FC__CS_UTF8;
    char *c = ctype ? fc__content_type_param(a, ctype, "charset") : NULL;
    if (c && !charset_of(c, strlen(c), &cs))
        cs = FC__CS_UTF8;
    return cs;
}

int fc__form_multipart(const char *body, size_t len, const char *content_type,
                       const fc__form_limits *lim, fc__arena *a, fc__kvlist *fields,
                       fc__filelist *files, const char **err)
{
    static const char *dummy;
    if (!err)
        err = &dummy;
    *err = NULL;
    if (!body) {
        body = "";
        len = 0;
    }
    size_t max_parts = lim ? lim->max_parts : 1000;
    size_t max_field = lim ? lim->max_field_size : 500000;
    size_t nf0 = fields->n, nfi0 = files->n, parts = 0;
    int rc;

    /* (out of memory here reads as "missing boundary": harmless, a 400) */
    char *boundary = fc__content_type_param(a, content_type, "boundary");
    if (!boundary || !*boundary) {
        *err = "missing boundary";
        rc = FC_EINVAL;
        goto fail;
    }
    size_t blen = strlen(boundary);
    char *delim = fc__arena_alloc(a, blen + 5);
    if (!delim) {
        rc = FC_ENOMEM;
        goto fail;
    }
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen + 1);
    mp m = {body, body + len, delim, blen + 4, a, err};

    /* the first delimiter: "--boundary" where it first stands, after a
     * preamble or not (Werkzeug's line break before it is optional too).
     * When that one is not a delimiter ("--boundary\x01\r\n") while a later
     * one is, the parts between would be skipped as preamble without a word
     * (Werkzeug does so): an error instead */
    const char *next = NULL;
    bool close = false;
    const char *first = memmem(m.p, len, delim + 2, m.dlen - 2);
    if (!first || !delim_tail(&m, first + m.dlen - 2, &next, &close)) {
        const char *later = first;
        while (later && !delim_tail(&m, later + m.dlen - 2, &next, &close))
            later = memmem(later + 1, (size_t)(m.end - later - 1), delim + 2, m.dlen - 2);
        *err = later ? "malformed opening boundary" : "missing opening boundary";
        rc = FC_EINVAL;
        goto fail;
    }
    m.p = next;

    while (!close) {
        if (max_parts && ++parts > max_parts) {
            *err = "too many parts";
            rc = FC_ERANGE;
            goto fail;
        }
        /* headers end with an empty line (Werkzeug's blank line: a part
         * with none, "\r\n" at once, takes the next block as its own) */
        const char *hend = memmem(m.p, (size_t)(m.end - m.p), "\r\n\r\n", 4);
        if (!hend) {
            *err = "missing end of part headers";
            rc = FC_EINVAL;
            goto fail;
        }
        char *disp, *ctype;
        rc = part_headers(&m, m.p, hend, &disp, &ctype);
        if (rc)
            goto fail;
        /* an empty body (RFC 2046 allows it): the blank line's CRLF is
         * also the one that starts the next delimiter */
        const char *data = hend + 4;
        const char *dend = find_delim(&m, hend + 2, &next, &close);
        if (!dend) {
            *err = "missing closing boundary";
            rc = FC_EINVAL;
            goto fail;
        }
        size_t dlen = dend > data ? (size_t)(dend - data) : 0;
        m.p = next;

        bool oom = false;
        char *name = disp ? disp_param(a, disp, "name", &oom) : NULL;
        char *filename = name ? disp_param(a, disp, "filename", &oom) : NULL;
        if (oom) {
            rc = FC_ENOMEM;
            goto fail;
        }
        if (!name) {
            *err = "missing part name";
            rc = FC_EINVAL;
            goto fail;
        }
        if (filename) {
            fc_file f = {name, filename,
                         (ctype && *ctype) ? ctype : "application/octet-stream", NULL, dlen};
            char *copy = fc__arena_strndup(a, data, dlen);
            if (!copy) {
                rc = FC_ENOMEM;
                goto fail;
            }
            f.data = copy;
            rc = file_add(files, a, &f);
        } else {
            if (max_field && dlen > max_field) {
                *err = "form field too large";
                rc = FC_ERANGE;
                goto fail;
            }
            /* text as the query and urlencoded parsers hand it out */
            size_t vlen = 0;
            char *copy = fc__text_clean(a, data, dlen, part_charset(a, ctype), &vlen);
            rc = copy ? fc__kv_add(fields, a, name, copy, vlen) : FC_ENOMEM;
        }
        if (rc)
            goto fail;
    }
    return 0;

fail:
    /* leave the lists as they were (the arena keeps the garbage) */
    fields->n = nf0;
    files->n = nfi0;
    return rc;
}
