/* httpc.h — the small HTTP/1.1 client pieces the socket tests share:
 * connect to the loopback, send everything, receive with a deadline, and
 * find a response header. Each test reads responses its own way. */
#ifndef FC_TESTS_HTTPC_H
#define FC_TESTS_HTTPC_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int status;
    char head[4096];
    char body[65536];
    size_t len;
} resp;

/* a blocking TCP connection to 127.0.0.1:port, -1 when refused */
static inline int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* send everything; false when the peer closed or reset (which a server
 * refusing a request early may do) */
static inline bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* read with a deadline; bytes read, or -1 on timeout */
static inline ssize_t recv_some(int fd, char *buf, size_t n, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return -1;
    return recv(fd, buf, n, 0);
}

/* a header of a response read into r->head (case-insensitive name); the
 * value is copied into a per-thread buffer valid until the next call */
static inline const char *hdr(const resp *r, const char *name)
{
    static __thread char val[512];
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (!fc__strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t k = strcspn(v, "\r");
            if (k >= sizeof(val))
                k = sizeof(val) - 1;
            memcpy(val, v, k);
            val[k] = '\0';
            return val;
        }
    }
    return NULL;
}
#endif
