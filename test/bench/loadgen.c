/*
 * Load generator for npm run bench (compiled at bench time: cc -O2). Loopback, epoll, one thread.
 *
 *   loadgen load  PORT KIND SIZE CONNS DEPTH WARMUP_MS MEASURE_MS
 *       KIND ping: "PING\n" -> "PONG\n"; echo: "ECHO <p>\n" (SIZE bytes) -> "<p>\n";
 *       raw: SIZE bytes -> the same bytes (--protocol echo). Keeps DEPTH requests in flight on
 *       each of CONNS connections, checks every answer byte, prints one JSON line.
 *   loadgen storm PORT N TIMEOUT_MS    N connects at once, one PING each: time to all PONGs
 *   loadgen hold  PORT N TIMEOUT_MS    connects N and holds them; each stdin line "ping" sends
 *       one PING on all and reports when the answers came (CLOCK_REALTIME ms); EOF ends.
 * Exit 2 on a wrong answer byte, 3 on a closed/failed connection, 4 on timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#define HIST_US 200000 /* 1 us buckets up to 200 ms, then one overflow bucket */
#define RBUF 65536

struct conn {
  int fd;
  uint64_t queued, written, recv; /* request bytes queued / written, answer bytes received */
  uint64_t done;                  /* answers completed */
  uint64_t *ts;                   /* send time (ns) of each request in flight, ring of DEPTH */
  int want_out, sent_ping;
};

static uint32_t hist[HIST_US + 1];
static uint64_t hist_max;
static char rbuf[RBUF];

static uint64_t now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void die(int code, const char *what, long conn) {
  printf("{\"error\":\"%s\",\"conn\":%ld,\"errno\":\"%s\"}\n", what, conn, strerror(errno));
  fflush(stdout);
  exit(code);
}

static int open_socket(int port, int nonblock) {
  int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) die(3, "socket", -1);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die(3, "connect", -1);
  return fd;
}

static void watch(int ep, int op, struct conn *c, uint32_t events) {
  struct epoll_event e = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, op, c->fd, &e) < 0) die(3, "epoll_ctl", -1);
}

static uint64_t percentile(uint64_t total, double p) {
  uint64_t rank = (uint64_t)(p * (double)total), seen = 0;
  for (uint32_t i = 0; i <= HIST_US; i++) {
    seen += hist[i];
    if (seen > rank) return i == HIST_US ? hist_max : i;
  }
  return hist_max;
}

/* ---- load ---- */
static char *req, *resp, *sendbuf;
static size_t req_len, resp_len;
static int depth;

static void make_messages(const char *kind, size_t size) {
  char *payload = malloc(size + 1);
  for (size_t i = 0; i < size; i++) payload[i] = (char)('a' + i % 26);
  req = malloc(size + 8);
  resp = malloc(size + 8);
  if (!strcmp(kind, "ping")) {
    strcpy(req, "PING\n"), strcpy(resp, "PONG\n");
  } else if (!strcmp(kind, "echo")) {
    if (size < 7) size = 7;
    size_t p = size - 6; /* "ECHO " + p + "\n" == size */
    memcpy(req, "ECHO ", 5), memcpy(req + 5, payload, p), req[5 + p] = '\n', req[6 + p] = 0;
    memcpy(resp, payload, p), resp[p] = '\n', resp[p + 1] = 0;
  } else if (!strcmp(kind, "raw")) {
    memcpy(req, payload, size), memcpy(resp, payload, size), req[size] = resp[size] = 0;
  } else {
    fprintf(stderr, "unknown kind %s\n", kind);
    exit(64);
  }
  req_len = !strcmp(kind, "raw") ? size : strlen(req);
  resp_len = !strcmp(kind, "raw") ? size : strlen(resp);
  free(payload);
}

static void flush_out(int ep, struct conn *c) {
  while (c->written < c->queued) {
    ssize_t n = write(c->fd, sendbuf + c->written % req_len, c->queued - c->written);
    if (n < 0) {
      if (errno != EAGAIN) die(3, "write", c->fd);
      break;
    }
    c->written += (uint64_t)n;
  }
  int want = c->written < c->queued;
  if (want != c->want_out) watch(ep, EPOLL_CTL_MOD, c, EPOLLIN | (want ? EPOLLOUT : 0)), c->want_out = want;
}

