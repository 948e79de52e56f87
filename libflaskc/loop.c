/* loop.c — a polling thread's loop: epoll over watched fds, a cross-thread
 * FIFO of posted callbacks woken by an eventfd, idle hooks run before each
 * wait, and the thread's life cycle. Its timers are in timer.c. */
#include "loop_int.h"

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
 * Timers: see timer.c.
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

/* The loop this thread runs, if any: fc__loop_is_current without reading
 * another thread's pthread_t (no race with pthread_create's store). */
static _Thread_local const fc__loop *tls_loop;

void fc__loop_wake(fc__loop *l)
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
    bool was_empty = l->posts.head == NULL;
    FC__FIFO_PUSH(&l->posts, p);
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
    FC__FIFO_TAKE(&l->posts, list);
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
        FC__FIFO_TAKE(&l->posts, list);
        if (!list)
            l->closed = true;
        pthread_mutex_unlock(&l->mu);
        if (!list)
            return;
        post_run_list(list);
    }
}

static int post_enqueue(fc__loop *l, fc__post *p, void (*cb)(void *ud), void *ud)
{
    bool wake;
    p->cb = cb;
    p->ud = ud;
    pthread_mutex_lock(&l->mu);
    if (l->closed) {
        pthread_mutex_unlock(&l->mu);
        return FC_ECANCELED;
    }
    wake = post_append_locked(l, p);
    pthread_mutex_unlock(&l->mu);
    if (fc__loop_is_current(l))
        l->poked = true; /* run at the end of this iteration: no system call */
    else if (wake)
        fc__loop_wake(l);
    return 0;
}

int fc__loop_post_node(fc__loop *l, fc__post *p, void (*cb)(void *ud), void *ud)
{
    if (!l || !p || !cb)
        return FC_EINVAL;
    p->heap = p->run_at_free = false;
    return post_enqueue(l, p, cb, ud);
}

int fc__loop_post(fc__loop *l, void (*cb)(void *ud), void *ud)
{
    if (!l || !cb)
        return FC_EINVAL;
    struct fc__post *p = malloc(sizeof(*p));
    if (!p)
        return FC_ENOMEM;
    p->heap = true;
    p->run_at_free = false;
    int rc = post_enqueue(l, p, cb, ud);
    if (rc)
        free(p);
    return rc;
}

void fc__loop_poke(fc__loop *l)
{
    if (fc__loop_is_current(l))
        l->poked = true;
    else
        fc__loop_wake(l);
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
    fc__list_push_front(&l->watches, &w->link);
    pthread_mutex_unlock(&l->wmu);
}

static void watch_unlink(fc__loop *l, fc__watch *w)
{
    pthread_mutex_lock(&l->wmu);
    fc__list_remove(&w->link);
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
    w->release.run_at_free = true;
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
        fc__loop_wake(l);
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
        int i, n, timeout = -1; /* -1: no limit */
        /* idle hooks (the daemon's run after resumes, the database flush)
         * run before every wait and may shorten it; they may arm timers, so
         * the timers' limit is taken after them */
        for (unsigned k = 0; k <= l->nidle; k++) {
            int t = k < l->nidle ? l->idle[k].cb(l->idle[k].ud) : fc__loop_timers_timeout(l);
            if (t >= 0 && (timeout < 0 || t < timeout))
                timeout = t;
        }
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
        fc__loop_timers_run(l);
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
    fc__list_init(&l->watches);
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
    fc__loop_wake(l);
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

    /* Posts of a loop that never ran: dropped (their owners may be gone:
     * a database part freed after a failed start), except the releases of
     * unwatched watches, which only free memory and are run. */
    p = l->posts.head;
    while (p) {
        struct fc__post *next = p->next;
        if (p->heap)
            free(p);
        else if (p->run_at_free)
            p->cb(p->ud);
        p = next;
    }
    for (i = 0; i < l->n; i++)
        free(l->heap[i]);
    free(l->heap);
    fc__watch *w;
    FC__LIST_EACH(w, nx, &l->watches, fc__watch, link)
        free(w);
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
