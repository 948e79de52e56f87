/* loop.c — the event-loop thread: epoll over watched fds, a min-heap of
 * one-shot timers, and a cross-thread FIFO of posted callbacks woken by an eventfd. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/*
 * Threads and ownership, in short:
 *
 * Posts. fc__loop_post may be called from any thread. Callbacks run on the
 * loop thread in the order they were accepted (FIFO per poster, and globally
 * in the order the queue mutex was taken). The queue is swapped out under the
 * mutex and run without holding it. Once the thread has begun to stop, posts
 * are still accepted (and run) until the final drain finds the queue empty;
 * from then on fc__loop_post returns FC_ECANCELED and never calls cb. Posts
 * queued on a loop that is never started are freed by fc__loop_free without
 * being called.
 *
 * Timers. A timer is PENDING while it sits in the heap. The loop pops an
 * expired timer and marks it RUNNING under the heap mutex, calls cb without
 * the mutex, then frees it. fc__loop_timer_cancel, from any thread:
 *   - PENDING: removes it from the heap and frees it; returns 0; cb never runs.
 *   - RUNNING: returns FC_EALREADY and touches nothing; the loop frees the
 *     timer when cb returns. (Also from inside its own cb.)
 * The fc__timer pointer is valid until its callback returns, and no longer:
 * calling cancel after cb has returned is a use-after-free. A caller on
 * another thread that may race the firing must therefore know that cb has not
 * yet returned when it calls cancel — the simple way is a mutex that the
 * canceller holds across the cancel call and that cb takes before it records
 * "fired" (then cancel sees RUNNING and returns FC_EALREADY). On the loop
 * thread there is no such race: cb has either not started or already set
 * whatever "fired" flag the caller keeps.
 * Timers never fire early: the deadline is rounded up to the next whole
 * millisecond. Timers with equal deadlines fire in creation order. Timers
 * created by a timer callback with a deadline already passed run on the next
 * iteration, so a callback that re-arms a 0 ms timer cannot starve the loop.
 *
 * Watches. epoll_ctl is thread-safe, so watch/modify/unwatch call it directly.
 * Unwatch marks the watch dead (dispatch skips dead watches, also later in the
 * current epoll batch), removes the fd from the epoll set, and hands the free
 * to the loop thread through the post queue (a node embedded in the watch, so
 * unwatch never allocates and cannot fail). The watch memory is thus never
 * reused while an event batch may still name it. When no loop thread can be
 * dispatching (never started, or already closed) it is freed at once.
 * On the loop thread, cb is never called after unwatch returns; from another
 * thread, cb may be running (once) while and just after unwatch returns.
 * Unwatch before closing the fd: epoll registers the open file description,
 * not the number, and a dup of the fd kept elsewhere keeps it registered.
 * One watch per fd (a second fc__loop_watch of the same fd returns NULL).
 *
 * Life cycle. fc__loop_start once (FC_EALREADY after; FC_ECANCELED after a
 * stop). fc__loop_stop from another thread wakes the loop, lets it run every
 * accepted post, and joins; from the loop thread it only asks the thread to
 * exit after the current iteration (a later stop or free joins). Timers and
 * fd events are not dispatched during the final drain. fc__loop_free stops,
 * then frees pending timers, watches and never-run posts without calling
 * them; it must not be called on the loop thread (it then does nothing).
 */

#define LOOP_MAX_EVENTS 64

struct fc__post {
    struct fc__post *next;
    void (*cb)(void *ud);
    void *ud;
    bool heap; /* malloc'ed by fc__loop_post; false for the node inside a watch */
};

enum { TIMER_PENDING, TIMER_RUNNING };

struct fc__timer {
    uint64_t deadline; /* fc__now_ms() value at or after which it fires */
    uint64_t seq;      /* creation order: the tie-break, and the starvation guard */
    size_t idx;        /* index in the heap while PENDING */
    int state;         /* under the heap mutex */
    void (*cb)(void *ud);
    void *ud;
};

