/* fuzz_response.c — the test client's response parser (fc__test_parse):
 * status line, 1xx interim answers, header lines, bodies framed by
 * Content-Length, chunking (sizes, extensions, trailers) or the close.
 * Input: one flags byte (bit 0: HEAD, bit 1: the peer closed), then the
 * bytes read. Invariants: the result is -1, 0 or 1; a complete answer has
 * a final status in 101..999, well-formed header lines, a NUL-terminated
 * body no longer than the input, none for HEAD, 204 and 304; bytes after a
 * complete answer (not delimited by the close) change nothing; every
 * proper prefix of a complete answer is incomplete or complete with the
 * same status. */
#include "fuzz.h"

static void check_response(const fc_test_response *r, size_t in_len, bool head)
{
    int st = fc_test_status(r);
    FZ_CHECK(st >= 101 && st <= 999 && (st == 101 || st >= 200), "status %d", st);
    size_t blen = 0;
    const char *body = fc_test_body(r, &blen);
    FZ_CHECK(body && body[blen] == '\0' && blen <= in_len, "body of %zu bytes", blen);
    if (head || st == 204 || st == 304 || st < 200)
        FZ_CHECK(blen == 0, "%d with a body", st);
    const char *h = fc_test_headers(r);
    FZ_CHECK(h, "no header block");
    while (*h) {
        const char *eol = strstr(h, "\r\n");
        FZ_CHECK(eol, "header block not CRLF-terminated");
        const char *c = memchr(h, ':', (size_t)(eol - h));
        FZ_CHECK(c && c > h && c[1] == ' ', "malformed header line '%.*s'", (int)(eol - h), h);
        h = eol + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool head = data[0] & 1, eof = data[0] & 2;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    fc_test_response *r = NULL;
    int rc = fc__test_parse(in, n, head, eof, &r);
    FZ_CHECK(rc >= -1 && rc <= 1, "result %d", rc);
    FZ_CHECK((rc == 1) == (r != NULL), "result %d with response %p", rc, (void *)r);
    if (rc != 1)
        return 0;
    check_response(r, n, head);
    if (!eof) {
        /* what follows a complete answer (a pipelined one) is not its part */
        char *more = malloc(n + 8);
        if (more) {
            memcpy(more, in, n);
            memcpy(more + n, "HTTP/1.1", 8);
            fc_test_response *r2 = NULL;
            FZ_CHECK(fc__test_parse(more, n + 8, head, false, &r2) == 1, "trailing bytes broke it");
            size_t a = 0, b = 0;
            const char *ba = fc_test_body(r, &a), *bb = fc_test_body(r2, &b);
            FZ_CHECK(a == b && !memcmp(ba, bb, a) && fc_test_status(r) == fc_test_status(r2),
                     "trailing bytes changed the answer");
            fc_test_response_free(r2);
            free(more);
        }
        /* a proper prefix is never complete with another status */
        fc_test_response *r3 = NULL;
        if (n > 0 && fc__test_parse(in, n - 1, head, false, &r3) == 1)
            FZ_CHECK(fc_test_status(r3) == fc_test_status(r), "prefix answered %d, whole %d",
                     fc_test_status(r3), fc_test_status(r));
        fc_test_response_free(r3);
    }
    fc_test_response_free(r);
    return 0;
}
