/* pg_dns.c — the database hosts' addresses, looked up off the polling
 * threads. libpq resolves a host name inside PQconnectPoll, synchronously:
 * on a polling thread a slow or failing DNS would stall every connection of
 * that thread (HTTP included) for seconds at each connect and reconnect. So
 * when the URL names hosts (not numeric addresses, not socket directories,
 * and gives no hostaddr), each connect attempt first looks them up on a
 * short-lived thread of its own, and libpq gets the host list (kept for
 * TLS and .pgpass), a hostaddr list and a port list, one entry per address
 * found, tried in order as libpq tries hosts. */
#include "pg_int.h"

#include <stdio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PG_DNS_MAX_ADDRS 8 /* addresses tried per host name */

struct fc__pg_hosts {
    size_t n;
    char **host;  /* the host list's entries */
    char **port;  /* each entry's port */
    bool *lookup; /* a name to look up (else a socket directory, a number, or empty) */
};

void fc__pg_hosts_free(fc__pg_hosts *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->host[i]);
        free(h->port[i]);
    }
    free(h->host);
    free(h->port);
    free(h->lookup);
    free(h);
}

/* Split a comma-separated list; NULL on out of memory. */
static char **split(const char *s, size_t *n)
{
    size_t k = 1;
    for (const char *p = s; *p; p++)
        k += *p == ',';
    char **v = calloc(k, sizeof(char *));
    if (!v)
        return NULL;
    *n = 0;
    for (const char *p = s;; p++) {
        size_t l = strcspn(p, ",");
        if (!(v[(*n)++] = strndup(p, l)))
            goto oom;
        p += l;
        if (!*p)
            break;
    }
    return v;
oom:
    for (size_t i = 0; i < *n; i++)
        free(v[i]);
    free(v);
    return NULL;
}

static bool needs_lookup(const char *h)
{
    unsigned char a[sizeof(struct in6_addr)];
    return *h && *h != '/' && *h != '@' && inet_pton(AF_INET, h, a) != 1 && inet_pton(AF_INET6, h, a) != 1;
}

static const char *opt(const PQconninfoOption *o, const char *key)
{
    for (; o && o->keyword; o++)
        if (!strcmp(o->keyword, key))
            return o->val && *o->val ? o->val : NULL;
    return NULL;
}

int fc__pg_hosts_new(const char *url, fc__pg_hosts **out)
{
    *out = NULL;
    PQconninfoOption *o = NULL;
    if (strchr(url, '=') || !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
        o = PQconninfoParse(url, NULL);
        if (!o)
            return 0; /* checked at start: libpq reports it */
    }
    /* what libpq would use: the URL's value, else the environment's */
    const char *host = opt(o, "host") ? opt(o, "host") : getenv("PGHOST");
    const char *port = opt(o, "port") ? opt(o, "port") : getenv("PGPORT");
    const char *env_addr = getenv("PGHOSTADDR"), *env_service = getenv("PGSERVICE");
    /* a service file ranks above the environment in libpq: leave it to libpq */
    bool given = opt(o, "hostaddr") || (env_addr && *env_addr) || opt(o, "service") || (env_service && *env_service);
    int rc = 0;
    fc__pg_hosts *h = NULL;
    char **ports = NULL;
    size_t np = 0;
    if (given || !host || !*host)
        goto out;
    h = calloc(1, sizeof(*h));
    if (!h || !(h->host = split(host, &h->n)) || !(ports = split(port && *port ? port : "5432", &np)) ||
        !(h->port = calloc(h->n, sizeof(char *))) || !(h->lookup = calloc(h->n, sizeof(bool)))) {
        rc = FC_ENOMEM;
        goto out;
    }
    bool any = false;
    for (size_t i = 0; i < h->n; i++) {
        if (np != 1 && np != h->n)
            goto out; /* libpq reports the mismatch */
        if (!(h->port[i] = strdup(ports[np == 1 ? 0 : i]))) {
            rc = FC_ENOMEM;
            goto out;
        }
        h->lookup[i] = needs_lookup(h->host[i]);
        any |= h->lookup[i];
    }
    if (any) {
        *out = h;
        h = NULL;
    }
out:
    for (size_t i = 0; ports && i < np; i++)
        free(ports[i]);
    free(ports);
    fc__pg_hosts_free(h);
    PQconninfoFree(o);
    return rc;
}

/* ---- one lookup ----
 * Who frees it: the thread, when it finds the lookup abandoned; else the
 * posted completion on the loop thread; else (the post was refused: the loop
 * is stopping) the abandon that must come. The post needs no memory. */
struct fc__pg_lookup {
    fc__post post;
    pthread_mutex_t mu;
    bool abandoned, finished, posted;
    fc__loop *loop;
    fc__pg_lookup_cb cb;
    void *ud;
    fc__pg_hosts *h; /* a copy: the thread may outlive the pool */
    fc__buf hosts, addrs, ports;
    char err[256];
};