struct fc__watch {
    struct fc__post release; /* posted by unwatch: frees the watch on the loop thread */
    struct fc__watch *prev, *next; /* live watches, under wmu */
    int fd;
    atomic_uint events;
    atomic_bool dead;
    void (*cb)(int fd, unsigned revents, void *ud);
    void *ud;
};

#define LOOP_MAX_IDLE 4

struct fc__idle {
    int (*cb)(void *ud);
    void *ud;
    int order;
};

struct fc__loop {
    int epfd;
    int efd;
    atomic_bool stopping;
    unsigned index;  /* the polling thread's number in its app */
    bool poked;      /* loop thread only: work was queued from this thread, do not block */
    int idle_timeout; /* loop thread only: the shortest wait the idle hooks asked for */
    struct fc__idle idle[LOOP_MAX_IDLE];
    unsigned nidle;

    pthread_mutex_t mu; /* the post queue, started, closed */
    struct fc__post *head, *tail;
    bool started; /* a thread was (or is being) started */
    bool closed;  /* the thread ran its final drain: nothing more runs */

    pthread_mutex_t tmu; /* the timer heap */
    fc__timer **heap;
    size_t n, cap;
    uint64_t next_seq;

    pthread_mutex_t wmu; /* the live watch list (for fc__loop_free) */
    fc__watch *watches;

    pthread_mutex_t life_mu; /* start / join */
    pthread_t thread;
    bool have_thread;
    bool joined;
};

/* The loop this thread runs, if any: fc__loop_is_current without reading
 * another thread's pthread_t (no race with pthread_create's store). */
static _Thread_local const fc__loop *tls_loop;

uint64_t fc__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Now, rounded up to the next whole millisecond: deadlines computed from it
 * are never early in real time. */
static uint64_t now_ms_ceil(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + ((uint64_t)ts.tv_nsec + 999999u) / 1000000u;
}

static void loop_wake(fc__loop *l)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(l->efd, &one, sizeof(one));
    while (r < 0 && errno == EINTR);
    /* EAGAIN means the counter is already huge: a wake-up is pending anyway. */
}

static void loop_drain_eventfd(fc__loop *l)
{
    uint64_t v;
    ssize_t r;
    do
        r = read(l->efd, &v, sizeof(v));
    while (r < 0 && errno == EINTR);
}

/* ---- the post queue ---- */

/* Append under l->mu. Returns true when the queue was empty (wake needed). */
static bool post_append_locked(fc__loop *l, struct fc__post *p)
{
    bool was_empty = l->head == NULL;
    p->next = NULL;
    if (l->tail)
        l->tail->next = p;
    else
        l->head = p;
    l->tail = p;
    return was_empty;
}

static void post_run_list(struct fc__post *p)
{
    while (p) {
        struct fc__post *next = p->next;
        void (*cb)(void *) = p->cb;
        void *ud = p->ud;
        if (p->heap)
            free(p);
        cb(ud); /* may free an embedded node: p is not touched after this */
        p = next;
    }
}

/* Run what is queued now (not what those callbacks post). */
static void loop_run_posts(fc__loop *l)
{
    struct fc__post *list;
    pthread_mutex_lock(&l->mu);
    list = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    post_run_list(list);
}

/* Run posts until the queue is empty, then close it in the same critical
 * section: every post that was accepted has run. */
static void loop_final_drain(fc__loop *l)
{
    for (;;) {
        struct fc__post *list;
        pthread_mutex_lock(&l->mu);
        list = l->head;
        l->head = l->tail = NULL;
        if (!list)
            l->closed = true;
        pthread_mutex_unlock(&l->mu);
        if (!list)
            return;
        post_run_list(list);
    }
}

