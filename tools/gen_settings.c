/* gen_settings.c — writes the settings tables of README.md and flaskc.h from
 * libflaskc/settings.h (through config.c's fc__settings[]), or checks them.
 *
 *   gen_settings --write FILE...   rewrite the lines between the markers
 *   gen_settings --check FILE...   exit 1 when a file differs from what --write would write
 *   gen_settings --names           the FLASKC_* names, one a line
 *   gen_settings --setters         the setters' names, one a line
 *
 * In each FILE the generated lines go between a line holding "settings:begin"
 * and one holding "settings:end"; a FILE ending in ".md" gets a Markdown
 * table, any other a block for a C comment (" * " lines). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_WIDTH 100

static void fmt_default(const fc__setting *s, bool md, char *buf, size_t size)
{
    const char *q = md ? "`" : "";
    if (s->dflt_doc) {
        snprintf(buf, size, "%s", s->dflt_doc);
        return;
    }
    switch (s->kind) {
    case FC__KIND_STRING:
        if (s->dflt_str)
            snprintf(buf, size, md ? "`%s`" : "\"%s\"", s->dflt_str);
        else
            snprintf(buf, size, "none");
        return;
    case FC__KIND_BOOL:
        snprintf(buf, size, "%s", s->dflt ? "on" : "off");
        return;
    case FC__KIND_LEVEL:
        snprintf(buf, size, "%s%s%s", q, fc__setting_level_name((fc_log_level)s->dflt), q);
        return;
    case FC__KIND_BYTES: {
        const unsigned long long kib = 1024, mib = kib * kib;
        if (s->dflt >= mib && s->dflt % mib == 0) {
            snprintf(buf, size, "%s%llu%s (%llu MiB)", q, s->dflt, q, s->dflt / mib);
            return;
        }
        if (s->dflt >= kib && s->dflt % kib == 0) {
            snprintf(buf, size, "%s%llu%s (%llu KiB)", q, s->dflt, q, s->dflt / kib);
            return;
        }
        break;
    }
    default:
        break;
    }
    snprintf(buf, size, "%s%llu%s", q, s->dflt, q);
}

static const char *setter_of(const fc__setting *s)
{
    return strcmp(s->setter, "none") != 0 ? s->setter : NULL;
}

static void markdown(FILE *out)
{
    char dflt[128], acc[256];
    fputs("| variable | setter | type | default | accepted | meaning |\n", out);
    fputs("|---|---|---|---|---|---|\n", out);
    for (size_t i = 0; i < FC__S_N; i++) {
        const fc__setting *s = &fc__settings[i];
        fmt_default(s, true, dflt, sizeof(dflt));
        fc__setting_accepted(s, true, acc, sizeof(acc));
        fprintf(out, "| `%s` | ", s->env);
        if (setter_of(s))
            fprintf(out, "`%s`", s->setter);
        else
            fputs("—", out);
        fprintf(out, " | %s | %s | %s | %s |\n", fc__setting_kind_name(s->kind), dflt, acc,
                s->meaning);
    }
}

/* @p text without Markdown's backticks, wrapped into " * " lines indented by
 * four spaces, none wider than HEADER_WIDTH. */
static void comment_wrapped(FILE *out, const char *text)
{
    char plain[1024] = "";
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < sizeof(plain); p++)
        if (*p != '`')
            plain[n++] = *p;
    plain[n] = '\0';
    const size_t width = HEADER_WIDTH - strlen(" *     ");
    const char *p = plain;
    while (*p) {
        /* widths count bytes: the table's few non-ASCII characters (dashes) only
         * make a line look shorter than it is */
        size_t len = strlen(p), cut = len;
        if (len > width) {
            cut = width;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = width;
        }
        fprintf(out, " *     %.*s\n", (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

static void comment(FILE *out)
{
    char dflt[128], acc[256], line[512];
    for (size_t i = 0; i < FC__S_N; i++) {
        const fc__setting *s = &fc__settings[i];
        fmt_default(s, false, dflt, sizeof(dflt));
        fc__setting_accepted(s, false, acc, sizeof(acc));
        fprintf(out, " * %s (%s)\n", s->env, setter_of(s) ? s->setter : "no setter");
        snprintf(line, sizeof(line), "%s, default %s; accepted: %s",
                 fc__setting_kind_name(s->kind), dflt, acc);
        comment_wrapped(out, line);
        comment_wrapped(out, s->meaning);
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                goto fail;
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f))
        goto fail;
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* The file's text with the lines between the markers regenerated, in
 * *out (malloc'ed): 0, or -1 with a message. */
static int regenerate(const char *path, const char *text, char **out, size_t *out_len)
{
    const char *begin = strstr(text, "settings:begin");
    const char *end = begin ? strstr(begin, "settings:end") : NULL;
    if (!begin || !end) {
        fprintf(stderr, "%s: no settings:begin ... settings:end markers\n", path);
        return -1;
    }
    const char *after_begin = strchr(begin, '\n');
    const char *end_line = end;
    while (end_line > text && end_line[-1] != '\n')
        end_line--;
    if (!after_begin || after_begin >= end_line) {
        fprintf(stderr, "%s: settings:end on the line of settings:begin\n", path);
        return -1;
    }
    after_begin++;
    size_t len = strlen(path);
    bool md = len >= 3 && !strcmp(path + len - 3, ".md");
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return -1;
    fwrite(text, 1, (size_t)(after_begin - text), f);
    if (md)
        markdown(f);
    else
        comment(f);
    fputs(end_line, f);
    if (fclose(f) != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

static int one_file(const char *path, bool write)
{
    size_t len = 0, new_len = 0;
    char *text = slurp(path, &len), *fresh = NULL;
    int rc = 1;
    if (!text) {
        perror(path);
        return 1;
    }
    if (regenerate(path, text, &fresh, &new_len) != 0)
        goto out;
    if (new_len == len && !memcmp(text, fresh, len)) {
        rc = 0;
        goto out;
    }
    if (!write) {
        fprintf(stderr, "%s: the settings table is not what libflaskc/settings.h says; "
                        "run `make settings-docs`\n", path);
        goto out;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(fresh, 1, new_len, f) != new_len) {
        perror(path);
        if (f)
            fclose(f);
        goto out;
    }
    rc = fclose(f) != 0;
    if (!rc)
        fprintf(stderr, "%s: settings table rewritten\n", path);
out:
    free(text);
    free(fresh);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--names")) {
        for (size_t i = 0; i < FC__S_N; i++)
            printf("%s\n", fc__settings[i].env);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--setters")) {
        for (size_t i = 0; i < FC__S_N; i++)
            if (setter_of(&fc__settings[i]))
                printf("%s\n", fc__settings[i].setter);
        return 0;
    }
    if (argc < 3 || (strcmp(argv[1], "--write") != 0 && strcmp(argv[1], "--check") != 0)) {
        fprintf(stderr, "usage: %s --write|--check FILE... | --names | --setters\n", argv[0]);
        return 2;
    }
    int rc = 0;
    for (int i = 2; i < argc; i++)
        rc |= one_file(argv[i], !strcmp(argv[1], "--write"));
    return rc;
}
