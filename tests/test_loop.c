/* test_loop.c — tests of libflaskc/loop.c (posts, timers, cancel, fd watches,
 * stop and free) and libflaskc/pool.c (jobs, bounded queue, parallelism, drain). */
#include "internal.h"
#include "tap.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Wait until *v >= want or timeout_ms passes; true when reached. */
static bool wait_atleast(atomic_int *v, int want, unsigned timeout_ms)
{
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (atomic_load(v) < want) {
        if (now_ns() > end)
            return false;
        sleep_ms(1);
    }
    return true;
}

static void sync_cb(void *ud)
{
    atomic_fetch_add((atomic_int *)ud, 1);
}

/* One round trip through the loop: every event batch and post that started
 * before this call has finished when it returns true. */
static bool loop_sync(fc__loop *l)
{
    atomic_int done = 0;
    if (fc__loop_post(l, sync_cb, &done) != 0)
        return false;
    return wait_atleast(&done, 1, 5000);
}

/* ---- posts: FIFO per poster, on the loop thread ---- */

#define POSTERS 4
#define POSTS_EACH 5000

static int post_last[POSTERS];
static int post_order_errors;
static int post_not_current;
static atomic_int posts_done;
static fc__loop *test_loop_ptr;

static void post_cb(void *ud)
{
    uintptr_t v = (uintptr_t)ud;
    int who = (int)(v >> 20), seq = (int)(v & 0xfffff);
    if (!fc__loop_is_current(test_loop_ptr))
        post_not_current++;
    if (seq != post_last[who] + 1)
        post_order_errors++;
    post_last[who] = seq;
    atomic_fetch_add(&posts_done, 1);
}

struct poster {
    fc__loop *l;
    int who;
    int failures;
};

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    for (int i = 0; i < POSTS_EACH; i++)
        if (fc__loop_post(p->l, post_cb, (void *)(((uintptr_t)p->who << 20) | (uintptr_t)i)) != 0)
            p->failures++;
    return NULL;
}

static void test_posts(fc__loop *l)
{
    pthread_t th[POSTERS];
    struct poster ps[POSTERS];
    int failures = 0;
    test_loop_ptr = l;
    for (int i = 0; i < POSTERS; i++) {
        post_last[i] = -1;
        ps[i] = (struct poster){l, i, 0};
    }
    for (int i = 0; i < POSTERS; i++)
        CHECK(pthread_create(&th[i], NULL, poster_main, &ps[i]) == 0);
    for (int i = 0; i < POSTERS; i++) {
        pthread_join(th[i], NULL);
        failures += ps[i].failures;
    }
    CHECK_INT(failures, 0);
    CHECK(wait_atleast(&posts_done, POSTERS * POSTS_EACH, 5000));
    CHECK_INT(atomic_load(&posts_done), POSTERS * POSTS_EACH);
    CHECK_INT(post_order_errors, 0);
    CHECK_INT(post_not_current, 0);
    for (int i = 0; i < POSTERS; i++)
        CHECK_INT(post_last[i], POSTS_EACH - 1);
    CHECK(!fc__loop_is_current(l));
    CHECK_INT(fc__loop_post(l, NULL, NULL), FC_EINVAL);
    /* an embedded node (no allocation), reposted once its callback ran */
    fc__post node;
    memset(&node, 0xa5, sizeof(node)); /* whatever the caller's memory held */
    for (int i = 0; i < 3; i++) {
        atomic_int done = 0;
        CHECK_INT(fc__loop_post_node(l, &node, sync_cb, &done), 0);
        CHECK(wait_atleast(&done, 1, 2000));
    }
    CHECK_INT(fc__loop_post_node(l, NULL, sync_cb, NULL), FC_EINVAL);
}

/* ---- timers: deadline order, never early ---- */

struct trec {
    uint64_t ms;
    uint64_t start_ns;
    uint64_t fired_ns;
    int runs;
    int order; /* position in the firing sequence */
};

static int torder_next;
static atomic_int tfired;

static void trec_cb(void *ud)
{
    struct trec *r = ud;
    r->fired_ns = now_ns();
    r->runs++;
    r->order = torder_next++;
    atomic_fetch_add(&tfired, 1);
}