int fc__loop_post(fc__loop *l, void (*cb)(void *ud), void *ud)
{
    struct fc__post *p;
    bool wake;
    if (!l || !cb)
        return FC_EINVAL;
    p = malloc(sizeof(*p));
    if (!p)
        return FC_ENOMEM;
    p->cb = cb;
    p->ud = ud;
    p->heap = true;
    pthread_mutex_lock(&l->mu);
    if (l->closed) {
        pthread_mutex_unlock(&l->mu);
        free(p);
        return FC_ECANCELED;
    }
    wake = post_append_locked(l, p);
    pthread_mutex_unlock(&l->mu);
    if (fc__loop_is_current(l))
        l->poked = true; /* run at the end of this iteration: no system call */
    else if (wake)
        loop_wake(l);
    return 0;
}

void fc__loop_poke(fc__loop *l)
{
    if (fc__loop_is_current(l))
        l->poked = true;
    else
        loop_wake(l);
}

int fc__loop_on_idle(fc__loop *l, int order, int (*cb)(void *ud), void *ud)
{
    if (!l || !cb || l->nidle == LOOP_MAX_IDLE)
        return FC_EINVAL;
    unsigned i = l->nidle++;
    while (i > 0 && l->idle[i - 1].order > order) {
        l->idle[i] = l->idle[i - 1];
        i--;
    }
    l->idle[i] = (struct fc__idle){cb, ud, order};
    return 0;
}

void fc__loop_off_idle(fc__loop *l, int (*cb)(void *ud), void *ud)
{
    for (unsigned i = 0; l && i < l->nidle; i++)
        if (l->idle[i].cb == cb && l->idle[i].ud == ud) {
            memmove(&l->idle[i], &l->idle[i + 1], (l->nidle - i - 1) * sizeof(l->idle[0]));
            l->nidle--;
            return;
        }
}

void fc__loop_set_index(fc__loop *l, unsigned index)
{
    l->index = index;
}

unsigned fc__loop_index(const fc__loop *l)
{
    return l->index;
}

fc__loop *fc__loop_current(void)
{
    return (fc__loop *)tls_loop;
}

/* ---- the timer heap (all under l->tmu) ---- */

static bool timer_before(const fc__timer *a, const fc__timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_place(fc__loop *l, size_t i, fc__timer *t)
{
    l->heap[i] = t;
    t->idx = i;
}

static void heap_sift_up(fc__loop *l, size_t i)
{
    fc__timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, l->heap[parent]))
            break;
        heap_place(l, i, l->heap[parent]);
        i = parent;
    }
    heap_place(l, i, t);
}

static void heap_sift_down(fc__loop *l, size_t i)
{
    fc__timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n)
            break;
        if (c + 1 < l->n && timer_before(l->heap[c + 1], l->heap[c]))
            c++;
        if (!timer_before(l->heap[c], t))
            break;
        heap_place(l, i, l->heap[c]);
        i = c;
    }
    heap_place(l, i, t);
}

static void heap_remove(fc__loop *l, size_t i)
{
    fc__timer *last = l->heap[--l->n];
    if (i == l->n)
        return;
    heap_place(l, i, last);
    if (i > 0 && timer_before(last, l->heap[(i - 1) / 2]))
        heap_sift_up(l, i);
    else
        heap_sift_down(l, i);
}

fc__timer *fc__loop_timer(fc__loop *l, uint64_t ms, void (*cb)(void *ud), void *ud)
{
    fc__timer *t;
    uint64_t base;
    bool earliest;
    if (!l || !cb)
        return NULL;
    t = malloc(sizeof(*t));
    if (!t)
        return NULL;
    /* 0 ms: due now (next iteration); otherwise never early. */
    base = ms ? now_ms_ceil() : fc__now_ms();
    t->deadline = ms > UINT64_MAX - base ? UINT64_MAX : base + ms;
    t->cb = cb;
    t->ud = ud;
    t->state = TIMER_PENDING;

    pthread_mutex_lock(&l->tmu);
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        fc__timer **nh = realloc(l->heap, ncap * sizeof(*nh));
        if (!nh) {
            pthread_mutex_unlock(&l->tmu);
            free(t);
            return NULL;
        }
        l->heap = nh;
        l->cap = ncap;
    }
    t->seq = l->next_seq++;
    t->idx = l->n; /* heap_sift_up moves it; the analyzer wants it set */
    l->heap[l->n++] = t;
    heap_sift_up(l, l->n - 1);
    earliest = t->idx == 0;
    pthread_mutex_unlock(&l->tmu);

    /* The loop thread recomputes its timeout before every epoll_wait. */
    if (earliest && !fc__loop_is_current(l))
        loop_wake(l);
    return t;
}

