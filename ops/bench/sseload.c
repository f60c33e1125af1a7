/*
 * sseload: many SSE viewers in one C process (one epoll loop), so 5,000 viewers cost the
 * measured node's two cores as little as possible (a Python loop over 5,000 sockets took a
 * core of its own and its own delays showed up as the node's latency).
 *
 *   sseload PORT PATH TOKEN VIEWERS SECONDS
 *       Opens VIEWERS connections, each `GET PATH` with the bearer TOKEN, and waits until every
 *       one has its `200` head (or 30 s); prints `ready OPEN` and flushes, then reads for
 *       SECONDS. Every `data:` line carrying `t=<CLOCK_MONOTONIC ns>` (what `latencyprobe write`
 *       posts) is one delivery whose latency is arrival - t. Prints one line:
 *       `open O failed F deliveries D per_s R p50_ms A p99_ms B max_ms C min_per_viewer M`.
 *
 * Latencies go into a histogram of 100 us buckets up to 30 s (memory does not grow with the
 * deliveries). Bounded: a response head over 16 KiB or a line over 4 KiB ends that viewer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

#define BUCKET_US 100
#define BUCKETS (30 * 1000 * 1000 / BUCKET_US)
#define HEAD_MAX 16384
#define LINE_MAX_LEN 4096

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct viewer {
    int fd;
    int state; /* 0 head, 1 body, 2 closed */
    int chunked;
    long chunk_left; /* chunk bytes still to come; -1: the CRLF after a chunk */
    char head[HEAD_MAX];
    size_t head_used;
    char size_line[32];
    size_t size_used;
    char line[LINE_MAX_LEN];
    size_t line_used;
    long deliveries;
};

static uint64_t histogram[BUCKETS + 1];
static uint64_t deliveries;
static int64_t max_latency_ns;
static int measuring;

static void record(int64_t latency_ns) {
    if (!measuring) return;
    if (latency_ns < 0) latency_ns = 0;
    int64_t bucket = latency_ns / 1000 / BUCKET_US;
    histogram[bucket > BUCKETS ? BUCKETS : bucket]++;
    deliveries++;
    if (latency_ns > max_latency_ns) max_latency_ns = latency_ns;
}

/* One complete line of the event stream. */
static void line_done(struct viewer *v, int64_t arrival) {
    v->line[v->line_used] = 0;
    if (v->line_used > 5 && strncmp(v->line, "data:", 5) == 0) {
        char *t = strstr(v->line, "t=");
        if (t) {
            long long sent = strtoll(t + 2, NULL, 10);
            if (sent > 0) {
                record(arrival - sent);
                if (measuring) v->deliveries++;
            }
        }
    }
    v->line_used = 0;
}

static int feed_body(struct viewer *v, const char *p, size_t n, int64_t arrival) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            line_done(v, arrival);
        } else if (v->line_used < LINE_MAX_LEN - 1) {
            v->line[v->line_used++] = p[i];
        } else {
            return -1;
        }
    }
    return 0;
}

