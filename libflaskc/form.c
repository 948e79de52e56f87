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

static bool starts(const mp *m, const char *s, size_t n)
{
    return (size_t)(m->end - m->p) >= n && memcmp(m->p, s, n) == 0;
}

/*
 * What may follow "--boundary" for it to be a delimiter, as Werkzeug's
 * boundary regex has it: "--" (the close; the epilogue is ignored), or
 * optional transport padding (spaces, tabs) and CRLF (the next part).
 * Anything else means the bytes were data that only looked like a boundary.
 * Returns true with *next after the line and *close set, false otherwise.
 */
static bool delim_tail(const mp *m, const char *q, const char **next, bool *close)
{
    if (m->end - q >= 2 && q[0] == '-' && q[1] == '-') {
        *next = m->end;
        *close = true;
        return true;
    }
    while (q < m->end && (*q == ' ' || *q == '\t'))
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

/* A copy of a header value, trimmed, NUL-terminated (a NUL inside ends it). */
static char *header_value(fc__arena *a, const char *v, const char *vend)
{
    while (v < vend && (*v == ' ' || *v == '\t'))
        v++;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
        vend--;
    return fc__arena_strndup(a, v, (size_t)(vend - v));
}

/* Parse the header block [h, hend) of one part. */
static int part_headers(mp *m, const char *h, const char *hend, char **disp, char **ctype)
{
    *disp = NULL;
    *ctype = NULL;
    while (h < hend) {
        const char *eol = memmem(h, (size_t)(hend - h), "\r\n", 2);
        const char *lend = eol ? eol : hend;
        const char *colon = memchr(h, ':', (size_t)(lend - h));
        if (!colon || colon == h) {
            *m->err = "malformed part header";
            return FC_EINVAL;
        }
        size_t nlen = (size_t)(colon - h);
        char **slot = NULL;
        if (nlen == 19 && fc__strncasecmp(h, "Content-Disposition", 19) == 0)
            slot = disp;
        else if (nlen == 12 && fc__strncasecmp(h, "Content-Type", 12) == 0)
            slot = ctype;
        if (slot && !*slot) {
            *slot = header_value(m->a, colon + 1, lend);
            if (!*slot)
                return FC_ENOMEM;
        }
        h = eol ? eol + 2 : hend;
    }
    return 0;
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

    /* the first delimiter: at the very start, or after a preamble and CRLF */
    const char *next = NULL;
    bool close = false;
    if (!(starts(&m, delim + 2, m.dlen - 2) && delim_tail(&m, m.p + m.dlen - 2, &next, &close)) &&
        !find_delim(&m, m.p, &next, &close)) {
        *err = "missing opening boundary";
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
        /* headers end with an empty line; no headers at all means no name */
        if (starts(&m, "\r\n", 2)) {
            *err = "missing part name";
            rc = FC_EINVAL;
            goto fail;
        }
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
        const char *data = hend + 4;
        const char *dend = find_delim(&m, data, &next, &close);
        if (!dend) {
            *err = "missing closing boundary";
            rc = FC_EINVAL;
            goto fail;
        }
        size_t dlen = (size_t)(dend - data);
        m.p = next;

        char *name = disp ? fc__content_type_param(a, disp, "name") : NULL;
        if (!name) {
            *err = "missing part name";
            rc = FC_EINVAL;
            goto fail;
        }
        char *filename = fc__content_type_param(a, disp, "filename");
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
            char *copy = fc__arena_strndup(a, data, dlen);
            rc = copy ? fc__kv_add(fields, a, name, copy, dlen) : FC_ENOMEM;
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