int fc__loop_timer_cancel(fc__loop *l, fc__timer *t)
{
    if (!l || !t)
        return FC_EINVAL;
    pthread_mutex_lock(&l->tmu);
    if (t->state != TIMER_PENDING) {
        pthread_mutex_unlock(&l->tmu);
        return FC_EALREADY; /* running: the loop frees it after cb */
    }
    heap_remove(l, t->idx);
    pthread_mutex_unlock(&l->tmu);
    free(t);
    return 0;
}

/* epoll_wait timeout: -1 with no timers, else ms to the earliest deadline. */
static int loop_timeout(fc__loop *l)
{
    int timeout = -1;
    pthread_mutex_lock(&l->tmu);
    if (l->n > 0) {
        uint64_t d = l->heap[0]->deadline, now = fc__now_ms();
        if (d <= now)
            timeout = 0;
        else
            timeout = d - now > (uint64_t)INT_MAX ? INT_MAX : (int)(d - now);
    }
    pthread_mutex_unlock(&l->tmu);
    return timeout;
}

static void loop_run_timers(fc__loop *l)
{
    uint64_t now = fc__now_ms();
    uint64_t seq_end;
    pthread_mutex_lock(&l->tmu);
    seq_end = l->next_seq;
    pthread_mutex_unlock(&l->tmu);
    for (;;) {
        fc__timer *t;
        pthread_mutex_lock(&l->tmu);
        if (l->n == 0 || l->heap[0]->deadline > now || l->heap[0]->seq >= seq_end) {
            pthread_mutex_unlock(&l->tmu);
            return;
        }
        t = l->heap[0];
        heap_remove(l, 0);
        t->state = TIMER_RUNNING;
        pthread_mutex_unlock(&l->tmu);
        t->cb(t->ud);
        free(t);
    }
}

/* ---- fd watches ---- */