static void enqueue(struct conn *c, uint64_t t) {
  c->ts[(c->queued / req_len) % (uint64_t)depth] = t;
  c->queued += req_len;
}

static int run_load(int port, const char *kind, size_t size, int conns, int warm_ms, int meas_ms) {
  make_messages(kind, size);
  sendbuf = malloc(req_len * (size_t)(depth + 1));
  for (int i = 0; i <= depth; i++) memcpy(sendbuf + (size_t)i * req_len, req, req_len);
  int ep = epoll_create1(0);
  struct conn *cs = calloc((size_t)conns, sizeof *cs);
  for (int i = 0; i < conns; i++) {
    cs[i].fd = open_socket(port, 0);
    fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
    cs[i].ts = calloc((size_t)depth, sizeof(uint64_t));
    watch(ep, EPOLL_CTL_ADD, &cs[i], EPOLLIN);
  }
  uint64_t t = now_ns(CLOCK_MONOTONIC), measure_at = t + (uint64_t)warm_ms * 1000000u;
  uint64_t end_at = measure_at + (uint64_t)meas_ms * 1000000u, count = 0, bytes = 0;
  int measuring = 0;
  double cpu0 = 0;
  for (int i = 0; i < conns; i++) {
    for (int d = 0; d < depth; d++) enqueue(&cs[i], t);
    flush_out(ep, &cs[i]);
  }
  struct epoll_event evs[512];
  for (;;) {
    t = now_ns(CLOCK_MONOTONIC);
    if (!measuring && t >= measure_at) measuring = 1, count = 0, bytes = 0, memset(hist, 0, sizeof hist), hist_max = 0, cpu0 = cpu_s();
    if (t >= end_at) break;
    int timeout = (int)(((measuring ? end_at : measure_at) - t) / 1000000u) + 1;
    int n = epoll_wait(ep, evs, 512, timeout);
    if (n < 0 && errno != EINTR) die(3, "epoll_wait", -1);
    for (int k = 0; k < n; k++) {
      struct conn *c = evs[k].data.ptr;
      if (evs[k].events & EPOLLIN) {
        ssize_t r = read(c->fd, rbuf, RBUF);
        if (r == 0) die(3, "closed by server", c - cs);
        if (r < 0 && errno != EAGAIN) die(3, "read", c - cs);
        uint64_t tr = now_ns(CLOCK_MONOTONIC);
        for (ssize_t off = 0; off < r;) {
          size_t o = c->recv % resp_len, m = resp_len - o;
          if (m > (size_t)(r - off)) m = (size_t)(r - off);
          if (memcmp(rbuf + off, resp + o, m) != 0) die(2, "wrong answer byte", c - cs);
          off += (ssize_t)m, c->recv += m, bytes += m;
          if (c->recv % resp_len == 0) {
            uint64_t us = (tr - c->ts[c->done % (uint64_t)depth]) / 1000u;
            c->done++, count++;
            hist[us < HIST_US ? us : HIST_US]++;
            if (us > hist_max) hist_max = us;
            enqueue(c, tr);
          }
        }
      }
      flush_out(ep, c);
    }
  }
  double secs = meas_ms / 1000.0, cpu = cpu_s() - cpu0;
  printf("{\"requests\":%llu,\"seconds\":%.3f,\"rps\":%.1f,\"mbps\":%.1f,\"p50us\":%llu,\"p99us\":%llu,\"maxus\":%llu,\"cpuPct\":%.1f}\n",
         (unsigned long long)count, secs, count / secs, bytes / secs / 1e6, (unsigned long long)percentile(count, 0.5),
         (unsigned long long)percentile(count, 0.99), (unsigned long long)hist_max, 100.0 * cpu / secs);
  return 0;
}

