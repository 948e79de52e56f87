/* timer.c — a loop's one-shot timers: a min-heap under a mutex, so any
 * thread may arm or cancel one; they fire on the loop's thread. */
#include "loop_int.h"

#include <limits.h>
#include <stdlib.h>
#include <time.h>

/*
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
 */

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
        fc__loop_wake(l);
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
int fc__loop_timers_timeout(fc__loop *l)
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

void fc__loop_timers_run(fc__loop *l)
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