static uint32_t events_to_epoll(unsigned ev)
{
    uint32_t e = 0;
    if (ev & FC__EV_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (ev & FC__EV_WRITE)
        e |= EPOLLOUT;
    if (ev & FC__EV_HUP)
        e |= EPOLLRDHUP; /* EPOLLHUP and EPOLLERR are always reported */
    return e;
}

static unsigned events_from_epoll(uint32_t e)
{
    unsigned ev = 0;
    if (e & EPOLLIN)
        ev |= FC__EV_READ;
    if (e & EPOLLOUT)
        ev |= FC__EV_WRITE;
    if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        ev |= FC__EV_HUP;
    return ev;
}

static void watch_link(fc__loop *l, fc__watch *w)
{
    pthread_mutex_lock(&l->wmu);
    w->prev = NULL;
    w->next = l->watches;
    if (l->watches)
        l->watches->prev = w;
    l->watches = w;
    pthread_mutex_unlock(&l->wmu);
}

static void watch_unlink(fc__loop *l, fc__watch *w)
{
    pthread_mutex_lock(&l->wmu);
    if (w->prev)
        w->prev->next = w->next;
    else
        l->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    pthread_mutex_unlock(&l->wmu);
}

static void watch_release(void *ud)
{
    free(ud);
}

#define EV_ALL (FC__EV_READ | FC__EV_WRITE | FC__EV_HUP)

fc__watch *fc__loop_watch(fc__loop *l, int fd, unsigned events,
                          void (*cb)(int fd, unsigned revents, void *ud), void *ud)
{
    fc__watch *w;
    struct epoll_event ev;
    if (!l || fd < 0 || !cb || (events & ~EV_ALL))
        return NULL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->fd = fd;
    w->cb = cb;
    w->ud = ud;
    atomic_init(&w->events, events);
    atomic_init(&w->dead, false);
    w->release.cb = watch_release;
    w->release.ud = w;
    w->release.heap = false;
    watch_link(l, w);
    memset(&ev, 0, sizeof(ev));
    ev.events = events_to_epoll(events);
    ev.data.ptr = w;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        goto fail;
    return w;
fail:
    watch_unlink(l, w);
    free(w);
    return NULL;
}

int fc__loop_watch_modify(fc__loop *l, fc__watch *w, unsigned events)
{
    struct epoll_event ev;
    if (!l || !w || (events & ~EV_ALL) || atomic_load(&w->dead))
        return FC_EINVAL;
    atomic_store(&w->events, events);
    memset(&ev, 0, sizeof(ev));
    ev.events = events_to_epoll(events);
    ev.data.ptr = w;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
        return FC_ESYS;
    return 0;
}

void fc__loop_unwatch(fc__loop *l, fc__watch *w)
{
    bool defer, wake = false;
    if (!l || !w)
        return;
    if (atomic_exchange(&w->dead, true))
        return; /* a second unwatch racing the first: the first one frees */
    /* Fails harmlessly (EBADF/ENOENT) when the fd was already closed. */
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    watch_unlink(l, w);
    pthread_mutex_lock(&l->mu);
    defer = l->started && !l->closed;
    if (defer)
        wake = post_append_locked(l, &w->release);
    pthread_mutex_unlock(&l->mu);
    if (!defer)
        free(w); /* no loop thread can be dispatching it */
    else if (wake)
        loop_wake(l);
}

static void loop_dispatch(fc__loop *l, const struct epoll_event *e)
{
    fc__watch *w = e->data.ptr;
    unsigned rev;
    if (!w) {
        loop_drain_eventfd(l);
        return;
    }
    if (atomic_load_explicit(&w->dead, memory_order_acquire))
        return;
    /* A concurrent modify may have narrowed the interest since epoll_wait. */
    rev = events_from_epoll(e->events) & (atomic_load(&w->events) | FC__EV_HUP);
    if (rev)
        w->cb(w->fd, rev, w->ud);
}

/* ---- the thread and the life cycle ---- */

static void *loop_main(void *arg)
{
    fc__loop *l = arg;
    struct epoll_event evs[LOOP_MAX_EVENTS];
    tls_loop = l;
    while (!atomic_load(&l->stopping)) {
        int i, n, timeout;
        /* idle hooks (the daemon's run after resumes, the database flush)
         * run before every wait and may shorten it */
        for (unsigned k = 0; k < l->nidle; k++) {
            int t = l->idle[k].cb(l->idle[k].ud);
            if (t >= 0 && (l->idle_timeout < 0 || t < l->idle_timeout))
                l->idle_timeout = t;
        }
        timeout = loop_timeout(l);
        if (l->idle_timeout >= 0 && (timeout < 0 || l->idle_timeout < timeout))
            timeout = l->idle_timeout;
        l->idle_timeout = -1;
        if (l->poked) {
            l->poked = false;
            timeout = 0;
        }
        n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* EBADF/EINVAL: a broken loop stops (posts still drain) */
        }
        for (i = 0; i < n; i++)
            loop_dispatch(l, &evs[i]);
        loop_run_posts(l);
        loop_run_timers(l);
    }
    loop_final_drain(l);
    tls_loop = NULL;
    return NULL;
}

