/*
 * zipf_get.ts in C: the same load (each client one connection sending one
 * GET at a time, keys `key:<12 digits>` picked with a Zipf law of exponent
 * --zipf over --keys keys, a warm-up not counted, then --seconds measured)
 * and the same one-line JSON, at a fraction of the CPU. On a two-core
 * machine the Deno generator takes a whole core, which leaves the target
 * under test one core; redis-benchmark, the other cells' generator, takes a
 * fraction of one. This one is for comparing targets at the same cost of
 * load, like redis-benchmark; zipf_get.ts stays the reference for the Zipf
 * law (both draw ranks the same way).
 *
 *   cc -O2 -o zipf_get bench/zipf_get.c -lm
 *   ./zipf_get --port 6379 --clients 50 --seconds 5 --keys 100000 --zipf 0.99 [--warmup 1]
 *
 * Single-threaded, epoll, non-blocking sockets, TCP_NODELAY; replies up to 64 KiB.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define KEY_FRAME_LEN 36 /* "*2\r\n$3\r\nGET\r\n$16\r\nkey:%012d\r\n" */
#define BUF_SIZE 65536

struct conn {
  int fd;
  int key;
  int have;
  double t0;
  unsigned char buf[BUF_SIZE];
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double uniform(void) { /* xorshift64*, [0, 1) */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

static double *cdf;
static int nkeys;

static int pick(double u) {
  int lo = 0, hi = nkeys - 1;
  while (lo < hi) {
    int mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Length of the complete reply at the start of buf[0, end), or -1 (as zipf_get.ts). */
static int reply_length(const unsigned char *buf, int end) {
  int i = 1;
  while (i < end && buf[i] != 13) i++;
  if (i + 1 >= end) return -1;
  if (buf[0] != '$') return i + 2;
  long n = 0;
  int neg = 0;
  for (int j = 1; j < i; j++) {
    if (buf[j] == '-') neg = 1;
    else n = n * 10 + (buf[j] - '0');
  }
  if (neg) return i + 2;
  long total = i + 2 + n + 2;
  return total <= end ? (int)total : -1;
}

static int send_get(struct conn *c) {
  char frame[KEY_FRAME_LEN + 1];
  c->key = pick(uniform());
  snprintf(frame, sizeof frame, "*2\r\n$3\r\nGET\r\n$16\r\nkey:%012d\r\n", c->key);
  c->t0 = now_ms();
  c->have = 0;
  ssize_t n = write(c->fd, frame, KEY_FRAME_LEN);
  return n == KEY_FRAME_LEN ? 0 : -1; /* 36 bytes into an empty socket buffer: all or error */
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int port = 0, clients = 50;
  double seconds = 5, warmup = 1, s = 0.99;
  nkeys = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--clients")) clients = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--keys")) nkeys = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--zipf")) s = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--warmup")) warmup = atof(argv[i + 1]);
    else {
      fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (port <= 0 || clients <= 0 || nkeys <= 0) {
    fprintf(stderr, "usage: zipf_get --port P [--clients N] [--seconds S] [--keys K] [--zipf E] [--warmup S]\n");
    return 2;
  }
  rng_state ^= (uint64_t)getpid() << 17 ^ (uint64_t)now_ms();
  cdf = malloc(sizeof(double) * nkeys);
  double sum = 0;
  for (int i = 0; i < nkeys; i++) cdf[i] = sum += s == 0 ? 1 : 1 / pow(i + 1, s);
  for (int i = 0; i < nkeys; i++) cdf[i] /= sum;

  int ep = epoll_create1(0);
  struct conn *conns = calloc(clients, sizeof(struct conn));
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  for (int i = 0; i < clients; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
      perror("connect");
      return 1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }

  size_t lat_cap = 1 << 20, nlat = 0;
  double *lat = malloc(sizeof(double) * lat_cap);
  long ops = 0, warm_ops = 0, errors = 0;
  double start = now_ms(), measure = start + warmup * 1e3, until = measure + seconds * 1e3;
  int measuring = warmup <= 0, stopping = 0, open = clients;
  for (int i = 0; i < clients; i++) {
    if (send_get(&conns[i]) != 0) {
      perror("write");
      return 1;
    }
  }
  struct epoll_event evs[256];
  while (open > 0) {
    int n = epoll_wait(ep, evs, 256, 100);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      return 1;
    }
    double t = now_ms();
    if (!measuring && t >= measure) {
      measuring = 1;
      start = t;
    }
    if (measuring && t >= until) stopping = 1;
    for (int e = 0; e < n; e++) {
      struct conn *c = evs[e].data.ptr;
      ssize_t r = read(c->fd, c->buf + c->have, BUF_SIZE - c->have);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        fprintf(stderr, "connection closed\n");
        return 1;
      }
      c->have += r;
      int len = reply_length(c->buf, c->have);
      if (len < 0) continue;
      if (c->buf[0] == '-') errors++;
      if (measuring) {
        if ((ops & 7) == 0) {
          if (nlat == lat_cap) lat = realloc(lat, sizeof(double) * (lat_cap *= 2));
          lat[nlat++] = now_ms() - c->t0;
        }
        ops++;
      } else {
        warm_ops++;
      }
      if (stopping) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        open--;
      } else if (send_get(c) != 0) {
        perror("write");
        return 1;
      }
    }
  }
  double elapsed = (now_ms() - start) / 1e3;
  qsort(lat, nlat, sizeof(double), cmp_double);
  double p50 = nlat ? lat[(size_t)(0.5 * (nlat - 1))] : 0, p99 = nlat ? lat[(size_t)(0.99 * (nlat - 1))] : 0;
  printf("{\"clients\":%d,\"seconds\":%.3f,\"ops\":%ld,\"opsPerSec\":%ld,\"p50Ms\":%.4f,\"p99Ms\":%.4f,"
         "\"errors\":%ld,\"warmupOps\":%ld}\n",
         clients, elapsed, ops, lround(ops / elapsed), p50, p99, errors, warm_ops);
  return 0;
}
