/* pool.c — the worker pool for blocking routes and "run this, then continue":
 * N threads sleeping on a condition variable over a bounded FIFO of jobs. */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>

/*
 * Jobs run in submission order (started in FIFO order; with several workers
 * they overlap). fc__pool_submit never blocks: FC_EAGAIN when queue_max jobs
 * are waiting (running jobs do not count), FC_ECANCELED once fc__pool_free has
 * begun — also for jobs that running jobs try to submit during the drain. On
 * any error fn is never called. fc__pool_free runs every job accepted before
 * it, joins the workers and frees; it must not be called from a job.
 */

struct fc__job {
    struct fc__job *next;
    void (*fn)(void *ud);
    void *ud;
};

struct fc__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a job is queued or the pool stops */
    FC__FIFO(struct fc__job) jobs;
    size_t queued;
    size_t queue_max; /* 0 = unbounded */
    bool stopping;
    unsigned nthreads; /* threads started */
    pthread_t *threads;
};

static void *pool_worker(void *arg)
{
    fc__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct fc__job *j;
        void (*fn)(void *);
        void *ud;
        while (!p->jobs.head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        FC__FIFO_SHIFT(&p->jobs, j);
        if (!j)
            break; /* stopping, and the queue is drained */
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        fn = j->fn;
        ud = j->ud;
        free(j);
        fn(ud);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Stop and join the first p->nthreads workers, then free everything. */
static void pool_destroy(fc__pool *p)
{
    unsigned i;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Workers drain the queue before they exit; with none started (failed
     * construction) nothing was ever queued. */
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

fc__pool *fc__pool_new(unsigned threads, size_t queue_max)
{
    fc__pool *p;
    sigset_t all, old;
    unsigned i;
    if (threads == 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->queue_max = queue_max;
    p->threads = calloc(threads, sizeof(*p->threads));
    if (!p->threads)
        goto fail_threads;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto fail_mu;
    if (pthread_cond_init(&p->cv, NULL) != 0)
        goto fail_cv;
    /* Workers take no signals: they belong to the application. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_worker, p) != 0)
            break;
        p->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->nthreads < threads)
        goto fail_create;
    return p;

fail_create:
    pool_destroy(p); /* joins the workers that did start */
    return NULL;
fail_cv:
    pthread_mutex_destroy(&p->mu);
fail_mu:
    free(p->threads);
fail_threads:
    free(p);
    return NULL;
}

int fc__pool_submit(fc__pool *p, void (*fn)(void *ud), void *ud)
{
    struct fc__job *j;
    int rc = 0;
    if (!p || !fn)
        return FC_EINVAL;
    j = malloc(sizeof(*j));
    if (!j)
        return FC_ENOMEM;
    j->next = NULL;
    j->fn = fn;
    j->ud = ud;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        rc = FC_ECANCELED;
    } else if (p->queue_max && p->queued >= p->queue_max) {
        rc = FC_EAGAIN;
    } else {
        FC__FIFO_PUSH(&p->jobs, j);
        p->queued++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (rc)
        free(j);
    return rc;
}

void fc__pool_free(fc__pool *p)
{
    if (!p)
        return;
    pool_destroy(p);
}
