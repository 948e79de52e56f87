/* blueprint.c — blueprints: name, url_prefix, nesting, routes, hooks and
 * error handlers as declared; the app compiles them into its router. */
#include "internal.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

static bool name_ok(const char *name)
{
    /* endpoint names are dotted paths: a blueprint name may not hold a dot */
    for (const char *p = name; *p; p++)
        if (*p == '.' || *p == ' ' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

static bool prefix_ok(const char *p)
{
    return !*p || (*p == '/' && fc__header_value_ok(p));
}

fc_blueprint *fc_blueprint_new(const char *name, const char *url_prefix)
{
    if (!name || !name_ok(name))
        return NULL;
    if (!url_prefix)
        url_prefix = "";
    if (!prefix_ok(url_prefix))
        return NULL;
    fc_blueprint *bp = calloc(1, sizeof(*bp));
    if (!bp)
        return NULL;
    bp->name = strdup(name);
    bp->prefix = strdup(url_prefix);
    if (!bp->name || !bp->prefix) {
        fc_blueprint_free(bp);
        return NULL;
    }
    return bp;
}

void fc_blueprint_free(fc_blueprint *bp)
{
    if (!bp)
        return;
    for (size_t i = 0; i < bp->routes.n; i++) {
        free(bp->routes.v[i].rule);
        free(bp->routes.v[i].endpoint);
    }
    free(bp->routes.v);
    free(bp->children.v);
    free(bp->before.v);
    free(bp->after.v);
    free(bp->teardown.v);
    free(bp->errh.v);
    free(bp->name);
    free(bp->prefix);
    free(bp);
}

int fc_route(fc_blueprint *bp, const char *methods, const char *rule, fc_handler fn,
             const char *endpoint, unsigned flags)
{
    if (!bp || !methods || !rule || !fn || *rule != '/' ||
        (flags & ~(FC_BLOCKING | FC_NO_STRICT_SLASHES | FC_NO_AUTO_OPTIONS)))
        return FC_EINVAL;
    if (bp->registered)
        return FC_EBUSY;
    unsigned mask;
    int rc = fc__methods_parse(methods, &mask);
    if (rc)
        return rc;
    if (!endpoint)
        endpoint = rule;
    if (!*endpoint || strchr(endpoint, '.'))
        return FC_EINVAL;
    for (size_t i = 0; i < bp->routes.n; i++) {
        if (!strcmp(bp->routes.v[i].endpoint, endpoint) && bp->routes.v[i].fn != fn)
            return FC_EEXIST; /* Flask: "View function mapping is overwriting an existing endpoint" */
        if (!strcmp(bp->routes.v[i].rule, rule) && (bp->routes.v[i].methods & mask))
            return FC_EEXIST;
    }
    fc__bproute r = {.methods = mask, .fn = fn, .flags = flags};
    r.rule = strdup(rule);
    r.endpoint = strdup(endpoint);
    if (!r.rule || !r.endpoint || FC__VEC_PUSH(bp->routes, r)) {
        free(r.rule);
        free(r.endpoint);
        return FC_ENOMEM;
    }
    /* cppcheck-suppress memleak ; the vector owns r.rule and r.endpoint now */
    return 0;
}

void fc_route_decl(fc_blueprint *bp, const char *methods, const char *rule, fc_handler fn,
                   const char *endpoint, unsigned flags)
{
    if (!bp) {
        fc_log(FC_LOG_ERROR, "route %s %s (%s): blueprint not created (bad name or prefix, or out of memory)",
               methods, rule, endpoint);
        return;
    }
    int rc = fc_route(bp, methods, rule, fn, endpoint, flags);
    if (rc) {
        fc_log(FC_LOG_ERROR, "route %s %s (%s) rejected: %s", methods, rule, endpoint,
               fc_strerror(rc));
        if (!bp->saved_err) {
            bp->saved_err = rc;
            snprintf(bp->saved_msg, sizeof(bp->saved_msg), "%s %s (%s): %s", methods, rule,
                     endpoint, fc_strerror(rc));
        }
    }
}

int fc_blueprint_register(fc_blueprint *parent, fc_blueprint *child)
{
    if (!parent || !child || parent == child)
        return FC_EINVAL;
    if (parent->registered)
        return FC_EBUSY;
    for (size_t i = 0; i < parent->children.n; i++)
        if (parent->children.v[i] == child || !strcmp(parent->children.v[i]->name, child->name))
            return FC_EEXIST;
    return FC__VEC_PUSH(parent->children, child);
}

#define BP_HOOK(fname, vec, type)                                              \
    int fname(fc_blueprint *bp, type fn)                                       \
    {                                                                          \
        if (!bp || !fn)                                                        \
            return FC_EINVAL;                                                  \
        if (bp->registered)                                                    \
            return FC_EBUSY;                                                   \
        return FC__VEC_PUSH(bp->vec, fn);                                      \
    }
BP_HOOK(fc_blueprint_before, before, fc_before_fn)
BP_HOOK(fc_blueprint_after, after, fc_after_fn)
BP_HOOK(fc_blueprint_teardown, teardown, fc_teardown_fn)

int fc_blueprint_errorhandler(fc_blueprint *bp, int status, fc_error_fn fn)
{
    if (!bp || !fn || (status != 0 && (status < 400 || status > 599)))
        return FC_EINVAL;
    if (bp->registered)
        return FC_EBUSY;
    fc__errh h = {status, fn};
    return FC__VEC_PUSH(bp->errh, h);
}

/* The process-wide blueprint of FC_APP_ROUTE routes: created on first use
 * (constructors run in link order), freed at exit. */
static fc_blueprint *app_routes_bp;

fc_blueprint *fc_app_routes(void)
{
    if (!app_routes_bp)
        app_routes_bp = fc_blueprint_new("", "");
    return app_routes_bp;
}

__attribute__((destructor(101))) static void app_routes_free(void)
{
    fc_blueprint_free(app_routes_bp);
    app_routes_bp = NULL;
}

bool fc__blueprint_has_routes(const fc_blueprint *bp);
bool fc__blueprint_has_routes(const fc_blueprint *bp)
{
    if (!bp)
        return false;
    if (bp->routes.n)
        return true;
    for (size_t i = 0; i < bp->children.n; i++)
        if (fc__blueprint_has_routes(bp->children.v[i]))
            return true;
    return false;
}

fc_blueprint *fc__app_routes_peek(void);
fc_blueprint *fc__app_routes_peek(void)
{
    return app_routes_bp;
}