static void test_timer_order(fc__loop *l)
{
    static const uint64_t ms[] = {50, 10, 40, 0, 30, 20, 5, 25};
    enum { N = sizeof(ms) / sizeof(ms[0]) };
    struct trec r[N];
    int by_order[N];
    torder_next = 0;
    atomic_store(&tfired, 0);
    for (int i = 0; i < N; i++) {
        r[i] = (struct trec){.ms = ms[i], .start_ns = now_ns(), .order = -1};
        CHECK(fc__loop_timer(l, ms[i], trec_cb, &r[i]) != NULL);
    }
    CHECK(wait_atleast(&tfired, N, 5000));
    CHECK(loop_sync(l)); /* a duplicate firing would show now */
    for (int i = 0; i < N; i++)
        by_order[i] = -1;
    for (int i = 0; i < N; i++) {
        CHECK_INT(r[i].runs, 1);
        CHECK(r[i].fired_ns - r[i].start_ns >= r[i].ms * 1000000u);
        if (r[i].order >= 0 && r[i].order < N)
            by_order[r[i].order] = i;
    }
    for (int k = 1; k < N; k++) {
        CHECK(by_order[k - 1] >= 0 && by_order[k] >= 0);
        if (by_order[k - 1] >= 0 && by_order[k] >= 0)
            CHECK(ms[by_order[k - 1]] < ms[by_order[k]]);
    }
    CHECK(fc__loop_timer(l, 1, NULL, NULL) == NULL);
}

/* ---- 10,000 timers of 1-200 ms ---- */

#define MANY 10000

static struct trec many[MANY];
static int many_early;

static void many_cb(void *ud)
{
    struct trec *r = ud;
    if (now_ns() - r->start_ns < r->ms * 1000000u)
        many_early++;
    r->runs++;
    atomic_fetch_add(&tfired, 1);
}

static void test_many_timers(fc__loop *l)
{
    unsigned seed = 12345;
    int created = 0, bad = 0;
    uint64_t t0 = now_ns();
    atomic_store(&tfired, 0);
    many_early = 0;
    for (int i = 0; i < MANY; i++) {
        many[i] = (struct trec){.ms = 1 + (uint64_t)(rand_r(&seed) % 200), .start_ns = now_ns()};
        if (fc__loop_timer(l, many[i].ms, many_cb, &many[i]))
            created++;
    }
    CHECK_INT(created, MANY);
    CHECK(wait_atleast(&tfired, MANY, 8000));
    CHECK(loop_sync(l));
    CHECK_INT(atomic_load(&tfired), MANY);
    for (int i = 0; i < MANY; i++)
        if (many[i].runs != 1)
            bad++;
    CHECK_INT(bad, 0);
    CHECK_INT(many_early, 0);
    CHECK(now_ns() - t0 >= 200u * 1000000u || created < MANY); /* the 200 ms one waited */
}

/* ---- cancel: before firing, on the loop thread, racing from threads ---- */

static atomic_int cancel_runs;

static void count_cb(void *ud)
{
    atomic_fetch_add((atomic_int *)ud, 1);
}

struct self_cancel {
    fc__loop *l;
    fc__timer *self;  /* loop thread only */
    fc__timer *other; /* loop thread only */
    int self_rc, other_rc;
    atomic_int self_runs, other_runs;
};

static void other_cb(void *ud)
{
    struct self_cancel *s = ud;
    atomic_fetch_add(&s->other_runs, 1);
}

static void self_cb(void *ud)
{
    struct self_cancel *s = ud;
    s->self_rc = fc__loop_timer_cancel(s->l, s->self);
    s->other_rc = fc__loop_timer_cancel(s->l, s->other);
    atomic_fetch_add(&s->self_runs, 1);
}

static void arm_self_cancel(void *ud)
{
    struct self_cancel *s = ud;
    s->self = fc__loop_timer(s->l, 0, self_cb, s);
    s->other = fc__loop_timer(s->l, 30, other_cb, s);
}

#define RACE_N 2000
#define RACE_SPREAD_MS 20
#define RACE_LAG_NS 1000000u

struct race {
    pthread_mutex_t mu;
    fc__timer *t; /* written before the cancel threads start */
    int fired, runs, canceled, already;
};

