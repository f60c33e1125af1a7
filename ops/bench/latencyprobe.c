/*
 * latencyprobe: the load side of `replication.py latency` in C, so the machine's two cores go
 * to the nodes being measured rather than to the measuring (the Python writer and viewers took
 * about a quarter of a core at 1,000 events/s, which showed up in the latencies themselves).
 *
 *   latencyprobe write PORT PATH TOKENS_FILE RATE SECONDS [CONNS [spread|reuse]]
 *       POSTs {"text":"t=<CLOCK_MONOTONIC ns>","id":"lp-<pid>-<n>"} to PATH at RATE/s for
 *       SECONDS over CONNS keep-alive HTTP/1.1 connections (default 64), each request in one
 *       write, the bearer token cycling through TOKENS_FILE (one per line: per-user rate limits).
 *       `reuse` (default) sends on the first idle connection, so a few warm ones carry the load
 *       (one client pipelining its users); `spread` takes them in turn, each write on a
 *       connection that sat idle (many clients, each writing now and then).
 *       A slot that finds every connection busy is skipped and counted. Prints one line:
 *       `codes 201=N 503=M skipped=K`.
 *   latencyprobe view PORT PATH TOKEN SECONDS
 *       Reads the SSE stream at PATH for SECONDS, then prints, per event carrying `t=<ns>`,
 *       its latency in microseconds (arrival - t), one per line.
 *
 * CLOCK_MONOTONIC is what Python's time.monotonic_ns() reads, so stamps compare across
 * processes. Bounded: a response head over 16 KiB or a line over 64 KiB is an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "latencyprobe: %s: %s\n", what, strerror(errno));
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

/* ---- writer ---- */

#define HEAD_MAX 16384

struct conn {
    int fd;
    int busy;
    char buf[HEAD_MAX];
    size_t used;
};

static char **load_tokens(const char *path, int *count) {
    FILE *f = fopen(path, "r");
    if (!f) die("tokens file");
    int cap = 64, n = 0;
    char **tokens = malloc(sizeof(char *) * cap);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        if (n == cap) tokens = realloc(tokens, sizeof(char *) * (cap *= 2));
        tokens[n++] = strdup(line);
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "latencyprobe: no tokens in %s\n", path);
        exit(2);
    }
    *count = n;
    return tokens;
}

static long codes[600];
static long skipped;

/* Consumes complete responses from c->buf; a connection whose answer is in is idle again. */
static void parse_responses(struct conn *c) {
    for (;;) {
        char *end = memmem(c->buf, c->used, "\r\n\r\n", 4);
        if (!end) {
            if (c->used == sizeof c->buf) {
                fprintf(stderr, "latencyprobe: response head too long\n");
                exit(1);
            }
            return;
        }
        size_t head = (size_t)(end - c->buf) + 4;
        long length = 0;
        int code = 0;
        if (sscanf(c->buf, "HTTP/1.1 %d", &code) != 1) {
            fprintf(stderr, "latencyprobe: bad status line\n");
            exit(1);
        }
        for (char *p = c->buf; p < end; p++) {
            if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) length = atol(p + 15);
        }
        if (head + (size_t)length > c->used) {
            if (head + (size_t)length > sizeof c->buf) {
                fprintf(stderr, "latencyprobe: response too long\n");
                exit(1);
            }
            return;
        }
        if (code > 0 && code < 600) codes[code]++;
        memmove(c->buf, c->buf + head + length, c->used - head - (size_t)length);
        c->used -= head + (size_t)length;
        c->busy = 0;
    }
}

