/* ulfius_hello.c — the C framework peer for bench/hello (issue 5): Ulfius
 * answering GET / with libflaskc hello's exact answer ({"message":"hello"}\n,
 * Content-Type: application/json), 404 for anything else (Ulfius' default).
 *
 * Ulfius' own ulfius_start_framework() runs libmicrohttpd in
 * thread-per-connection mode; to compare frameworks rather than daemon modes
 * this starts it the documented way for choosing the mode,
 * ulfius_start_framework_with_mhd_options(), in libflaskc's mode: internal
 * polling thread + epoll and a pool of THREADS threads (env, default 1).
 * ULFIUS_DEFAULT=1 uses ulfius_start_framework() instead.
 *
 * Build: cc -O2 ulfius_hello.c $(pkg-config --cflags --libs libulfius) -o ulfius_hello
 * Run:   THREADS=1 ./ulfius_hello [PORT]     (PORT also from env PORT, default 8080) */
#include <ulfius.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char hello_body[] = "{\"message\":\"hello\"}\n";

static int hello(const struct _u_request *req, struct _u_response *res, void *ud)
{
    (void)req;
    (void)ud;
    u_map_put(res->map_header, "Content-Type", "application/json");
    ulfius_set_string_body_response(res, 200, hello_body);
    return U_CALLBACK_CONTINUE;
}

static unsigned env_uint(const char *name, unsigned def, unsigned max)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *end || v == 0 || v > max ? def : (unsigned)v;
}

/* libmicrohttpd passes the connection as a third argument, which Ulfius'
 * logger does not take */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    return ulfius_uri_logger(cls, uri);
}

int main(int argc, char **argv)
{
    unsigned port = env_uint("PORT", 8080, 65535);
    if (argc > 1)
        port = (unsigned)strtoul(argv[1], NULL, 10);
    unsigned threads = env_uint("THREADS", 1, 1024);
    unsigned max_conn = env_uint("MAX_CONNECTIONS", 10000, 1000000);
    const char *def = getenv("ULFIUS_DEFAULT");
    int default_mode = def && !strcmp(def, "1");

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    struct _u_instance inst;
    if (ulfius_init_instance(&inst, port, &sa, NULL) != U_OK) {
        fprintf(stderr, "ulfius_hello: ulfius_init_instance failed\n");
        return 1;
    }
    ulfius_add_endpoint_by_val(&inst, "GET", NULL, "/", 0, hello, NULL);

    int rc;
    if (default_mode) {
        rc = ulfius_start_framework(&inst);
    } else {
        struct MHD_OptionItem ops[] = {
            {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL},
            {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_logger, NULL},
            {MHD_OPTION_SOCK_ADDR, 0, &sa},
            {MHD_OPTION_CONNECTION_LIMIT, max_conn, NULL},
            {MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL},
            {MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL},
            /* a pool of 1 is no pool: the polling thread does the work */
            {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
            {MHD_OPTION_END, 0, NULL},
        };
        rc = ulfius_start_framework_with_mhd_options(
            &inst, MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, ops);
    }
    if (rc != U_OK) {
        fprintf(stderr, "ulfius_hello: cannot start on port %u\n", port);
        ulfius_clean_instance(&inst);
        return 1;
    }
    fprintf(stderr, "ulfius_hello: listening on port %u (%s, %u threads)\n", port,
            default_mode ? "thread per connection" : "epoll", threads);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);

    ulfius_stop_framework(&inst);
    ulfius_clean_instance(&inst);
    return 0;
}
