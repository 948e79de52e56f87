/* app.c — the app's life cycle: creation, blueprint registration compiled
 * into the router, hooks, freeze at start, run/stop, url_for. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

bool fc__blueprint_has_routes(const fc_blueprint *bp);
fc_blueprint *fc__app_routes_peek(void);

fc_app *fc_app_new(const char *name)
{
    fc_app *app = calloc(1, sizeof(*app));
    if (!app)
        return NULL;
    app->name = strdup(name && *name ? name : "app");
    app->router = fc__router_new();
    /* a bad FLASKC_* value is logged and kept in cfg.env_err: the app is
     * made (its setters and routes may still be called) but will not start */
    if (!app->name || !app->router || fc__config_defaults(&app->cfg) != 0 ||
        fc__config_from_env(&app->cfg) == FC_ENOMEM) {
        fc__config_free(&app->cfg);
        fc__router_free(app->router);
        free(app->name);
        free(app);
        return NULL;
    }
    pthread_mutex_init(&app->start_mu, NULL);
    pthread_mutex_init(&app->deferred_mu, NULL);
    fc__list_init(&app->deferred);
    atomic_init(&app->frozen, false);
    atomic_init(&app->stop_requested, 0);
    atomic_init(&app->active, 0);
    atomic_init(&app->next_loop, 0);
    return app;
}

static void unregister_tree(fc_blueprint *bp)
{
    if (bp->registered)
        bp->registered--;
    for (size_t i = 0; i < bp->children.n; i++)
        unregister_tree(bp->children.v[i]);
}

void fc_app_free(fc_app *app)
{
    if (!app)
        return;
    if (app->server)
        fc__server_stop(app);
    fc__server_stop_test(app);
    if (app->pg)
        fc__pg_stop(app);
    if (app->pool)
        fc__pool_free(app->pool);
    fc__app_loops_free(app);
    for (size_t i = 0; i < app->routes.n; i++) {
        fc__approute *r = app->routes.v[i];
        free(r->endpoint);
        free(r->bpname);
        free(r);
    }
    for (size_t i = 0; i < app->bps.n; i++)
        unregister_tree(app->bps.v[i]);
    free(app->bps.v);
    free(app->routes.v);
    free(app->before.v);
    free(app->after.v);
    free(app->teardown.v);
    free(app->errh.v);
    fc__router_free(app->router);
    fc__config_free(&app->cfg);
    pthread_mutex_destroy(&app->start_mu);
    pthread_mutex_destroy(&app->deferred_mu);
    free(app->name);
    free(app);
}

static char *join_prefix(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == '/')
        la--;
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    s[la + lb] = '\0';
    if (!s[0]) {
        s[0] = '/';
        s[1] = '\0';
    }
    return s;
}