static void lookup_free(fc__pg_lookup *lk)
{
    pthread_mutex_destroy(&lk->mu);
    fc__pg_hosts_free(lk->h);
    fc__buf_free(&lk->hosts);
    fc__buf_free(&lk->addrs);
    fc__buf_free(&lk->ports);
    free(lk);
}

static int add_entry(fc__pg_lookup *lk, const char *host, const char *addr, const char *port)
{
    const char *sep = lk->hosts.len ? "," : "";
    return fc__buf_printf(&lk->hosts, "%s%s", sep, host) || fc__buf_printf(&lk->addrs, "%s%s", sep, addr) ||
                   fc__buf_printf(&lk->ports, "%s%s", sep, port)
               ? FC_ENOMEM
               : 0;
}

static void resolve(fc__pg_lookup *lk)
{
    const fc__pg_hosts *h = lk->h;
    for (size_t i = 0; i < h->n; i++) {
        if (!h->lookup[i]) {
            if (add_entry(lk, h->host[i], "", h->port[i]))
                goto oom;
            continue;
        }
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_ADDRCONFIG;
        int gai = getaddrinfo(h->host[i], h->port[i], &hints, &res);
        if (gai != 0) {
            snprintf(lk->err, sizeof(lk->err), "could not translate host name \"%s\" to address: %s",
                     h->host[i], gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
            continue; /* libpq goes on with the next host: so do we */
        }
        int k = 0;
        for (struct addrinfo *ai = res; ai && k < PG_DNS_MAX_ADDRS; ai = ai->ai_next) {
            char a[INET6_ADDRSTRLEN];
            if (getnameinfo(ai->ai_addr, ai->ai_addrlen, a, sizeof(a), NULL, 0, NI_NUMERICHOST) != 0)
                continue;
            if (add_entry(lk, h->host[i], a, h->port[i])) {
                freeaddrinfo(res);
                goto oom;
            }
            k++;
        }
        freeaddrinfo(res);
    }
    if (lk->hosts.len)
        lk->err[0] = '\0'; /* something to try: libpq reports what fails there */
    else if (!lk->err[0])
        snprintf(lk->err, sizeof(lk->err), "no address for the database host");
    return;
oom:
    snprintf(lk->err, sizeof(lk->err), "out of memory looking up the database host");
}

static void lookup_done(void *ud)
{
    fc__pg_lookup *lk = ud;
    pthread_mutex_lock(&lk->mu);
    bool abandoned = lk->abandoned;
    pthread_mutex_unlock(&lk->mu);
    if (!abandoned)
        lk->cb(lk->ud, fc__buf_cstr(&lk->hosts), fc__buf_cstr(&lk->addrs), fc__buf_cstr(&lk->ports),
               lk->err[0] ? lk->err : NULL);
    lookup_free(lk);
}

static void *lookup_thread(void *p)
{
    fc__pg_lookup *lk = p;
    resolve(lk);
    pthread_mutex_lock(&lk->mu);
    bool abandoned = lk->abandoned;
    if (!abandoned) {
        lk->finished = true;
        lk->posted = fc__loop_post_node(lk->loop, &lk->post, lookup_done, lk) == 0;
    }
    pthread_mutex_unlock(&lk->mu);
    if (abandoned)
        lookup_free(lk);
    return NULL;
}

static fc__pg_hosts *hosts_copy(const fc__pg_hosts *h)
{
    fc__pg_hosts *c = calloc(1, sizeof(*c));
    if (!c || !(c->host = calloc(h->n, sizeof(char *))) || !(c->port = calloc(h->n, sizeof(char *))) ||
        !(c->lookup = calloc(h->n, sizeof(bool)))) {
        fc__pg_hosts_free(c);
        return NULL;
    }
    c->n = h->n;
    for (size_t i = 0; i < h->n; i++) {
        c->lookup[i] = h->lookup[i];
        if (!(c->host[i] = strdup(h->host[i])) || !(c->port[i] = strdup(h->port[i]))) {
            fc__pg_hosts_free(c);
            return NULL;
        }
    }
    return c;
}

fc__pg_lookup *fc__pg_lookup_start(const fc__pg_hosts *h, fc__loop *loop, fc__pg_lookup_cb cb, void *ud)
{
    fc__pg_lookup *lk = calloc(1, sizeof(*lk));
    if (!lk)
        return NULL;
    pthread_mutex_init(&lk->mu, NULL);
    lk->loop = loop;
    lk->cb = cb;
    lk->ud = ud;
    pthread_attr_t at;
    pthread_t th;
    bool ok = (lk->h = hosts_copy(h)) != NULL && pthread_attr_init(&at) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&th, &at, lookup_thread, lk) == 0;
        pthread_attr_destroy(&at);
    }
    if (!ok) {
        lookup_free(lk);
        return NULL;
    }
    return lk;
}

void fc__pg_lookup_abandon(fc__pg_lookup *lk)
{
    pthread_mutex_lock(&lk->mu);
    lk->abandoned = true;
    bool orphan = lk->finished && !lk->posted;
    pthread_mutex_unlock(&lk->mu);
    if (orphan)
        lookup_free(lk);
}
