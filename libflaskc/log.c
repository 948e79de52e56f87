/* log.c — the library's log lines ("[time] LEVEL in flaskc: msg") and the
 * access log; one write per line so lines from threads never interleave. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void (*log_fn)(fc_log_level, const char *, void *);
static void *log_ud;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void fc_log_set_handler(void (*fn)(fc_log_level level, const char *line, void *ud), void *ud)
{
    pthread_mutex_lock(&log_mu);
    log_fn = fn;
    log_ud = ud;
    pthread_mutex_unlock(&log_mu);
}

static const char *level_name(fc_log_level l)
{
    switch (l) {
    case FC_LOG_DEBUG:
        return "DEBUG";
    case FC_LOG_INFO:
        return "INFO";
    case FC_LOG_WARNING:
        return "WARNING";
    default:
        return "ERROR";
    }
}

/* FLASKC_LOG_LEVEL (settings.h), read at the first line: fc_log is
 * process-wide and may run before any app exists. A bad value is reported by
 * fc_app_new (and refuses the start); here it leaves the default. */
static int min_level(void)
{
    static atomic_int lvl = -1;
    int l = atomic_load_explicit(&lvl, memory_order_relaxed);
    if (l >= 0)
        return l;
    const char *e = getenv(fc__settings[FC__S_LOG_LEVEL].env);
    fc_log_level parsed = (fc_log_level)fc__settings[FC__S_LOG_LEVEL].dflt;
    if (e && *e)
        (void)fc__setting_parse_level(e, &parsed);
    l = (int)parsed;
    atomic_store_explicit(&lvl, l, memory_order_relaxed);
    return l;
}

static void emit(fc_log_level level, const char *msg)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "[%04d-%02d-%02d %02d:%02d:%02d,%03ld] %s in flaskc: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_name(level), msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    pthread_mutex_lock(&log_mu);
    void (*fn)(fc_log_level, const char *, void *) = log_fn;
    void *ud = log_ud;
    pthread_mutex_unlock(&log_mu);
    if (fn) {
        line[n - 1] = '\0';
        fn(level, line, ud);
        return;
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void fc_log(fc_log_level level, const char *fmt, ...)
{
    if ((int)level < min_level())
        return;
    char msg[1800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, msg);
}

void fc__log_access(const char *method, const char *path, int status, uint64_t bytes, double ms,
                    const char *addr)
{
    char line[1200];
    /* the path is user input: cut it and never let control bytes reach the log */
    char safe[512];
    size_t j = 0;
    for (size_t i = 0; path[i] && j + 4 < sizeof(safe); i++) {
        unsigned char c = (unsigned char)path[i];
        if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789ABCDEF";
            safe[j++] = '%';
            safe[j++] = hex[c >> 4];
            safe[j++] = hex[c & 15];
        } else {
            safe[j++] = (char)c;
        }
    }
    safe[j] = '\0';
    snprintf(line, sizeof(line), "%s \"%s %s\" %d %llu %.3fms", addr && *addr ? addr : "-", method,
             safe, status, (unsigned long long)bytes, ms);
    emit(FC_LOG_INFO, line);
}