static struct race races[RACE_N];
static atomic_int race_runs;
static uint64_t race_start_ns;

static void race_cb(void *ud)
{
    struct race *r = ud;
    if ((r - races) % 8 == 0) {
        /* Widen the window in which cancel sees the timer running. */
        uint64_t until = now_ns() + 30000u;
        while (now_ns() < until)
            ;
    }
    pthread_mutex_lock(&r->mu);
    r->runs++;
    r->fired = 1;
    pthread_mutex_unlock(&r->mu);
    atomic_fetch_add(&race_runs, 1);
}

struct canceller {
    fc__loop *l;
    int k;   /* this thread cancels the timers i with i % 2 == k */
    int bad; /* a return value other than 0 / FC_EALREADY */
};

static void *canceller_main(void *arg)
{
    struct canceller *c = arg;
    for (int i = c->k; i < RACE_N; i += 2) {
        struct race *r = &races[i];
        /* Aim a little after the deadline, where the loop fires it. */
        uint64_t due = race_start_ns + (uint64_t)i * RACE_SPREAD_MS * 1000000u / RACE_N +
                       RACE_LAG_NS;
        while (now_ns() < due)
            ;
        pthread_mutex_lock(&r->mu);
        if (!r->fired) {
            /* The timer cannot have finished its callback: it would need r->mu. */
            int rc = fc__loop_timer_cancel(c->l, r->t);
            if (rc == 0)
                r->canceled = 1;
            else if (rc == FC_EALREADY)
                r->already = 1;
            else
                c->bad++;
        }
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

static void test_cancel(fc__loop *l)
{
    atomic_int sentinel = 0;
    fc__timer *t;
    struct self_cancel s = {.l = l, .self_rc = 99, .other_rc = 99};
    pthread_t th[2];
    struct canceller cs[2] = {{l, 0, 0}, {l, 1, 0}};
    int ok = 0, ran = 0, canceled = 0, already = 0;

    /* Canceled before firing: 0, never runs. */
    atomic_store(&cancel_runs, 0);
    t = fc__loop_timer(l, 20, count_cb, &cancel_runs);
    CHECK(t != NULL);
    CHECK_INT(fc__loop_timer_cancel(l, t), 0);
    CHECK(fc__loop_timer(l, 60, count_cb, &sentinel) != NULL);
    CHECK(wait_atleast(&sentinel, 1, 5000));
    CHECK_INT(atomic_load(&cancel_runs), 0);
    CHECK_INT(fc__loop_timer_cancel(l, NULL), FC_EINVAL);

    /* On the loop thread: a timer cancels itself (FC_EALREADY) and another (0). */
    CHECK_INT(fc__loop_post(l, arm_self_cancel, &s), 0);
    CHECK(wait_atleast(&s.self_runs, 1, 5000));
    sleep_ms(50); /* past the other timer's 30 ms */
    CHECK(loop_sync(l));
    CHECK_INT(s.self_rc, FC_EALREADY);
    CHECK_INT(s.other_rc, 0);
    CHECK_INT(atomic_load(&s.self_runs), 1);
    CHECK_INT(atomic_load(&s.other_runs), 0);

    /* Racing: two threads cancel each timer close to its deadline. */
    atomic_store(&race_runs, 0);
    race_start_ns = now_ns();
    for (int i = 0; i < RACE_N; i++) {
        struct race *r = &races[i];
        pthread_mutex_init(&r->mu, NULL);
        r->fired = r->runs = r->canceled = r->already = 0;
        r->t = fc__loop_timer(l, (uint64_t)i * RACE_SPREAD_MS / RACE_N, race_cb, r);
        CHECK(r->t != NULL);
    }
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, canceller_main, &cs[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < RACE_N; i++)
        canceled += races[i].canceled;
    CHECK(wait_atleast(&race_runs, RACE_N - canceled, 5000));
    sleep_ms(RACE_SPREAD_MS + 10);
    CHECK(loop_sync(l));
    for (int i = 0; i < RACE_N; i++) {
        struct race *r = &races[i];
        pthread_mutex_lock(&r->mu);
        if ((r->canceled && r->runs == 0 && !r->already) ||
            (!r->canceled && r->runs == 1))
            ok++;
        ran += r->runs;
        already += r->already;
        pthread_mutex_unlock(&r->mu);
        pthread_mutex_destroy(&r->mu);
    }
    CHECK_INT(cs[0].bad + cs[1].bad, 0);
    CHECK_INT(ok, RACE_N);
    CHECK_INT(ran + canceled, RACE_N);
    CHECK_INT(atomic_load(&race_runs), ran);
    fprintf(stderr, "# cancel race: %d ran (%d of them while cancel got FC_EALREADY), %d canceled\n",
            ran, already, canceled);
}

/* ---- fd watches ---- */

struct wstate {
    fc__loop *l;
    _Atomic(fc__watch *) w;
    atomic_int calls;
    atomic_int reads;   /* READ events */
    atomic_int writes;  /* WRITE events */
    atomic_int hups;    /* HUP events */
    atomic_uint last;   /* last revents */
    atomic_int calls_after_unwatch;
    atomic_int unwatched;
    int drain;          /* read the data on READ */
    int unwatch_on_hup; /* unwatch from inside the callback on HUP */
    int modify_on_write; /* switch to READ after the first WRITE event */
    int modify_rc;
};

static void watch_cb(int fd, unsigned revents, void *ud)
{
    struct wstate *s = ud;
    if (atomic_load(&s->unwatched))
        atomic_fetch_add(&s->calls_after_unwatch, 1);
    atomic_fetch_add(&s->calls, 1);
    atomic_store(&s->last, revents);
    if (revents & FC__EV_READ) {
        atomic_fetch_add(&s->reads, 1);
        if (s->drain) {
            char buf[64];
            (void)!read(fd, buf, sizeof(buf));
        }
    }
    if (revents & FC__EV_WRITE) {
        atomic_fetch_add(&s->writes, 1);
        if (s->modify_on_write)
            s->modify_rc = fc__loop_watch_modify(s->l, atomic_load(&s->w), FC__EV_READ);
    }
    if (revents & FC__EV_HUP) {
        atomic_fetch_add(&s->hups, 1);
        if (s->unwatch_on_hup) {
            fc__loop_unwatch(s->l, atomic_load(&s->w));
            atomic_store(&s->unwatched, 1);
        }
    }
}

static void test_watch_read_hup(fc__loop *l)
{
    int sv[2];
    int calls;
    struct wstate s = {.l = l, .drain = 1, .unwatch_on_hup = 1};
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    atomic_store(&s.w, fc__loop_watch(l, sv[0], FC__EV_READ | FC__EV_HUP, watch_cb, &s));
    CHECK(atomic_load(&s.w) != NULL);
    CHECK(fc__loop_watch(l, -1, FC__EV_READ, watch_cb, &s) == NULL);
    CHECK(fc__loop_watch(l, sv[0], 0x100u, watch_cb, &s) == NULL);

    CHECK(loop_sync(l));
    CHECK_INT(atomic_load(&s.calls), 0); /* nothing to read yet */
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(wait_atleast(&s.reads, 1, 5000));
    CHECK(loop_sync(l));
    CHECK_INT(atomic_load(&s.reads), 1); /* drained: level-triggered stops */
    CHECK(atomic_load(&s.last) & FC__EV_READ);
    CHECK(!(atomic_load(&s.last) & FC__EV_HUP));
    CHECK_INT(atomic_load(&s.hups), 0);

    close(sv[1]); /* the peer goes away: HUP, and the callback unwatches itself */
    CHECK(wait_atleast(&s.hups, 1, 5000));
    CHECK(loop_sync(l));
    CHECK(loop_sync(l));
    calls = atomic_load(&s.calls);
    CHECK(loop_sync(l));
    CHECK_INT(atomic_load(&s.calls), calls);
    CHECK_INT(atomic_load(&s.hups), 1);
    CHECK_INT(atomic_load(&s.calls_after_unwatch), 0);
    close(sv[0]);
}

static void test_watch_write_modify_unwatch(fc__loop *l)
{
    int sv[2];
    int calls;
    struct wstate s = {.l = l, .drain = 1, .modify_on_write = 1, .modify_rc = 99};
    fc__watch *w;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    /* No interest yet: the callback needs s.w to modify its own watch. */
    w = fc__loop_watch(l, sv[0], 0, watch_cb, &s);
    atomic_store(&s.w, w);
    CHECK(w != NULL);
    CHECK_INT(fc__loop_watch_modify(l, w, 0x100u), FC_EINVAL);
    CHECK(loop_sync(l));
    CHECK_INT(atomic_load(&s.calls), 0);
    CHECK_INT(fc__loop_watch_modify(l, w, FC__EV_WRITE), 0);
    /* A fresh socket is writable at once; the callback then asks for READ. */
    CHECK(wait_atleast(&s.writes, 1, 5000));
    CHECK(loop_sync(l));
    CHECK(loop_sync(l));
    CHECK_INT(atomic_load(&s.writes), 1);
    CHECK_INT(s.modify_rc, 0);
    CHECK(write(sv[1], "ab", 2) == 2);
    CHECK(wait_atleast(&s.reads, 1, 5000));
    CHECK(atomic_load(&s.last) == FC__EV_READ);

    /* Unwatch from this (non-loop) thread: no calls once the loop has gone
     * round, although the fd is readable again. */
    fc__loop_unwatch(l, w);
    atomic_store(&s.unwatched, 1);
    CHECK_INT(fc__loop_watch_modify(l, NULL, FC__EV_READ), FC_EINVAL);
    CHECK(loop_sync(l));
    calls = atomic_load(&s.calls);
    CHECK(write(sv[1], "cd", 2) == 2);
    CHECK(loop_sync(l));
    CHECK(loop_sync(l));
    CHECK_INT(atomic_load(&s.calls), calls);
    CHECK_INT(atomic_load(&s.calls_after_unwatch), 0);
    close(sv[0]);
    close(sv[1]);
}

/* Unwatch from another thread while the callback keeps firing (level-
 * triggered, never drained): no use-after-free, no call after the loop has
 * gone round once. */
static void test_watch_unwatch_race(fc__loop *l)
{
    int late = 0, setup_fail = 0;
    for (int i = 0; i < 100; i++) {
        int sv[2];
        fc__watch *w;
        struct wstate s = {.l = l};
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            setup_fail++;
            continue;
        }
        if (write(sv[1], "z", 1) != 1)
            setup_fail++;
        w = fc__loop_watch(l, sv[0], FC__EV_READ, watch_cb, &s);
        if (!w) {
            setup_fail++;
        } else {
            if (!wait_atleast(&s.calls, 1 + i % 5, 5000))
                setup_fail++;
            fc__loop_unwatch(l, w);
            if (!loop_sync(l))
                setup_fail++;
            int c = atomic_load(&s.calls);
            if (!loop_sync(l) || !loop_sync(l))
                setup_fail++;
            if (atomic_load(&s.calls) != c)
                late++;
        }
        close(sv[0]);
        close(sv[1]);
    }
    CHECK_INT(setup_fail, 0);
    CHECK_INT(late, 0);
}

/* Two watches ready in the same epoll batch; whichever callback runs first
 * unwatches the other, which must then be skipped although its event was
 * already fetched. The loop is held by a gate while both are armed. */
struct pairwatch {
    fc__loop *l;
    fc__watch *w[2]; /* written before the gate opens */
    atomic_int calls[2];
    int first;       /* loop thread only */
};

struct pairarg {
    struct pairwatch *pw;
    int me;
};

static void pair_cb(int fd, unsigned revents, void *ud)
{
    struct pairarg *a = ud;
    struct pairwatch *pw = a->pw;
    atomic_fetch_add(&pw->calls[a->me], 1);
    if (pw->first < 0) {
        pw->first = a->me;
        fc__loop_unwatch(pw->l, pw->w[!a->me]);
        fc__loop_unwatch(pw->l, pw->w[a->me]);
    }
}

struct loopgate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    atomic_int entered;
};

