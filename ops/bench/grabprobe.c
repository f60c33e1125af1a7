/*
 * grabprobe: the load side of `redpacket_grabs.py` in C. Every red-packet grab needs its own
 * user (a token) and names its packet in the path, so no stock load generator (h2load, wrk)
 * sends the mix without one request template per request; this one reads the requests from a
 * plan file and sends them over keep-alive HTTP/1.1 connections to several nodes, one request
 * in flight per connection, timing each from its write to the end of its answer. `webhooks.py`
 * uses it for tips too (a body per request: each tip has its own idempotency `id`).
 *
 *   grabprobe PLAN PORTS CONNS_PER_PORT RATE SECONDS
 *       PLAN: one request a line, `METHOD PATH TOKEN [BODY]` (TOKEN `-` for none), sent in order.
 *       BODY, optional: a JSON body without spaces, sent with `Content-Type: application/json`;
 *       without it the request has an empty body (`Content-Length: 0`).
 *       PORTS: comma-separated node ports; connection i goes to PORTS[i % n], and each request
 *       takes the next idle connection in turn, so consecutive requests land on different nodes.
 *       RATE: requests/s, paced (a slot that finds every connection busy is skipped and
 *       counted); 0 sends as fast as the answers come back (closed loop: the throughput).
 *       Stops after SECONDS or when the plan runs out, whichever is first, then waits for the
 *       answers in flight (at most 30 s).
 *   Prints one line: `sent N answered A seconds S codes 201=.. 410=.. skipped K closed C
 *   p50_ms .. p90_ms .. p99_ms .. max_ms .. cpu_s ..` (cpu_s: the probe's own user+system time,
 *   for its ceiling: answered / cpu_s requests per core-second).
 *
 * Bounded: a response head over 16 KiB is an error. A connection the server closes is counted
 * (`closed`) and dialed again; the request it carried is counted as answered with code 0.
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

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "grabprobe: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        buf += n;
        len -= (size_t)n;
    }
}

#define HEAD_MAX 16384

struct conn {
    int fd;
    int port;
    int busy;
    int64_t sent_at;
    char buf[HEAD_MAX];
    size_t used;
};

struct request {
    char *method, *path, *token, *body;
};

static struct request *load_plan(const char *file, long *count) {
    FILE *f = fopen(file, "r");
    if (!f) die("plan file");
    long cap = 1024, n = 0;
    struct request *plan = malloc(sizeof *plan * (size_t)cap);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *method = strtok(line, " "), *path = strtok(NULL, " "), *token = strtok(NULL, " ");
        char *body = token ? strtok(NULL, " ") : NULL;
        if (!method || !path) continue;
        if (n == cap) plan = realloc(plan, sizeof *plan * (size_t)(cap *= 2));
        plan[n].method = strdup(method);
        plan[n].path = strdup(path);
        plan[n].token = token && strcmp(token, "-") != 0 ? strdup(token) : NULL;
        plan[n].body = body ? strdup(body) : NULL;
        n++;
    }
    fclose(f);
    *count = n;
    return plan;
}

static long codes[600];
static long answered, closed_conns;
static int64_t *latencies;
static long nlatencies;

static void done_one(struct conn *c, int code) {
    if (code >= 0 && code < 600) codes[code]++;
    latencies[nlatencies++] = now_ns() - c->sent_at;
    answered++;
    c->busy = 0;
}

/* Consumes complete responses from c->buf; a connection whose answer is in is idle again. */
static void parse_responses(struct conn *c) {
    for (;;) {
        char *end = memmem(c->buf, c->used, "\r\n\r\n", 4);
        if (!end) {
            if (c->used == sizeof c->buf) {
                fprintf(stderr, "grabprobe: response head too long\n");
                exit(1);
            }
            return;
        }
        size_t head = (size_t)(end - c->buf) + 4;
        long length = 0;
        int code = 0;
        if (sscanf(c->buf, "HTTP/1.1 %d", &code) != 1) {
            fprintf(stderr, "grabprobe: bad status line\n");
            exit(1);
        }
        for (char *p = c->buf; p < end; p++) {
            if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) length = atol(p + 15);
        }
        if (head + (size_t)length > c->used) {
            if (head + (size_t)length > sizeof c->buf) {
                fprintf(stderr, "grabprobe: response too long\n");
                exit(1);
            }
            return;
        }
        memmove(c->buf, c->buf + head + length, c->used - head - (size_t)length);
        c->used -= head + (size_t)length;
        if (c->busy) done_one(c, code);
    }
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(double p) {
    if (nlatencies == 0) return 0;
    long i = (long)(p * (double)nlatencies);
    if (i >= nlatencies) i = nlatencies - 1;
    return (double)latencies[i] / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: grabprobe PLAN PORTS CONNS_PER_PORT RATE SECONDS\n");
        return 2;
    }
    long nplan;
    struct request *plan = load_plan(argv[1], &nplan);
    int ports[64], nports = 0;
    for (char *p = strtok(argv[2], ","); p && nports < 64; p = strtok(NULL, ",")) ports[nports++] = atoi(p);
    int per_port = atoi(argv[3]);
    double rate = atof(argv[4]), seconds = atof(argv[5]);
    int nconns = nports * per_port;
    latencies = malloc(sizeof *latencies * (size_t)(nplan + 1));
    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    int ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) {
        conns[i].port = ports[i % nports];
        conns[i].fd = dial(conns[i].port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9);
    int64_t interval = rate > 0 ? (int64_t)(1e9 / rate) : 0, next = start;
    long n = 0, skipped = 0;
    int next_conn = 0;
    static char request[16384];
    for (;;) {
        int64_t t = now_ns();
        int busy = 0;
        for (int i = 0; i < nconns; i++) busy += conns[i].busy;
        int sending = t < end && n < nplan;
        if (!sending && busy == 0) break;
        if (t > end + 30LL * 1000000000LL) break; /* answers that never come */
        /* Paced: one request per slot that has come. Closed loop: every idle connection. */
        while (sending && n < nplan && (rate <= 0 || t >= next)) {
            struct conn *c = NULL;
            for (int k = 0; k < nconns && !c; k++) {
                struct conn *candidate = &conns[(next_conn + k) % nconns];
                if (!candidate->busy) c = candidate;
            }
            if (rate > 0) next += interval;
            if (!c) {
                if (rate > 0) {
                    skipped++;
                    continue;
                }
                break;
            }
            next_conn = (int)((c - conns) + 1) % nconns;
            struct request *r = &plan[n++];
            char auth[8300] = "", type[64] = "";
            if (r->token) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", r->token);
            if (r->body) snprintf(type, sizeof type, "Content-Type: application/json\r\n");
            int len = snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: x\r\n%s%sContent-Length: %zu\r\n\r\n%s",
                               r->method, r->path, auth, type, r->body ? strlen(r->body) : 0, r->body ? r->body : "");
            if (len < 0 || (size_t)len >= sizeof request) {
                fprintf(stderr, "grabprobe: request too long\n");
                exit(1);
            }
            c->busy = 1;
            c->sent_at = now_ns();
            send_all(c->fd, request, (size_t)len);
        }
        int64_t wait_ns;
        if (!sending) wait_ns = 50000000;
        else if (rate > 0) wait_ns = next - now_ns();
        else wait_ns = 50000000; /* closed loop: woken by the next answer */
        if (wait_ns < 0) wait_ns = 0;
        struct timespec timeout = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
        struct epoll_event events[256];
        int ready = epoll_pwait2(ep, events, 256, &timeout, NULL);
        if (ready < 0 && errno != EINTR) die("epoll_pwait2");
        for (int i = 0; i < ready; i++) {
            struct conn *c = events[i].data.ptr;
            ssize_t got = read(c->fd, c->buf + c->used, sizeof c->buf - c->used);
            if (got <= 0) {
                /* Closed by the server: its request (if any) got no answer; dial again. */
                closed_conns++;
                if (c->busy) done_one(c, 0);
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->used = 0;
                c->fd = dial(c->port);
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                continue;
            }
            c->used += (size_t)got;
            parse_responses(c);
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    qsort(latencies, (size_t)nlatencies, sizeof *latencies, cmp64);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    printf("sent %ld answered %ld seconds %.3f codes", n, answered, elapsed);
    for (int code = 0; code < 600; code++)
        if (codes[code]) printf(" %d=%ld", code, codes[code]);
    printf(" skipped %ld closed %ld p50_ms %.2f p90_ms %.2f p99_ms %.2f max_ms %.2f cpu_s %.3f\n", skipped,
           closed_conns, pct_ms(0.5), pct_ms(0.9), pct_ms(0.99), nlatencies ? (double)latencies[nlatencies - 1] / 1e6 : 0,
           cpu);
    return 0;
}
