/*
 * viewload: many media (or event) viewers in one C process, so the machine's two cores go to
 * the nodes measured rather than to the measuring (the load side of `relay_fanout.py`).
 *
 *   viewload TARGETS_FILE TOKEN CONNS WARMUP_S MEASURE_S [OPEN_PER_S]
 *
 * TARGETS_FILE holds one `PORT PATH` per line; the CONNS connections are spread over them in
 * turn (connection i goes to target i mod n), opened at OPEN_PER_S per second (default 2000) on
 * keep-alive-less HTTP/1.1 GETs with `Authorization: Bearer TOKEN`. A response that is not 200
 * or a connection that closes counts as failed (a 307 is failed: a viewer here must be served
 * where it asked). Once every connection is open and WARMUP_S have passed, the body bytes each
 * connection receives during MEASURE_S are counted. Prints one JSON object:
 *   {"conns", "open", "failed", "status": {code: n}, "bytes", "seconds",
 *    "rate_min", "rate_p1", "rate_p50" (bytes/s per connection),
 *    "targets": [{"port", "path", "conns", "bytes"}]}
 * Bounded: a response head over 16 KiB is a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 64
#define HEAD_MAX 16384

struct target { int port; char path[1024]; long conns; long long bytes; };
struct conn {
    int fd, target, state; /* 0 head, 1 body, 2 dead */
    int status;
    size_t head_len;
    char *head;
    long long bytes, measured;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: viewload TARGETS_FILE TOKEN CONNS WARMUP_S MEASURE_S [OPEN_PER_S]\n");
        return 2;
    }
    struct target targets[MAX_TARGETS];
    int ntargets = 0;
    FILE *f = fopen(argv[1], "r");
    if (!f) { perror("targets"); return 2; }
    while (ntargets < MAX_TARGETS && fscanf(f, "%d %1023s", &targets[ntargets].port, targets[ntargets].path) == 2) {
        targets[ntargets].conns = 0;
        targets[ntargets].bytes = 0;
        ntargets++;
    }
    fclose(f);
    if (ntargets == 0) { fprintf(stderr, "no targets\n"); return 2; }
    const char *token = argv[2];
    long nconns = atol(argv[3]);
    double warmup = atof(argv[4]), measure = atof(argv[5]);
    double open_rate = argc > 6 ? atof(argv[6]) : 2000;
    if (nconns <= 0 || nconns > 200000 || measure <= 0) { fprintf(stderr, "bad arguments\n"); return 2; }

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    struct conn *conns = calloc(nconns, sizeof *conns);
    int ep = epoll_create1(0);
    long status_counts[600] = {0};
    long opened = 0, failed = 0;
    /* Why connections failed: connect/write errors, closed before the response head, closed
       while streaming (after a 200). */
    long failed_connect = 0, failed_head = 0, failed_stream = 0;
    char buf[65536];
    double start = now_s(), all_open_at = 0, measure_from = 0, measure_to = 0;
    int measuring = 0;

    for (;;) {
        double t = now_s();
        /* Open the connections due by now. */
        while (opened < nconns && opened < (long)((t - start) * open_rate) + 1) {
            struct conn *c = &conns[opened];
            c->target = (int)(opened % ntargets);
            c->head = malloc(HEAD_MAX);
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(targets[c->target].port)};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)) {
                if (failed_connect == 0) fprintf(stderr, "viewload: connect: %s\n", strerror(errno));
                c->state = 2;
                failed++;
                failed_connect++;
            } else {
                struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u64 = (uint64_t)opened};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                targets[c->target].conns++;
            }
            opened++;
        }
        if (opened == nconns && all_open_at == 0) {
            all_open_at = t;
            measure_from = t + warmup;
            measure_to = measure_from + measure;
        }
        if (all_open_at > 0 && !measuring && t >= measure_from) {
            measuring = 1;
            for (long i = 0; i < nconns; i++) conns[i].measured = -conns[i].bytes;
        }
        if (measuring && t >= measure_to) break;

        struct epoll_event events[1024];
        int n = epoll_wait(ep, events, 1024, 20);
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[events[i].data.u64];
            if (c->state == 2) continue;
            if (events[i].events & EPOLLOUT) {
                char req[2048];
                int len = snprintf(req, sizeof req,
                                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                                   targets[c->target].path, token);
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                if (soerr || write(c->fd, req, len) != len) {
                    c->state = 2;
                    failed++;
                    failed_connect++;
                    close(c->fd);
                    continue;
                }
                struct epoll_event ev = {.events = EPOLLIN, .data.u64 = events[i].data.u64};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                continue;
            }
            for (;;) {
                ssize_t got = read(c->fd, buf, sizeof buf);
                if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                if (got <= 0) {
                    if (c->state == 0) failed_head++; else failed_stream++;
                    c->state = 2;
                    failed++;
                    close(c->fd);
                    break;
                }
                if (c->state == 0) {
                    /* The head and the first body bytes (a GOP) often come in one read: keep at
                       most HEAD_MAX of it, and count what follows the head as body. */
                    size_t take = (size_t)got;
                    if (take > HEAD_MAX - c->head_len) take = HEAD_MAX - c->head_len;
                    memcpy(c->head + c->head_len, buf, take);
                    size_t before = c->head_len;
                    c->head_len += take;
                    char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
                    if (!end) {
                        if (c->head_len == HEAD_MAX) { failed_head++; c->state = 2; failed++; close(c->fd); break; }
                        continue;
                    }
                    int status = 0;
                    sscanf(c->head, "HTTP/1.1 %d", &status);
                    c->status = status;
                    if (status > 0 && status < 600) status_counts[status]++;
                    if (status != 200) { c->state = 2; failed++; close(c->fd); break; }
                    c->state = 1;
                    c->bytes += (long long)got - (long long)((size_t)(end + 4 - c->head) - before);
                    continue;
                }
                c->bytes += got;
            }
        }
    }
    double seconds = measure;
    long long *rates = calloc(nconns, sizeof *rates);
    long live = 0;
    long long total = 0;
    for (long i = 0; i < nconns; i++) {
        long long m = conns[i].measured + conns[i].bytes;
        if (conns[i].state == 1) rates[live++] = (long long)(m / seconds);
        total += m;
        targets[conns[i].target].bytes += m;
    }
    qsort(rates, live, sizeof *rates, cmp_ll);
    printf("{\"conns\": %ld, \"open\": %ld, \"failed\": %ld, \"failed_connect\": %ld, \"failed_head\": %ld, "
           "\"failed_stream\": %ld, \"status\": {",
           nconns, live, failed, failed_connect, failed_head, failed_stream);
    int first = 1;
    for (int s = 0; s < 600; s++) {
        if (!status_counts[s]) continue;
        printf("%s\"%d\": %ld", first ? "" : ", ", s, status_counts[s]);
        first = 0;
    }
    printf("}, \"bytes\": %lld, \"seconds\": %.3f, \"rate_min\": %lld, \"rate_p1\": %lld, \"rate_p50\": %lld, \"targets\": [",
           total, seconds, live ? rates[0] : 0, live ? rates[live / 100] : 0, live ? rates[live / 2] : 0);
    for (int t = 0; t < ntargets; t++) {
        printf("%s{\"port\": %d, \"path\": \"%s\", \"conns\": %ld, \"bytes\": %lld}", t ? ", " : "", targets[t].port,
               targets[t].path, targets[t].conns, targets[t].bytes);
    }
    printf("]}\n");
    return 0;
}