static void loopgate_cb(void *ud)
{
    struct loopgate *g = ud;
    atomic_fetch_add(&g->entered, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void test_watch_same_batch(fc__loop *l)
{
    int a[2], b[2];
    struct pairwatch pw = {.l = l, .first = -1};
    struct pairarg args[2] = {{&pw, 0}, {&pw, 1}};
    struct loopgate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) == 0);
    CHECK(write(a[1], "1", 1) == 1);
    CHECK(write(b[1], "2", 1) == 1);
    CHECK_INT(fc__loop_post(l, loopgate_cb, &g), 0);
    CHECK(wait_atleast(&g.entered, 1, 5000));
    pw.w[0] = fc__loop_watch(l, a[0], FC__EV_READ, pair_cb, &args[0]);
    pw.w[1] = fc__loop_watch(l, b[0], FC__EV_READ, pair_cb, &args[1]);
    CHECK(pw.w[0] != NULL && pw.w[1] != NULL);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_signal(&g.cv);
    pthread_mutex_unlock(&g.mu);
    CHECK(loop_sync(l));
    CHECK(loop_sync(l));
    CHECK_INT(atomic_load(&pw.calls[0]) + atomic_load(&pw.calls[1]), 1);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* ---- stop and free ---- */

struct stopper {
    fc__loop *l;
    atomic_int runs;
    int chained_rc;
    int current;
};

static void chained_cb(void *ud)
{
    struct stopper *s = ud;
    atomic_fetch_add(&s->runs, 1);
}

static void slow_cb(void *ud)
{
    struct stopper *s = ud;
    sleep_ms(30); /* the main thread queues the rest and stops meanwhile */
    s->current = fc__loop_is_current(s->l);
    atomic_fetch_add(&s->runs, 1);
}

static void chaining_cb(void *ud)
{
    struct stopper *s = ud;
    /* Posted during the final drain: still accepted and run. */
    s->chained_rc = fc__loop_post(s->l, chained_cb, s);
    atomic_fetch_add(&s->runs, 1);
}

static void never_cb(void *ud)
{
    atomic_fetch_add((atomic_int *)ud, 1);
}

static void never_watch_cb(int fd, unsigned revents, void *ud)
{
    atomic_fetch_add((atomic_int *)ud, 1);
}

static void test_stop_and_free(void)
{
    struct stopper s = {.chained_rc = 99};
    atomic_int never = 0;
    int sv[2];
    fc__watch *w;
    fc__loop *l = fc__loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    s.l = l;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_INT(fc__loop_start(l), 0);
    CHECK_INT(fc__loop_start(l), FC_EALREADY);
    CHECK_INT(fc__loop_post(l, slow_cb, &s), 0);
    for (int i = 0; i < 1000; i++)
        CHECK_INT(fc__loop_post(l, chained_cb, &s), 0);
    CHECK_INT(fc__loop_post(l, chaining_cb, &s), 0);
    fc__loop_stop(l);
    CHECK_INT(atomic_load(&s.runs), 1 + 1000 + 1 + 1);
    CHECK_INT(s.chained_rc, 0);
    CHECK_INT(s.current, 1);
    CHECK_INT(fc__loop_post(l, never_cb, &never), FC_ECANCELED);
    fc__post node;
    CHECK_INT(fc__loop_post_node(l, &node, never_cb, &never), FC_ECANCELED);
    fc__loop_stop(l); /* twice is harmless */
    /* After stop: a timer and a watch are freed by fc__loop_free, never called;
     * an unwatch after stop frees at once. */
    CHECK(fc__loop_timer(l, 1, never_cb, &never) != NULL);
    CHECK(write(sv[1], "q", 1) == 1);
    w = fc__loop_watch(l, sv[0], FC__EV_READ, never_watch_cb, &never);
    CHECK(w != NULL);
    fc__loop_unwatch(l, w);
    CHECK(fc__loop_watch(l, sv[0], FC__EV_READ, never_watch_cb, &never) != NULL);
    sleep_ms(5);
    fc__loop_free(l);
    CHECK_INT(atomic_load(&never), 0);

    /* A loop that never ran: posts, timers and watches freed, none called. */
    l = fc__loop_new();
    CHECK(l != NULL);
    if (!l)
        goto out;
    CHECK_INT(fc__loop_post(l, never_cb, &never), 0);
    CHECK(fc__loop_timer(l, 0, never_cb, &never) != NULL);
    w = fc__loop_watch(l, sv[0], FC__EV_READ, never_watch_cb, &never);
    CHECK(w != NULL);
    fc__loop_unwatch(l, w);
    CHECK(fc__loop_watch(l, sv[0], FC__EV_READ, never_watch_cb, &never) != NULL);
    fc__loop_free(l);
    CHECK_INT(atomic_load(&never), 0);

    /* Pending timers and watches of a running loop: freed, not called. */
    l = fc__loop_new();
    CHECK(l != NULL);
    if (!l)
        goto out;
    CHECK_INT(fc__loop_start(l), 0);
    for (int i = 0; i < 100; i++)
        CHECK(fc__loop_timer(l, 10000 + (uint64_t)i, never_cb, &never) != NULL);
    CHECK(fc__loop_watch(l, sv[1], FC__EV_HUP, never_watch_cb, &never) != NULL);
    CHECK(loop_sync(l));
    fc__loop_free(l);
    CHECK_INT(atomic_load(&never), 0);
out:
    close(sv[0]);
    close(sv[1]);
    fc__loop_free(NULL);
}

/* A loop stopped from its own thread: the thread exits, free joins it. */
struct selfstop {
    fc__loop *l;
    atomic_int runs;
};

static void selfstop_cb(void *ud)
{
    struct selfstop *s = ud;
    fc__loop_stop(s->l);
    atomic_fetch_add(&s->runs, 1);
}

static void test_stop_from_loop(void)
{
    struct selfstop s = {0};
    s.l = fc__loop_new();
    CHECK(s.l != NULL);
    if (!s.l)
        return;
    /* Both queued before the loop runs, so the second one is queued before stop. */
    CHECK_INT(fc__loop_post(s.l, selfstop_cb, &s), 0);
    CHECK_INT(fc__loop_post(s.l, sync_cb, &s.runs), 0);
    CHECK_INT(fc__loop_start(s.l), 0);
    CHECK(wait_atleast(&s.runs, 2, 5000));
    fc__loop_free(s.l);
    CHECK_INT(atomic_load(&s.runs), 2);
}

/* ---- pool ---- */

static atomic_int pool_count;

static void pool_inc(void *ud)
{
    atomic_fetch_add(&pool_count, 1);
}

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    atomic_int entered;
};