static int writer(int argc, char **argv) {
    if (argc < 7) return 2;
    int port = atoi(argv[2]);
    const char *path = argv[3];
    int ntokens;
    char **tokens = load_tokens(argv[4], &ntokens);
    double rate = atof(argv[5]);
    double seconds = atof(argv[6]);
    int nconns = argc > 7 ? atoi(argv[7]) : 64;
    int spread = argc > 8 && strcmp(argv[8], "spread") == 0;
    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    int ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = dial(port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9), interval = (int64_t)(1e9 / rate);
    int64_t next = start;
    long n = 0;
    int next_conn = 0;
    char request[8192];
    for (;;) {
        int64_t t = now_ns();
        int busy = 0;
        for (int i = 0; i < nconns; i++) busy += conns[i].busy;
        if (t >= end && busy == 0) break;
        while (t >= next && t < end) {
            next += interval;
            struct conn *c = NULL;
            for (int k = 0; k < nconns && !c; k++) {
                struct conn *candidate = &conns[(next_conn + k) % nconns];
                if (!candidate->busy) c = candidate;
            }
            if (!c) {
                skipped++;
                continue;
            }
            if (spread) next_conn = (int)((c - conns) + 1) % nconns;
            n++;
            char body[128];
            int blen = snprintf(body, sizeof body, "{\"text\":\"t=%lld\",\"id\":\"lp-%d-%ld\"}", (long long)now_ns(),
                                getpid(), n);
            int len = snprintf(request, sizeof request,
                               "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                               path, tokens[n % ntokens], blen, body);
            c->busy = 1;
            send_all(c->fd, request, (size_t)len);
        }
        /* Sleep to the next slot with nanosecond resolution: epoll_wait's milliseconds would
         * spin for the last one, a core's worth of CPU taken from the nodes. */
        int64_t wait_ns = t >= end ? 50000000 : next - now_ns();
        if (wait_ns < 0) wait_ns = 0;
        struct timespec timeout = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
        struct epoll_event events[64];
        int ready = epoll_pwait2(ep, events, 64, &timeout, NULL);
        if (ready < 0 && errno != EINTR) die("epoll_pwait2");
        for (int i = 0; i < ready; i++) {
            struct conn *c = events[i].data.ptr;
            ssize_t got = read(c->fd, c->buf + c->used, sizeof c->buf - c->used);
            if (got <= 0) {
                fprintf(stderr, "latencyprobe: a writer connection closed\n");
                exit(1);
            }
            c->used += (size_t)got;
            parse_responses(c);
        }
        if (now_ns() > end + 30LL * 1000000000LL) break; /* answers that never come */
    }
    printf("codes");
    for (int code = 0; code < 600; code++)
        if (codes[code]) printf(" %d=%ld", code, codes[code]);
    printf(" skipped=%ld\n", skipped);
    return 0;
}

/* ---- viewer ---- */

/* Latencies kept in memory and printed at the end: printing as they come blocks on a full
 * pipe (the parent reads after the run), which then shows up as latency. */
static long long *latencies;
static size_t nlatencies, caplatencies;

static void record(long long micros) {
    if (nlatencies == caplatencies) {
        caplatencies = caplatencies ? caplatencies * 2 : 65536;
        latencies = realloc(latencies, caplatencies * sizeof *latencies);
        if (!latencies) die("realloc");
    }
    latencies[nlatencies++] = micros;
}

/* Event lines, decoded: every complete `data:` line with a stamp records its latency. */
struct lines {
    char buf[65536];
    size_t used;
};

static void feed_lines(struct lines *l, const char *data, size_t len, int64_t arrival) {
    if (len > sizeof l->buf - l->used) {
        fprintf(stderr, "latencyprobe: line too long\n");
        exit(1);
    }
    memcpy(l->buf + l->used, data, len);
    l->used += len;
    char *line = l->buf, *nl;
    while ((nl = memchr(line, '\n', l->used - (size_t)(line - l->buf)))) {
        *nl = 0;
        if (strncmp(line, "data: ", 6) == 0) {
            char *stamp = strstr(line, "\"t=");
            if (stamp) record((long long)((arrival - atoll(stamp + 3)) / 1000));
        }
        line = nl + 1;
    }
    size_t rest = l->used - (size_t)(line - l->buf);
    memmove(l->buf, line, rest);
    l->used = rest;
}

static int viewer(int argc, char **argv) {
    if (argc < 6) return 2;
    int port = atoi(argv[2]);
    const char *path = argv[3], *token = argv[4];
    double seconds = atof(argv[5]);
    int fd = dial(port);
    char request[8192];
    int len = snprintf(request, sizeof request,
                       "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n",
                       path, token);
    send_all(fd, request, (size_t)len);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int64_t end = now_ns() + (int64_t)(seconds * 1e9);
    static char raw[65536];
    static struct lines lines;
    size_t used = 0;
    int in_body = 0, chunked = 0;
    long chunk_left = 0; /* bytes of chunk data still to come; -1: the CRLF after a chunk */
    while (now_ns() < end) {
        ssize_t got = read(fd, raw + used, sizeof raw - used);
        if (got == 0) break;
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            die("read");
        }
        int64_t arrival = now_ns();
        used += (size_t)got;
        size_t pos = 0;
        if (!in_body) {
            char *head_end = memmem(raw, used, "\r\n\r\n", 4);
            if (!head_end) {
                if (used == sizeof raw) {
                    fprintf(stderr, "latencyprobe: response head too long\n");
                    return 1;
                }
                continue;
            }
            *head_end = 0;
            if (strncmp(raw, "HTTP/1.1 200", 12) != 0) {
                fprintf(stderr, "latencyprobe: viewer got: %.80s\n", raw);
                return 1;
            }
            chunked = strcasestr(raw, "transfer-encoding: chunked") != NULL;
            in_body = 1;
            pos = (size_t)(head_end - raw) + 4;
        }
        while (pos < used) {
            if (!chunked) {
                feed_lines(&lines, raw + pos, used - pos, arrival);
                pos = used;
            } else if (chunk_left > 0) {
                size_t take = used - pos < (size_t)chunk_left ? used - pos : (size_t)chunk_left;
                feed_lines(&lines, raw + pos, take, arrival);
                pos += take;
                chunk_left -= (long)take;
                if (chunk_left == 0) chunk_left = -1;
            } else {
                char *crlf = memmem(raw + pos, used - pos, "\r\n", 2);
                if (!crlf) break;
                if (chunk_left == -1) {
                    chunk_left = 0; /* the CRLF closing a chunk */
                } else {
                    chunk_left = strtol(raw + pos, NULL, 16);
                    if (chunk_left == 0) goto done; /* the last chunk */
                }
                pos = (size_t)(crlf - raw) + 2;
            }
        }
        memmove(raw, raw + pos, used - pos);
        used -= pos;
    }
done:
    for (size_t i = 0; i < nlatencies; i++) printf("%lld\n", latencies[i]);
    return 0;
}

int main(int argc, char **argv) {
    int rc = 2;
    if (argc > 1 && strcmp(argv[1], "write") == 0) rc = writer(argc, argv);
    if (argc > 1 && strcmp(argv[1], "view") == 0) rc = viewer(argc, argv);
    if (rc == 2)
        fprintf(stderr,
                "usage: latencyprobe write PORT PATH TOKENS_FILE RATE SECONDS [CONNS [spread|reuse]]\n"
                "       latencyprobe view PORT PATH TOKEN SECONDS\n");
    return rc;
}
