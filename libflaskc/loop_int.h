/* loop_int.h — the loop's struct bodies, shared by loop.c (posts, watches,
 * idle hooks, the thread) and timer.c (the timer heap). Never installed. */
#ifndef FLASKC_LOOP_INT_H
#define FLASKC_LOOP_INT_H
#include "internal.h"

#define LOOP_MAX_EVENTS 64

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
    fc__link link; /* in the loop's live watches, under wmu */
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
    struct fc__idle idle[LOOP_MAX_IDLE];
    unsigned nidle;

    pthread_mutex_t mu; /* the post queue, started, closed */
    FC__FIFO(struct fc__post) posts;
    bool started; /* a thread was (or is being) started */
    bool closed;  /* the thread ran its final drain: nothing more runs */

    pthread_mutex_t tmu; /* the timer heap */
    fc__timer **heap;
    size_t n, cap;
    uint64_t next_seq;

    pthread_mutex_t wmu; /* the live watch list (for fc__loop_free) */
    fc__link watches;

    pthread_mutex_t life_mu; /* start / join */
    pthread_t thread;
    bool have_thread;
    bool joined;
};

/** Wake the loop's thread (an eventfd write). Any thread. */
void fc__loop_wake(fc__loop *l);
/** epoll_wait's timeout for the timers: -1 with none, else ms to the earliest. */
int fc__loop_timers_timeout(fc__loop *l);
/** Run the timers due now (loop thread). */
void fc__loop_timers_run(fc__loop *l);

#endif /* FLASKC_LOOP_INT_H */
