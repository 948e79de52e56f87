/* helpers.h — small pieces the test programs' apps share (the HTTP client
 * is httpc.h): a cancel callback that counts, a streamed answer of three
 * chunks, and the process's thread count. Needs internal.h first. */
#ifndef FC_TESTS_HELPERS_H
#define FC_TESTS_HELPERS_H
#include <dirent.h>

/* a cancel callback for fc_request_defer: counts into the atomic_int @p ud */
static inline void count_cancel(fc_request *req, void *ud)
{
    (void)req;
    atomic_fetch_add((atomic_int *)ud, 1);
}

/* the reader of stream_three_chunks: "chunk0\n" .. "chunk2\n", then the end */
static inline long three_chunks_read(void *ud, uint64_t pos, char *buf, size_t max)
{
    int *i = ud;
    (void)pos;
    if (*i >= 3)
        return FC_STREAM_END;
    return snprintf(buf, max, "chunk%d\n", (*i)++);
}

/* answer @p req with a stream of three chunks, "chunk0\nchunk1\nchunk2\n" */
static inline void stream_three_chunks(fc_request *req)
{
    int *i = calloc(1, sizeof(int));
    fc_response_stream(req, 200, "text/plain; charset=utf-8", three_chunks_read, i, free);
}

/* the threads of this process now (the entries of /proc/self/task) */
static inline int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    return n;
}
#endif