/* ---- storm and hold: N connections, one PING each ---- */
static int run_pings(int ep, struct conn *cs, int n, uint64_t t0, uint64_t deadline, uint64_t *first, uint64_t *last) {
  int answered = 0;
  struct epoll_event evs[512];
  uint64_t *done_at = calloc((size_t)n, sizeof(uint64_t));
  while (answered < n) {
    uint64_t t = now_ns(CLOCK_MONOTONIC);
    if (t >= deadline) {
      printf("{\"error\":\"timeout\",\"answered\":%d,\"of\":%d}\n", answered, n);
      exit(4);
    }
    int k = epoll_wait(ep, evs, 512, (int)((deadline - t) / 1000000u) + 1);
    for (int i = 0; i < k; i++) {
      struct conn *c = evs[i].data.ptr;
      if ((evs[i].events & EPOLLOUT) && !c->sent_ping) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) errno = err, die(3, "connect", c - cs);
        if (write(c->fd, "PING\n", 5) != 5) die(3, "write", c - cs);
        c->sent_ping = 1;
        watch(ep, EPOLL_CTL_MOD, c, EPOLLIN);
      } else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ssize_t r = read(c->fd, rbuf, RBUF);
        if (r <= 0) die(3, r == 0 ? "closed by server" : "read", c - cs);
        if (c->recv + (uint64_t)r > 5 || memcmp(rbuf, "PONG\n" + c->recv, (size_t)r) != 0) die(2, "wrong answer byte", c - cs);
        c->recv += (uint64_t)r;
        if (c->recv == 5) {
          uint64_t tr = now_ns(CLOCK_REALTIME);
          done_at[answered++] = now_ns(CLOCK_MONOTONIC) - t0;
          if (!*first) *first = tr;
          *last = tr;
          watch(ep, EPOLL_CTL_MOD, c, 0);
        }
      }
    }
  }
  memset(hist, 0, sizeof hist), hist_max = 0;
  for (int i = 0; i < n; i++) {
    uint64_t us = done_at[i] / 1000u;
    hist[us < HIST_US ? us : HIST_US]++;
    if (us > hist_max) hist_max = us;
  }
  free(done_at);
  return answered;
}

static struct conn *open_many(int ep, int port, int n, int nonblock_connect) {
  struct conn *cs = calloc((size_t)n, sizeof *cs);
  for (int i = 0; i < n; i++) {
    cs[i].fd = open_socket(port, nonblock_connect);
    if (!nonblock_connect) fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
    watch(ep, EPOLL_CTL_ADD, &cs[i], nonblock_connect ? EPOLLOUT : 0);
  }
  return cs;
}

static int run_storm(int port, int n, int timeout_ms) {
  int ep = epoll_create1(0);
  uint64_t t0 = now_ns(CLOCK_MONOTONIC), first = 0, last = 0;
  struct conn *cs = open_many(ep, port, n, 1);
  run_pings(ep, cs, n, t0, t0 + (uint64_t)timeout_ms * 1000000u, &first, &last);
  double cpu = cpu_s(), total = (double)percentile(n, 1.0) / 1000.0;
  printf("{\"n\":%d,\"allMs\":%.2f,\"p50Ms\":%.2f,\"p99Ms\":%.2f,\"cpuMs\":%.1f}\n", n, total, percentile(n, 0.5) / 1000.0,
         percentile(n, 0.99) / 1000.0, cpu * 1000);
  return 0;
}

static int run_hold(int port, int n, int timeout_ms) {
  int ep = epoll_create1(0);
  uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000u;
  struct conn *cs = open_many(ep, port, n, 0);
  printf("{\"connected\":%d}\n", n);
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "ping", 4) != 0) continue;
    uint64_t t0 = now_ns(CLOCK_MONOTONIC), sent_at = now_ns(CLOCK_REALTIME), first = 0, last = 0;
    for (int i = 0; i < n; i++) cs[i].recv = 0, cs[i].sent_ping = 0, watch(ep, EPOLL_CTL_MOD, &cs[i], EPOLLOUT);
    run_pings(ep, cs, n, t0, deadline, &first, &last);
    printf("{\"sentAtMs\":%.3f,\"firstAtMs\":%.3f,\"lastAtMs\":%.3f}\n", sent_at / 1e6, first / 1e6, last / 1e6);
    fflush(stdout);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 9 && !strcmp(argv[1], "load")) {
    depth = atoi(argv[6]);
    if (depth < 1) depth = 1;
    return run_load(atoi(argv[2]), argv[3], (size_t)atol(argv[4]), atoi(argv[5]), atoi(argv[7]), atoi(argv[8]));
  }
  if (argc >= 5 && !strcmp(argv[1], "storm")) return run_storm(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
  if (argc >= 5 && !strcmp(argv[1], "hold")) return run_hold(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
  fprintf(stderr, "usage: see the comment at the top of loadgen.c\n");
  return 64;
}