/* Bytes of the response after its head: de-chunked when the response is chunked. */
static int feed(struct viewer *v, const char *p, size_t n, int64_t arrival) {
    size_t pos = 0;
    while (pos < n) {
        if (!v->chunked) return feed_body(v, p + pos, n - pos, arrival);
        if (v->chunk_left > 0) {
            size_t take = n - pos < (size_t)v->chunk_left ? n - pos : (size_t)v->chunk_left;
            if (feed_body(v, p + pos, take, arrival) != 0) return -1;
            pos += take;
            v->chunk_left -= (long)take;
            if (v->chunk_left == 0) v->chunk_left = -1;
            continue;
        }
        char c = p[pos++];
        if (c != '\n') {
            if (v->size_used < sizeof v->size_line - 1) v->size_line[v->size_used++] = c;
            continue;
        }
        v->size_line[v->size_used] = 0;
        v->size_used = 0;
        if (v->chunk_left == -1) {
            v->chunk_left = 0; /* the CRLF closing a chunk */
        } else {
            v->chunk_left = strtol(v->size_line, NULL, 16);
            if (v->chunk_left == 0) return -1; /* the last chunk: the stream ended */
        }
    }
    return 0;
}

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static double percentile_ms(double q) {
    uint64_t rank = (uint64_t)(q * (double)deliveries);
    if (rank >= deliveries && deliveries > 0) rank = deliveries - 1;
    uint64_t seen = 0;
    for (int b = 0; b <= BUCKETS; b++) {
        seen += histogram[b];
        if (seen > rank) return (b + 1) * BUCKET_US / 1000.0;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: sseload PORT PATH TOKEN VIEWERS SECONDS\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *path = argv[2], *token = argv[3];
    int count = atoi(argv[4]);
    double seconds = atof(argv[5]);
    struct rlimit limit = {.rlim_cur = (rlim_t)count + 64, .rlim_max = (rlim_t)count + 64};
    setrlimit(RLIMIT_NOFILE, &limit);
    struct viewer *viewers = calloc((size_t)count, sizeof *viewers);
    if (!viewers) return 1;
    char request[8192];
    int len = snprintf(request, sizeof request,
                       "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n",
                       path, token);
    int ep = epoll_create1(0);
    int failed = 0;
    for (int i = 0; i < count; i++) {
        struct viewer *v = &viewers[i];
        v->fd = dial(port);
        if (v->fd < 0) {
            v->state = 2;
            failed++;
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, v->fd, &ev);
    }
    static char buf[1 << 16];
    struct epoll_event events[512];
    int open = 0, ready_printed = 0;
    int64_t give_up = now_ns() + 30LL * 1000000000LL, end = 0;
    for (;;) {
        int64_t now = now_ns();
        if (!ready_printed && (open + failed >= count || now > give_up)) {
            printf("ready %d\n", open);
            fflush(stdout);
            ready_printed = 1;
            measuring = 1;
            end = now + (int64_t)(seconds * 1e9);
        }
        if (ready_printed && now >= end) break;
        int n = epoll_wait(ep, events, 512, 20);
        for (int k = 0; k < n; k++) {
            struct viewer *v = &viewers[events[k].data.u32];
            if (v->state == 2) continue;
            if (events[k].events & EPOLLOUT) {
                /* Connected: send the request once (it fits a fresh socket's buffer). */
                if (write(v->fd, request, (size_t)len) != len) {
                    v->state = 2;
                    failed++;
                    close(v->fd);
                    continue;
                }
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = events[k].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, v->fd, &ev);
                continue;
            }
            ssize_t got = read(v->fd, buf, sizeof buf);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            int64_t arrival = now_ns();
            int bad = got <= 0;
            size_t pos = 0;
            if (!bad && v->state == 0) {
                size_t take = (size_t)got < HEAD_MAX - 1 - v->head_used ? (size_t)got : HEAD_MAX - 1 - v->head_used;
                memcpy(v->head + v->head_used, buf, take);
                v->head_used += take;
                v->head[v->head_used] = 0;
                char *head_end = strstr(v->head, "\r\n\r\n");
                if (!head_end) {
                    bad = v->head_used >= HEAD_MAX - 1;
                    if (!bad) continue;
                } else if (strncmp(v->head, "HTTP/1.1 200", 12) != 0) {
                    bad = 1;
                } else {
                    v->chunked = strcasestr(v->head, "transfer-encoding: chunked") != NULL;
                    v->state = 1;
                    open++;
                    /* What followed the head in this read. */
                    size_t head_len = (size_t)(head_end - v->head) + 4;
                    pos = head_len - (v->head_used - take);
                }
            }
            if (!bad && v->state == 1 && pos < (size_t)got) bad = feed(v, buf + pos, (size_t)got - pos, arrival) != 0;
            if (bad) {
                if (v->state == 1) open--;
                v->state = 2;
                failed++;
                close(v->fd);
            }
        }
    }
    long least = -1;
    for (int i = 0; i < count; i++) {
        if (viewers[i].state != 1) continue;
        if (least < 0 || viewers[i].deliveries < least) least = viewers[i].deliveries;
    }
    printf("open %d failed %d deliveries %llu per_s %.0f p50_ms %.1f p99_ms %.1f max_ms %.1f min_per_viewer %ld\n", open,
           failed, (unsigned long long)deliveries, deliveries / seconds, percentile_ms(0.5), percentile_ms(0.99),
           max_latency_ns / 1e6, least);
    return 0;
}