static char *join_name(const char *a, const char *b)
{
    if (!*a)
        return strdup(b);
    if (!*b)
        return strdup(a);
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    s[la] = '.';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

struct walk {
    fc_app *app;
    fc_blueprint *chain[FC__MAX_NEST];
    unsigned nchain;
    size_t first_route; /* to roll back on failure */
};

static int compile_bp(struct walk *w, fc_blueprint *bp, const char *prefix, const char *name)
{
    int rc = 0;
    char *full = NULL, *bpname = NULL;
    if (w->nchain >= FC__MAX_NEST)
        return FC_EINVAL;
    if (bp->saved_err) {
        fc_log(FC_LOG_ERROR, "blueprint %s: %s", bp->name, bp->saved_msg);
        return bp->saved_err;
    }
    full = join_prefix(prefix, bp->prefix);
    bpname = join_name(name, bp->name);
    if (!full || !bpname) {
        rc = FC_ENOMEM;
        goto out;
    }
    if (!strcmp(full, "/"))
        full[0] = '\0';
    w->chain[w->nchain++] = bp;
    for (size_t i = 0; i < bp->routes.n; i++) {
        const fc__bproute *br = &bp->routes.v[i];
        fc__approute *r = calloc(1, sizeof(*r));
        if (!r) {
            rc = FC_ENOMEM;
            goto pop;
        }
        r->fn = br->fn;
        r->flags = br->flags;
        r->endpoint = join_name(bpname, br->endpoint);
        r->bpname = strdup(bpname);
        memcpy(r->chain, w->chain, sizeof(r->chain));
        r->nchain = w->nchain;
        char *rule = join_prefix(full, br->rule);
        if (!r->endpoint || !r->bpname || !rule || FC__VEC_PUSH(w->app->routes, r)) {
            free(rule);
            free(r->endpoint);
            free(r->bpname);
            free(r);
            rc = FC_ENOMEM;
            goto pop;
        }
        unsigned flags = 0;
        if (br->flags & FC_NO_STRICT_SLASHES)
            flags |= FC__RULE_NO_STRICT_SLASHES;
        if (br->flags & FC_NO_AUTO_OPTIONS)
            flags |= FC__RULE_NO_AUTO_OPTIONS;
        char err[160] = "";
        rc = fc__router_add(w->app->router, rule, br->methods, r->endpoint, r, flags, err,
                            sizeof(err));
        if (rc) {
            fc_log(FC_LOG_ERROR, "rule %s (%s): %s%s%s", rule, r->endpoint, fc_strerror(rc),
                   *err ? ": " : "", err);
            free(rule);
            goto pop;
        }
        free(rule);
    }
    for (size_t i = 0; i < bp->children.n; i++) {
        rc = compile_bp(w, bp->children.v[i], full, bpname);
        if (rc)
            goto pop;
    }
pop:
    w->nchain--;
out:
    free(full);
    free(bpname);
    return rc;
}

static void mark_registered(fc_blueprint *bp)
{
    bp->registered++;
    for (size_t i = 0; i < bp->children.n; i++)
        mark_registered(bp->children.v[i]);
}

int fc_app_register_at(fc_app *app, fc_blueprint *bp, const char *url_prefix)
{
    if (!app || !bp)
        return FC_EINVAL;
    if (atomic_load(&app->frozen))
        return FC_EBUSY;
    /* the router keeps what was added before a failure; a failed
     * registration is a programming error the app should not run with */
    const char *saved = bp->prefix;
    char *tmp = NULL;
    if (url_prefix) {
        if (*url_prefix && *url_prefix != '/')
            return FC_EINVAL;
        tmp = strdup(url_prefix);
        if (!tmp)
            return FC_ENOMEM;
        bp->prefix = tmp;
    }
    struct walk w = {.app = app};
    int rc = compile_bp(&w, bp, "", "");
    if (url_prefix) {
        bp->prefix = (char *)saved;
        free(tmp);
    }
    if (rc == 0) {
        rc = FC__VEC_PUSH(app->bps, bp);
        if (rc == 0)
            mark_registered(bp);
    }
    return rc;
}

int fc_app_register(fc_app *app, fc_blueprint *bp)
{
    return fc_app_register_at(app, bp, NULL);
}

#define APP_HOOK(fname, vec, type)                                             \
    int fname(fc_app *app, type fn)                                            \
    {                                                                          \
        if (!app || !fn)                                                       \
            return FC_EINVAL;                                                  \
        if (atomic_load(&app->frozen))                                         \
            return FC_EBUSY;                                                   \
        return FC__VEC_PUSH(app->vec, fn);                                     \
    }
APP_HOOK(fc_app_before, before, fc_before_fn)
APP_HOOK(fc_app_after, after, fc_after_fn)
APP_HOOK(fc_app_teardown, teardown, fc_teardown_fn)

int fc_app_errorhandler(fc_app *app, int status, fc_error_fn fn)
{
    if (!app || !fn || (status != 0 && (status < 400 || status > 599)))
        return FC_EINVAL;
    if (atomic_load(&app->frozen))
        return FC_EBUSY;
    fc__errh h = {status, fn};
    return FC__VEC_PUSH(app->errh, h);
}

int fc__app_freeze(fc_app *app)
{
    int rc = 0;
    if (atomic_load_explicit(&app->frozen, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&app->start_mu);
    if (atomic_load(&app->frozen))
        goto out;
    if (app->cfg.env_err) {
        fc_log(FC_LOG_ERROR, "%s: not starting: %s", app->name, app->cfg.env_msg);
        rc = app->cfg.env_err;
        goto out;
    }
    fc_blueprint *ar = fc__app_routes_peek();
    if (fc__blueprint_has_routes(ar)) {
        rc = fc_app_register(app, ar);
        if (rc)
            goto out;
    }
    app->pool = fc__pool_new(app->cfg.workers, app->cfg.max_connections + 1024);
    app->nloops = app->cfg.threads ? app->cfg.threads : 1;
    app->loops = calloc(app->nloops, sizeof(*app->loops));
    if (!app->loops || !app->pool) {
        rc = FC_ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < app->nloops; i++) {
        if (!(app->loops[i] = fc__loop_new())) {
            rc = FC_ENOMEM;
            goto fail;
        }
        fc__loop_set_index(app->loops[i], i);
    }
    if (app->cfg.database_url) {
        /* the database pool's idle hooks go in before the threads run */
        rc = fc__pg_start(app);
        if (rc)
            goto fail;
    }
    for (unsigned i = 0; i < app->nloops; i++)
        if ((rc = fc__loop_start(app->loops[i])) != 0)
            goto fail;
    if (app->pg)
        fc__pg_wait_first(app);
    atomic_store_explicit(&app->frozen, true, memory_order_release);
    goto out;
fail:
    if (app->pg)
        fc__pg_stop(app);
    if (app->pool)
        fc__pool_free(app->pool);
    app->pool = NULL;
    fc__app_loops_free(app);
out:
    pthread_mutex_unlock(&app->start_mu);
    return rc;
}

void fc__app_loops_free(fc_app *app)
{
    for (unsigned i = 0; app->loops && i < app->nloops; i++)
        fc__loop_free(app->loops[i]);
    free(app->loops);
    app->loops = NULL;
    app->nloops = 0;
}

int fc_app_start(fc_app *app)
{
    if (!app)
        return FC_EINVAL;
    if (app->server)
        return FC_EBUSY;
    int rc = fc__app_freeze(app);
    if (rc)
        return rc;
    return fc__server_start(app);
}

int fc_app_run(fc_app *app)
{
    if (!app)
        return FC_EINVAL;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* block before any thread starts so every library thread inherits it and
     * the signals reach sigwait below */
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    app->run_thread = pthread_self();
    app->running_in_run = true;
    int rc = fc_app_start(app);
    if (rc) {
        app->running_in_run = false;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    fc_log(FC_LOG_INFO, "%s: running on http://%s:%d/ (%u threads, %u workers)", app->name,
           app->cfg.host, fc_app_port(app), app->cfg.threads, app->cfg.workers);
    while (!atomic_load(&app->stop_requested)) {
        int sig = 0;
        if (sigwait(&set, &sig) == 0 && (sig == SIGINT || sig == SIGTERM))
            break;
    }
    fc_log(FC_LOG_INFO, "%s: stopping: finishing requests in flight", app->name);
    fc__server_stop(app);
    app->running_in_run = false;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    fc_log(FC_LOG_INFO, "%s: stopped", app->name);
    return 0;
}

void fc_app_stop(fc_app *app)
{
    if (!app)
        return;
    atomic_store(&app->stop_requested, 1);
    if (app->running_in_run)
        /* not a kill: fc_app_run sigwait()s for it */
        pthread_kill(app->run_thread, SIGTERM); /* NOLINT(bugprone-bad-signal-to-kill-thread) */
}

int fc_app_port(const fc_app *app)
{
    return app && app->server ? fc__server_port(app) : 0;
}

int fc_url_for(const fc_app *app, const char *endpoint, const char *const *kv, char **out)
{
    if (!app || !endpoint || !out)
        return FC_EINVAL;
    return fc__router_build(app->router, endpoint, kv, out);
}
