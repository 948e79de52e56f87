/* bare_mhd.c — the ceiling for bench/hello: plain libmicrohttpd answering
 * GET / with libflaskc hello's exact answer ({"message":"hello"}\n,
 * Content-Type: application/json), in libflaskc's daemon mode: internal
 * polling thread + epoll, a pool of THREADS threads (env, default 1), the
 * two-pass access handler (answer on the second call, when the upload is
 * done, so keep-alive works), 404 for anything else.
 *
 * Written as a careful libmicrohttpd user would: the responses are created
 * once and shared (they are immutable and refcounted), no per-request
 * allocation.
 *
 * Each connection gets a memory pool of CONNECTION_MEMORY bytes (env,
 * default 20480: libflaskc's FLASKC_CONNECTION_MEMORY default; keep the two
 * equal, since libmicrohttpd clears the whole pool for every request, so the
 * pool is most of a connection's memory and part of its per-request CPU).
 *
 * Build: cc -O2 bare_mhd.c $(pkg-config --cflags --libs libmicrohttpd) -o bare_mhd
 * Run:   THREADS=1 ./bare_mhd [PORT]     (PORT also from env PORT, default 8080;
 *        HOST, MAX_CONNECTIONS (default 10000), CONNECTION_MEMORY) */
#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char hello_body[] = "{\"message\":\"hello\"}\n";
static const char not_found_body[] = "{\"error\":\"not found\"}\n";

static struct MHD_Response *hello_resp;
static struct MHD_Response *not_found_resp;

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    static int first_call_marker;
    (void)cls;
    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) {
        /* first call: headers only; answer on the next one */
        *req_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body we do not need */
        return MHD_YES;
    }
    if (strcmp(url, "/") == 0 && (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                                  strcmp(method, MHD_HTTP_METHOD_HEAD) == 0))
        return MHD_queue_response(conn, MHD_HTTP_OK, hello_resp);
    return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, not_found_resp);
}

static struct MHD_Response *json_response(const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return r;
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

int main(int argc, char **argv)
{
    unsigned port = env_uint("PORT", 8080, 65535);
    if (argc > 1)
        port = (unsigned)strtoul(argv[1], NULL, 10);
    unsigned threads = env_uint("THREADS", 1, 1024);
    unsigned max_conn = env_uint("MAX_CONNECTIONS", 10000, 1000000);
    unsigned pool_size = env_uint("CONNECTION_MEMORY", 20 * 1024, 64u * 1024 * 1024);

    /* as libflaskc does (same limit, timeout and backlog as its defaults):
     * enough descriptors for the connection limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    hello_resp = json_response(hello_body, sizeof(hello_body) - 1);
    not_found_resp = json_response(not_found_body, sizeof(not_found_body) - 1);
    if (!hello_resp || !not_found_resp)
        return 1;

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *host = getenv("HOST");
    if (host && *host && inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "bare_mhd: HOST must be an IPv4 address\n");
        return 2;
    }

    /* a pool of 1 is no pool: the polling thread does the work */
    struct MHD_OptionItem pool[] = {
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port,
        NULL, NULL, handle, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_LIMIT, max_conn,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        /* the same pool size as libflaskc's default: this program is the
         * ceiling for libflaskc's overhead, so it runs libmicrohttpd alike */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)pool_size,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bare_mhd: cannot listen on port %u\n", port);
        return 1;
    }
    fprintf(stderr, "bare_mhd: listening on port %u (%u threads, %u-byte connection pools)\n", port,
            threads, pool_size);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);

    MHD_stop_daemon(d);
    MHD_destroy_response(hello_resp);
    MHD_destroy_response(not_found_resp);
    return 0;
}