fc__loop *fc__loop_new(void)
{
    struct epoll_event ev;
    fc__loop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->epfd = -1;
    l->efd = -1;
    l->idle_timeout = -1;
    atomic_init(&l->stopping, false);
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        goto fail_mu;
    if (pthread_mutex_init(&l->tmu, NULL) != 0)
        goto fail_tmu;
    if (pthread_mutex_init(&l->wmu, NULL) != 0)
        goto fail_wmu;
    if (pthread_mutex_init(&l->life_mu, NULL) != 0)
        goto fail_life;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        goto fail_fds;
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->efd < 0)
        goto fail_fds;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* NULL marks the wake-up eventfd */
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->efd, &ev) < 0)
        goto fail_fds;
    return l;

fail_fds:
    if (l->efd >= 0)
        close(l->efd);
    if (l->epfd >= 0)
        close(l->epfd);
    pthread_mutex_destroy(&l->life_mu);
fail_life:
    pthread_mutex_destroy(&l->wmu);
fail_wmu:
    pthread_mutex_destroy(&l->tmu);
fail_tmu:
    pthread_mutex_destroy(&l->mu);
fail_mu:
    free(l);
    return NULL;
}

int fc__loop_start(fc__loop *l)
{
    sigset_t all, old;
    int rc = 0, err;
    if (!l)
        return FC_EINVAL;
    pthread_mutex_lock(&l->life_mu);
    if (l->have_thread) {
        rc = FC_EALREADY;
        goto out;
    }
    if (atomic_load(&l->stopping)) {
        rc = FC_ECANCELED;
        goto out;
    }
    pthread_mutex_lock(&l->mu);
    l->started = true;
    pthread_mutex_unlock(&l->mu);
    /* The loop thread takes no signals: they belong to the application. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&l->thread, NULL, loop_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        pthread_mutex_lock(&l->mu);
        l->started = false;
        pthread_mutex_unlock(&l->mu);
        rc = FC_ESYS;
        goto out;
    }
    l->have_thread = true;
out:
    pthread_mutex_unlock(&l->life_mu);
    return rc;
}

bool fc__loop_started(fc__loop *l)
{
    pthread_mutex_lock(&l->life_mu);
    bool started = l->have_thread;
    pthread_mutex_unlock(&l->life_mu);
    return started;
}

void fc__loop_stop(fc__loop *l)
{
    if (!l)
        return;
    atomic_store(&l->stopping, true);
    loop_wake(l);
    /* On the loop thread: it exits after the current iteration and its final
     * drain; a later fc__loop_stop or fc__loop_free from another thread joins. */
    if (fc__loop_is_current(l))
        return;
    pthread_mutex_lock(&l->life_mu);
    if (l->have_thread && !l->joined) {
        pthread_join(l->thread, NULL);
        l->joined = true;
    }
    pthread_mutex_unlock(&l->life_mu);
}

void fc__loop_free(fc__loop *l)
{
    struct fc__post *p;
    size_t i;
    if (!l)
        return;
    /* Freeing the loop from its own thread cannot join: refuse (documented). */
    if (fc__loop_is_current(l))
        return;
    fc__loop_stop(l);

    /* Posts of a loop that never ran: dropped, except the internal releases
     * of unwatched watches, which are run (they only free memory). */
    p = l->head;
    while (p) {
        struct fc__post *next = p->next;
        if (p->heap)
            free(p);
        else
            p->cb(p->ud);
        p = next;
    }
    for (i = 0; i < l->n; i++)
        free(l->heap[i]);
    free(l->heap);
    while (l->watches) {
        fc__watch *w = l->watches;
        l->watches = w->next;
        free(w);
    }
    close(l->efd);
    close(l->epfd);
    pthread_mutex_destroy(&l->life_mu);
    pthread_mutex_destroy(&l->wmu);
    pthread_mutex_destroy(&l->tmu);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

bool fc__loop_is_current(const fc__loop *l)
{
    return l != NULL && tls_loop == l;
}
