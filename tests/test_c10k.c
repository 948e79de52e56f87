/* test_c10k.c — 10,000 concurrent requests each waiting 2 s asynchronously
 * (fc_after) on one server process: all answered, in about 2 s, with the
 * server's thread count unchanged (no thread per waiting request). */
#include "internal.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "httpc.h"

enum { N = 10000 };

FC_BLUEPRINT(w, "");

static void wake(fc_request *req, void *ud)
{
    (void)ud;
    fc_response_text(req, 200, "waited");
}

FC_ROUTE(w, "GET", "/wait", wait_async)
{
    fc_after(req, 2000, wake, NULL);
}

FC_ROUTE(w, "GET", "/threads", threads)
{
    fc_response_text(req, 200, fc_request_printf(req, "%d", count_threads()));
}

static int connect_nb(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* the server's thread count, from its /threads route; -1 when unanswered */
static int get_threads(int port)
{
    static resp r;
    if (!http_get(port, "/threads", &r, 10000) || r.status != 200)
        return -1;
    return (int)strtol(r.body, NULL, 10);
}

int main(void)
{
    if (getenv("FC_UNDER_VALGRIND"))
        return 77; /* 10,000 connections under valgrind take minutes: the ASan suite runs it */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < N + 200) {
        fprintf(stderr, "skip: open-file hard limit %llu < %d\n", (unsigned long long)rl.rlim_max, N + 200);
        return 77;
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int port = free_port();
    pid_t pid = fork();
    if (pid == 0) {
        fc_app *app = fc_app_new("c10k");
        fc_app_set_port(app, port);
        fc_app_set_threads(app, 2);
        fc_app_set_max_connections(app, N + 100);
        fc_app_set_connection_memory(app, 8192);
        fc_app_register(app, w);
        int rc = fc_app_run(app);
        fc_app_free(app);
        _exit(rc ? 2 : 0);
    }
    int before = -1;
    for (int i = 0; i < 200 && before < 0; i++) {
        usleep(20000);
        before = get_threads(port);
    }
    CHECK(before > 0);
    int ep = epoll_create1(0);
    static int fds[N];
    static size_t sent[N], got[N];
    static char status[N];
    const char *req = "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t rlen = strlen(req);
    uint64_t t0 = fc__now_ms();
    int open_fds = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = connect_nb(port);
        if (fds[i] < 0)
            continue;
        open_fds++;
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    CHECK_INT(open_fds, N);
    int done = 0, ok = 0, during = -1;
    struct epoll_event evs[512];
    while (done < open_fds && fc__now_ms() - t0 < 30000) {
        int n = epoll_wait(ep, evs, 512, 100);
        if (during < 0 && fc__now_ms() - t0 > 1200)
            during = get_threads(port);
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32;
            if ((evs[k].events & EPOLLOUT) && sent[i] < rlen) {
                ssize_t wr = write(fds[i], req + sent[i], rlen - sent[i]);
                if (wr > 0)
                    sent[i] += (size_t)wr;
                if (sent[i] == rlen) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fds[i], &ev);
                }
            }
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                char buf[512];
                ssize_t rd = read(fds[i], buf, sizeof(buf));
                if (rd > 0) {
                    if (got[i] == 0 && rd >= 12)
                        status[i] = !strncmp(buf + 9, "200", 3);
                    got[i] += (size_t)rd;
                    if (memmem(buf, (size_t)rd, "waited", 6)) {
                        ok += status[i];
                        done++;
                        epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                        close(fds[i]);
                        fds[i] = -1;
                    }
                } else if (rd == 0 || (errno != EAGAIN && errno != EINTR)) {
                    done++;
                    epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                    close(fds[i]);
                    fds[i] = -1;
                }
            }
        }
    }
    uint64_t total = fc__now_ms() - t0;
    fprintf(stderr, "%d concurrent 2 s waits: %d answered 200 in %llu ms; server threads %d before, %d during\n",
            N, ok, (unsigned long long)total, before, during);
    CHECK_INT(ok, N);
    CHECK(total >= 2000 && total < 10000);
    CHECK(during > 0 && during <= before);
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    close(ep);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    TAP_DONE();
}