static void gate_job(void *ud)
{
    struct gate *g = ud;
    atomic_fetch_add(&g->entered, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&pool_count, 1);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void sleep_job(void *ud)
{
    sleep_ms(200);
    atomic_fetch_add(&pool_count, 1);
}

struct late_submitter {
    fc__pool *p;
    struct gate *g;
    int ok_submits;
    int saw_canceled;
};

/* Submits until the pool refuses with FC_ECANCELED, then opens the gate that
 * keeps the pool's free waiting. */
static void *late_submitter_main(void *arg)
{
    struct late_submitter *s = arg;
    uint64_t end = now_ns() + 5000u * 1000000u;
    while (now_ns() < end) {
        int rc = fc__pool_submit(s->p, pool_inc, NULL);
        if (rc == 0) {
            s->ok_submits++;
        } else if (rc == FC_ECANCELED) {
            s->saw_canceled = 1;
            break;
        }
        sleep_ms(1);
    }
    gate_open(s->g);
    return NULL;
}

static void test_pool(void)
{
    fc__pool *p;
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
    uint64_t t0, dt;

    CHECK(fc__pool_new(0, 0) == NULL);

    /* All jobs run; free drains the queue. */
    atomic_store(&pool_count, 0);
    p = fc__pool_new(3, 0);
    CHECK(p != NULL);
    if (p) {
        int fails = 0;
        for (int i = 0; i < 10000; i++)
            if (fc__pool_submit(p, pool_inc, NULL) != 0)
                fails++;
        CHECK_INT(fails, 0);
        CHECK_INT(fc__pool_submit(p, NULL, NULL), FC_EINVAL);
        fc__pool_free(p);
        CHECK_INT(atomic_load(&pool_count), 10000);
    }

    /* Bounded queue: one worker held by the gate, two queued, then FC_EAGAIN. */
    atomic_store(&pool_count, 0);
    p = fc__pool_new(1, 2);
    CHECK(p != NULL);
    if (p) {
        CHECK_INT(fc__pool_submit(p, gate_job, &g), 0);
        CHECK(wait_atleast(&g.entered, 1, 5000)); /* dequeued: the queue is empty */
        CHECK_INT(fc__pool_submit(p, pool_inc, NULL), 0);
        CHECK_INT(fc__pool_submit(p, pool_inc, NULL), 0);
        CHECK_INT(fc__pool_submit(p, pool_inc, NULL), FC_EAGAIN);
        CHECK_INT(fc__pool_submit(p, pool_inc, NULL), FC_EAGAIN);
        CHECK_INT(atomic_load(&pool_count), 0);
        gate_open(&g);
        fc__pool_free(p);
        CHECK_INT(atomic_load(&pool_count), 3);
    }

    /* Parallelism: 4 workers run 4 sleeping 200 ms jobs in < 400 ms. */
    atomic_store(&pool_count, 0);
    p = fc__pool_new(4, 0);
    CHECK(p != NULL);
    if (p) {
        t0 = now_ns();
        for (int i = 0; i < 4; i++)
            CHECK_INT(fc__pool_submit(p, sleep_job, NULL), 0);
        CHECK(wait_atleast(&pool_count, 4, 5000));
        dt = now_ns() - t0;
        CHECK(dt >= 200u * 1000000u);
        CHECK(dt < 400u * 1000000u);
        fc__pool_free(p);
        CHECK_INT(atomic_load(&pool_count), 4);
    }

    /* Free drains: a gate holds the only worker while free has begun; submits
     * then fail with FC_ECANCELED; everything accepted before still runs. */
    atomic_store(&pool_count, 0);
    g.open = false;
    atomic_store(&g.entered, 0);
    p = fc__pool_new(1, 0);
    CHECK(p != NULL);
    if (p) {
        pthread_t th;
        struct late_submitter ls = {p, &g, 0, 0};
        CHECK_INT(fc__pool_submit(p, gate_job, &g), 0);
        for (int i = 0; i < 100; i++)
            CHECK_INT(fc__pool_submit(p, pool_inc, NULL), 0);
        CHECK(pthread_create(&th, NULL, late_submitter_main, &ls) == 0);
        fc__pool_free(p);
        pthread_join(th, NULL);
        CHECK_INT(ls.saw_canceled, 1);
        CHECK_INT(atomic_load(&pool_count), 1 + 100 + ls.ok_submits);
    }
    fc__pool_free(NULL);
}

/* Elapsed-time tests must treat a stamp taken by another thread a moment
 * after "now" as fresh: the server's header-timeout sweep once computed
 * now - since with since > now, wrapped to ~2^64 ms, and answered 408 to
 * busy keep-alive connections (found by the soak). */
static void test_elapsed(void)
{
    uint64_t now = fc__now_ms();
    CHECK(!fc__waited_at_least(now, now + 1, 30000));
    CHECK(!fc__waited_at_least(now, now + 5000, 30000));
    CHECK(!fc__waited_at_least(now, now, 30000));
    CHECK(!fc__waited_at_least(now, now - 29999, 30000));
    CHECK(fc__waited_at_least(now, now - 30000, 30000));
    CHECK(fc__waited_at_least(now, 1, 30000) == (now - 1 >= 30000));
    CHECK(fc__ms_since(fc__now_ms() + 1000) == 0);
    uint64_t t = fc__now_ms() - 50;
    uint64_t e = fc__ms_since(t);
    CHECK(e >= 50 && e < 50 + 10000);
}

int main(void)
{
    test_elapsed();
    fc__loop *l = fc__loop_new();
    CHECK(l != NULL);
    if (!l)
        TAP_DONE();
    CHECK(fc__now_ms() > 0);
    CHECK_INT(fc__loop_start(l), 0);
    test_posts(l);
    test_timer_order(l);
    test_many_timers(l);
    test_cancel(l);
    test_watch_read_hup(l);
    test_watch_write_modify_unwatch(l);
    test_watch_unwatch_race(l);
    test_watch_same_batch(l);
    fc__loop_free(l);
    test_stop_and_free();
    test_stop_from_loop();
    test_pool();
    TAP_DONE();
}
