/*
 * sse-load: the benchmark's independent SSE load generator (see docs/benchmarks.md, "Issue 9").
 *
 * One process, one epoll loop, non-blocking sockets, no threads. It opens N connections to one
 * address/port (optionally bound to several loopback source addresses so that more than ~28 000
 * connections reach one listener), sends a GET, skips the response head, then counts frames ("\n\n") and,
 * for frames holding "t":<ms since the epoch, fractional>, records now - t (CLOCK_REALTIME, ms) in a
 * histogram; "seq":<n> gaps per connection count lost events; comment lines (":") are counted per
 * connection (heartbeats). Stalled connections send their request and never read.
 *
 * Driven over stdin/stdout, one JSON object per line (bench/lib/c-load.ts is the other end):
 *   {"cmd":"connect","port":P,"path":"/events?topic=bench","headers":{"K":"V"},"count":N,
 *    "stalled":false,"sources":["127.0.0.2"],"concurrency":200,"rcvbuf":0,"mss":0,"timeoutMs":60000}
 *      -> {"type":"connected","open":…,"live":…,"stalled":…,"ok":…,"failed":…,"ms":…,…}
 *   {"cmd":"start"}  -> {"type":"started"}      (zeroes the window's counters and histogram)
 *   {"cmd":"stop"}   -> {"type":"result",…}      (the window's frames, bytes, histogram, heartbeats…)
 *   {"cmd":"status"} -> {"type":"status",…}      (connection and window counters so far, no reset)
 *   {"cmd":"close","count":N} -> {"type":"closed",…}   (closes N live streams)
 *   {"cmd":"exit"}
 *
 * The same program is the publisher of the comparison (a process of its own, started for that):
 *   {"cmd":"publish","port":P,"path":"/publish","body":"sse-broker"|"raw","rate":R,"payloadBytes":B,
 *    "depth":1}                                     -> {"type":"publishing"}
 *   {"cmd":"pause"} -> {"type":"paused"}   {"cmd":"mark"} -> {"type":"mark",…} (the period since the last mark)
 * Each event is one POST on a keep-alive connection, the next when the previous is answered (`depth`
 * connections each with one request in flight), paced on a deadline schedule; more than 100 ms behind, the
 * schedule restarts from now and the skipped events count as missed. The body is the event
 * {"t":<CLOCK_REALTIME ms>,"seq":<n>,"msg":"xxx…"} padded to payloadBytes (`raw`), or that text as the
 * `data` of {"topic":"bench","data":…} (`sse-broker`'s POST /publish).
 *
 * Hand-written in C with no library: the load side must cost far less CPU than the server under test,
 * with no allocation or copy per frame; the JSON it reads is a handful of flat commands, so a minimal
 * parser is enough. Lines of the stream must end in LF (all the benchmarked servers write LF).
 *
 * Build: gcc -O2 -o sse-load sse-load.c (the harness does this on demand, bench/lib/c-load.ts).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---- histogram: the layout of bench/lib/histogram.ts, so both clients' results merge alike ---------- */
#define FINE 100000   /* 0..1000 ms in 10 µs buckets */
#define COARSE 119000 /* 1 s..120 s in 1 ms buckets, then one overflow bucket */
#define NBUCKETS (FINE + COARSE + 1)
static uint32_t hist[NBUCKETS];
static double hist_max;

static void hist_record(double ms) {
  if (!(ms >= 0)) ms = 0; /* also NaN */
  int i = ms < 1000 ? (int)(ms * 100) : ms < 1000 + COARSE ? FINE + (int)(ms - 1000) : FINE + COARSE;
  hist[i]++;
  if (ms > hist_max) hist_max = ms;
}

/*
 * How long one turn of the loop takes (epoll_wait's return to the end of handling its events), while
 * measuring: a frame arriving during a turn waits at most that turn plus its place in the next, so this
 * bounds the latency the client itself adds. 10 µs buckets up to 100 ms, then one overflow bucket.
 */
#define TURN_BUCKETS 10001
static uint32_t turns[TURN_BUCKETS];
static long nturns;
static double turn_max;

static void turn_record(double ms) {
  int i = ms < 100 ? (int)(ms * 100) : TURN_BUCKETS - 1;
  if (i < 0) i = 0;
  turns[i]++;
  nturns++;
  if (ms > turn_max) turn_max = ms;
}

static double turn_quantile(double q) {
  if (nturns == 0) return 0;
  long rank = (long)(q * (double)nturns + 0.999999), seen = 0;
  if (rank < 1) rank = 1;
  for (int i = 0; i < TURN_BUCKETS; i++) {
    seen += turns[i];
    if (seen >= rank) return i == TURN_BUCKETS - 1 ? turn_max : (i + 1) / 100.0;
  }
  return turn_max;
}

/* ---- output ------------------------------------------------------------------------------------------ */
static char *ob;
static size_t ob_len, ob_cap;

static void out(const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ob + ob_len, ob_cap - ob_len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < ob_cap - ob_len) {
      ob_len += (size_t)n;
      return;
    }
    ob_cap = ob_cap * 2 + (size_t)(n > 0 ? n : 0) + 4096;
    ob = realloc(ob, ob_cap);
    if (ob == NULL) abort();
  }
}

static void flush_line(void) {
  out("\n");
  size_t off = 0;
  while (off < ob_len) {
    ssize_t w = write(1, ob + off, ob_len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        usleep(1000);
        continue;
      }
      exit(0); /* orchestrator gone */
    }
    off += (size_t)w;
  }
  ob_len = 0;
}

/* ---- a minimal JSON reader for the commands ------------------------------------------------------------ */
enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct jv {
  int type;
  double num;
  char *str;        /* J_STR */
  struct jv *items; /* J_ARR, J_OBJ values */
  char **keys;      /* J_OBJ */
  int n;
} jv;

static const char *jp;

static void jskip(void) {
  while (*jp == ' ' || *jp == '\t' || *jp == '\r' || *jp == '\n') jp++;
}

static int jparse(jv *v);

static char *jstring(void) {
  /* *jp == '"' */
  jp++;
  size_t cap = 32, len = 0;
  char *s = malloc(cap);
  while (*jp != '"') {
    if (*jp == '\0') {
      free(s);
      return NULL;
    }
    char c = *jp++;
    if (c == '\\') {
      char e = *jp++;
      switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
          /* only what header values and paths need: \u00XX (ASCII/latin1) */
          unsigned code = 0;
          for (int k = 0; k < 4 && *jp != '\0'; k++, jp++) {
            char h = *jp;
            code = code * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
          }
          c = (char)(code & 0xff);
          break;
        }
        case '\0': free(s); return NULL;
        default: c = e;
      }
    }
    if (len + 2 > cap) s = realloc(s, cap *= 2);
    s[len++] = c;
  }
  jp++;
  s[len] = '\0';
  return s;
}

static int jparse(jv *v) {
  memset(v, 0, sizeof *v);
  jskip();
  if (*jp == '{' || *jp == '[') {
    int obj = *jp == '{';
    char close = obj ? '}' : ']';
    v->type = obj ? J_OBJ : J_ARR;
    jp++;
    int cap = 0;
    for (;;) {
      jskip();
      if (*jp == close) {
        jp++;
        return 0;
      }
      if (v->n > 0) {
        if (*jp != ',') return -1;
        jp++;
        jskip();
      }
      if (v->n == cap) {
        cap = cap * 2 + 4;
        v->items = realloc(v->items, (size_t)cap * sizeof *v->items);
        if (obj) v->keys = realloc(v->keys, (size_t)cap * sizeof *v->keys);
      }
      if (obj) {
        if (*jp != '"') return -1;
        char *k = jstring();
        if (k == NULL) return -1;
        v->keys[v->n] = k;
        jskip();
        if (*jp != ':') {
          free(k);
          return -1;
        }
        jp++;
      }
      if (jparse(&v->items[v->n]) != 0) {
        if (obj) free(v->keys[v->n]);
        return -1;
      }
      v->n++;
    }
  }
  if (*jp == '"') {
    v->type = J_STR;
    v->str = jstring();
    return v->str == NULL ? -1 : 0;
  }
  if (strncmp(jp, "true", 4) == 0 || strncmp(jp, "false", 5) == 0) {
    v->type = J_BOOL;
    v->num = *jp == 't';
    jp += *jp == 't' ? 4 : 5;
    return 0;
  }
  if (strncmp(jp, "null", 4) == 0) {
    v->type = J_NULL;
    jp += 4;
    return 0;
  }
  char *end;
  v->num = strtod(jp, &end);
  if (end == jp) return -1;
  v->type = J_NUM;
  jp = end;
  return 0;
}

static void jfree(jv *v) {
  if (v->type == J_STR) free(v->str);
  for (int i = 0; i < v->n; i++) {
    jfree(&v->items[i]);
    if (v->type == J_OBJ) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
}

static jv *jget(jv *o, const char *key) {
  if (o->type != J_OBJ) return NULL;
  for (int i = 0; i < o->n; i++)
    if (strcmp(o->keys[i], key) == 0) return &o->items[i];
  return NULL;
}

static double jnum(jv *o, const char *key, double dflt) {
  jv *v = jget(o, key);
  return v != NULL && (v->type == J_NUM || v->type == J_BOOL) ? v->num : dflt;
}

static const char *jstr(jv *o, const char *key, const char *dflt) {
  jv *v = jget(o, key);
  return v != NULL && v->type == J_STR ? v->str : dflt;
}

/* ---- connections --------------------------------------------------------------------------------------- */
enum { S_FREE, S_CONNECTING, S_SENDING, S_HEAD, S_STREAM, S_STALLED };
enum { N_NONE, N_T, N_SEQ };

typedef struct conn {
  int fd;
  uint8_t state;
  uint8_t in_job;  /* counted by the running connect job until it heads or fails */
  uint8_t hm;      /* progress through "\r\n\r\n" */
  uint8_t status_len;
  char status[12]; /* "HTTP/1.1 200" */
  uint8_t line_start;
  uint8_t km;      /* progress through "t": or "seq": */
  uint8_t num;     /* which number is being read */
  uint8_t frac;
  uint8_t have_t, have_seq;
  uint32_t req_off;
  uint32_t comments;   /* comment lines since the window started */
  uint32_t wframes;    /* frames with "t" since the window started */
  double tv, scale;
  uint64_t nv, seq, last_seq;
} conn;

static conn *conns;
static uint32_t nconns, cap_conns;
static uint32_t *free_ids;
static uint32_t nfree;
static int ep;

/* connection counters (cumulative) */
static long open_live, open_stalled, closed_live, closed_stalled;
static long err_connect, err_status, err_closed_before_head, err_read, err_socket;
static int last_status, last_errno;

/* the measured window's counters (zeroed by "start") */
static int measuring;
static long w_frames, w_other_frames, w_bytes, w_reads, w_comments, w_lost, w_reordered, w_negative;

/* the running connect job: one at a time, the orchestrator waits for "connected" */
static struct {
  int active, stalled, rcvbuf, mss, concurrency, timeout_ms;
  long want, started, done, ok, failed, inflight;
  char *req;
  uint32_t req_len;
  struct sockaddr_in dst;
  struct sockaddr_in *srcs;
  int nsrc, next_src;
  double t0;
} job;

static double now_ms(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static uint32_t alloc_conn(void) {
  if (nfree > 0) return free_ids[--nfree];
  if (nconns == cap_conns) {
    cap_conns = cap_conns * 2 + 1024;
    conns = realloc(conns, cap_conns * sizeof *conns);
    free_ids = realloc(free_ids, cap_conns * sizeof *free_ids);
    if (conns == NULL || free_ids == NULL) abort();
  }
  return nconns++;
}

static void job_settle(conn *c, int ok) {
  if (!c->in_job) return;
  c->in_job = 0;
  job.inflight--;
  job.done++;
  if (ok)
    job.ok++;
  else
    job.failed++;
}

/* `counted`: the caller already counted this failure (a bad status), so a head cut short is not. */
static void close_conn(uint32_t id, int counted) {
  conn *c = &conns[id];
  if (c->state == S_FREE) return;
  if (c->state == S_STREAM) {
    open_live--;
    closed_live++;
  } else if (c->state == S_STALLED) {
    open_stalled--;
    closed_stalled++;
  } else {
    if (c->state == S_HEAD && !counted) err_closed_before_head++;
    job_settle(c, 0);
  }
  close(c->fd);
  c->state = S_FREE;
  c->fd = -1;
  free_ids[nfree++] = id;
}

static void open_conn(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  job.started++;
  if (fd < 0) {
    err_socket++;
    last_errno = errno;
    job.done++;
    job.failed++;
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (job.rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &job.rcvbuf, sizeof job.rcvbuf);
  /* A small MSS in our SYN keeps the server's send buffer small too: on loopback (64 KiB MSS) the kernel
     sizes it from the MSS and would absorb megabytes before the server's own buffer fills. */
  if (job.mss > 0) setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &job.mss, sizeof job.mss);
  if (job.nsrc > 0) {
    /* Let connect() pick the port: the 4-tuple, not the source port alone, must be unique. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in *src = &job.srcs[job.next_src];
    job.next_src = (job.next_src + 1) % job.nsrc;
    if (bind(fd, (struct sockaddr *)src, sizeof *src) != 0) {
      err_connect++;
      last_errno = errno;
      close(fd);
      job.done++;
      job.failed++;
      return;
    }
  }
  int r = connect(fd, (struct sockaddr *)&job.dst, sizeof job.dst);
  if (r != 0 && errno != EINPROGRESS) {
    err_connect++;
    last_errno = errno;
    close(fd);
    job.done++;
    job.failed++;
    return;
  }
  uint32_t id = alloc_conn();
  conn *c = &conns[id];
  memset(c, 0, sizeof *c);
  c->fd = fd;
  c->state = S_CONNECTING;
  c->in_job = 1;
  job.inflight++;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = id};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Sends the rest of the request; then reads the head (live) or waits only for a hang-up (stalled). */
static void send_request(uint32_t id) {
  conn *c = &conns[id];
  while (c->req_off < job.req_len) {
    ssize_t w = write(c->fd, job.req + c->req_off, job.req_len - c->req_off);
    if (w < 0) {
      if (errno == EAGAIN) return;
      if (errno == EINTR) continue;
      err_connect++;
      last_errno = errno;
      close_conn(id, 0);
      return;
    }
    c->req_off += (uint32_t)w;
  }
  struct epoll_event ev = {.data.u32 = id};
  if (job.stalled) {
    c->state = S_STALLED;
    open_stalled++;
    job_settle(c, 1);
    ev.events = EPOLLRDHUP;
  } else {
    c->state = S_HEAD;
    c->hm = 0;
    ev.events = EPOLLIN | EPOLLRDHUP;
  }
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static inline void end_frame(conn *c, double now) {
  if (c->have_t) {
    if (measuring) {
      double lat = now - c->tv;
      if (lat < 0) w_negative++;
      hist_record(lat);
      w_frames++;
      c->wframes++;
    }
  } else if (measuring) {
    w_other_frames++;
  }
  if (c->have_seq) {
    if (measuring && c->last_seq != 0) {
      if (c->seq > c->last_seq + 1)
        w_lost += (long)(c->seq - c->last_seq - 1);
      else if (c->seq <= c->last_seq)
        w_reordered++;
    }
    c->last_seq = c->seq;
  }
  c->have_t = 0;
  c->have_seq = 0;
}

static inline void end_number(conn *c) {
  if (c->num == N_T) {
    c->tv += (double)c->nv;
    c->have_t = 1;
  } else {
    c->seq = c->nv;
    c->have_seq = 1;
  }
  c->num = N_NONE;
}

/* One byte through the event-stream state machine: frames, comment lines, and the "t" and "seq" numbers. */
static inline void step(conn *c, unsigned char ch, double now) {
  if (c->num != N_NONE) {
    if (ch >= '0' && ch <= '9') {
      if (c->frac) {
        c->tv += (ch - '0') * c->scale;
        c->scale *= 0.1;
      } else {
        c->nv = c->nv * 10 + (ch - '0');
      }
      return;
    }
    if (ch == '.' && c->num == N_T && !c->frac) {
      c->frac = 1;
      c->scale = 0.1;
      return;
    }
    end_number(c);
  }
  switch (c->km) {
    case 0: c->km = ch == '"'; break;
    case 1: c->km = ch == 't' ? 2 : ch == 's' ? 4 : ch == '"'; break;
    case 2: c->km = ch == '"' ? 3 : 0; break;
    case 4: c->km = ch == 'e' ? 5 : ch == '"'; break;
    case 5: c->km = ch == 'q' ? 6 : ch == '"'; break;
    case 6: c->km = ch == '"' ? 7 : 0; break;
    case 3:
    case 7:
      if (ch == ':') {
        c->num = c->km == 3 ? N_T : N_SEQ;
        c->nv = 0;
        if (c->num == N_T) c->tv = 0;
        c->frac = 0;
        c->km = 0;
        c->line_start = 0;
        return;
      }
      c->km = ch == '"';
      break;
  }
  if (ch == '\n') {
    if (c->line_start) end_frame(c, now);
    c->line_start = 1;
  } else {
    if (c->line_start && ch == ':') {
      c->comments++;
      if (measuring) w_comments++;
    }
    c->line_start = 0;
  }
}

/*
 * The scanner, across read boundaries. Between a quote or a line start and the next, no byte can change
 * the state but '"' and '\n': memchr (SIMD in glibc) jumps there, so the padding of an event costs little.
 */
static void scan(conn *c, const unsigned char *p, const unsigned char *end, double now) {
  const unsigned char *nl = NULL; /* next '\n' at or after p, when known */
  while (p < end) {
    if (c->num != N_NONE || c->km != 0 || c->line_start) {
      step(c, *p++, now);
      continue;
    }
    if (nl == NULL || nl < p) {
      nl = memchr(p, '\n', (size_t)(end - p));
      if (nl == NULL) nl = end;
    }
    const unsigned char *q = memchr(p, '"', (size_t)(nl - p));
    p = q != NULL ? q : nl;
    if (p < end) step(c, *p++, now);
  }
}

static unsigned char rbuf[1 << 16];

static void on_readable(uint32_t id) {
  conn *c = &conns[id];
  ssize_t n = read(c->fd, rbuf, sizeof rbuf);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) {
      err_read++;
      last_errno = errno;
    }
    close_conn(id, 0);
    return;
  }
  double now = now_ms(CLOCK_REALTIME);
  if (measuring) {
    w_bytes += n;
    w_reads++;
  }
  const unsigned char *p = rbuf, *end = rbuf + n;
  if (c->state == S_HEAD) {
    for (; p < end && c->hm < 4; p++) {
      unsigned char ch = *p;
      if (c->status_len < sizeof c->status) c->status[c->status_len++] = (char)ch;
      if (ch == '\r')
        c->hm = c->hm == 2 ? 3 : 1;
      else if (ch == '\n')
        c->hm = c->hm == 1 ? 2 : c->hm == 3 ? 4 : 0;
      else
        c->hm = 0;
    }
    if (c->hm < 4) return;
    int status = c->status_len >= 12 ? atoi(c->status + 9) : 0;
    if (status != 200) {
      err_status++;
      last_status = status;
      close_conn(id, 1);
      return;
    }
    c->state = S_STREAM;
    c->line_start = 1;
    open_live++;
    job_settle(c, 1);
  }
  scan(c, p, end, now);
}

/* ---- the publisher ---------------------------------------------------------------------------------- */
#define PUB_BIT 0x80000000u
#define PUB_MAX 64
enum { P_CLOSED, P_CONNECTING, P_IDLE, P_SENDING, P_WAITING };

typedef struct pconn {
  int fd;
  int state;
  char *req;
  size_t req_len, req_off;
  char in[8192];
  size_t in_len;
  double t0; /* CLOCK_MONOTONIC ms when sent */
} pconn;

static pconn pconns[PUB_MAX];
static struct {
  int running, depth, raw, payload;
  double interval, next; /* ms, CLOCK_MONOTONIC */
  struct sockaddr_in dst;
  char path[512];
  char *pad;
  long seq;
  /* the period since the last mark */
  double at;
  long sent, answered, failed, missed;
  int last_failure;
} pub;
static uint32_t phist[NBUCKETS];
static long phist_n;
static double phist_max;

static void phist_record(double ms) {
  if (!(ms >= 0)) ms = 0;
  int i = ms < 1000 ? (int)(ms * 100) : ms < 1000 + COARSE ? FINE + (int)(ms - 1000) : FINE + COARSE;
  phist[i]++;
  phist_n++;
  if (ms > phist_max) phist_max = ms;
}

/* Upper edge of the bucket holding the q-quantile (the rule of bench/lib/histogram.ts), -1 when empty. */
static double phist_quantile(double q) {
  if (phist_n == 0) return -1;
  long rank = (long)(q * (double)phist_n + 0.999999), seen = 0;
  if (rank < 1) rank = 1;
  for (int i = 0; i < NBUCKETS; i++) {
    seen += phist[i];
    if (seen >= rank) return i < FINE ? (i + 1) / 100.0 : 1000 + (i - FINE + 1);
  }
  return phist_max;
}

static void pconn_close(int k) {
  pconn *c = &pconns[k];
  if (c->state == P_CLOSED) return;
  if (c->state == P_SENDING || c->state == P_WAITING) {
    pub.failed++;
    pub.last_failure = 0;
  }
  close(c->fd);
  c->state = P_CLOSED;
  c->in_len = 0;
}

static void pconn_open(int k) {
  pconn *c = &pconns[k];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&pub.dst, sizeof pub.dst) != 0 && errno != EINPROGRESS) {
    close(fd);
    return;
  }
  c->fd = fd;
  c->state = P_CONNECTING;
  c->in_len = 0;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = PUB_BIT | (uint32_t)k};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void pconn_want(int k, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u32 = PUB_BIT | (uint32_t)k};
  epoll_ctl(ep, EPOLL_CTL_MOD, pconns[k].fd, &ev);
}

static void pconn_flush(int k) {
  pconn *c = &pconns[k];
  while (c->req_off < c->req_len) {
    ssize_t w = write(c->fd, c->req + c->req_off, c->req_len - c->req_off);
    if (w < 0) {
      if (errno == EAGAIN) {
        pconn_want(k, EPOLLOUT);
        return;
      }
      if (errno == EINTR) continue;
      pconn_close(k);
      return;
    }
    c->req_off += (size_t)w;
  }
  c->state = P_WAITING;
  pconn_want(k, EPOLLIN | EPOLLRDHUP);
}

/* One event: stamped with the wall clock now, sent on connection k (idle). */
static void publish_one(int k) {
  pconn *c = &pconns[k];
  double t = now_ms(CLOCK_REALTIME);
  long seq = ++pub.seq;
  char body[20000];
  int blen;
  if (pub.raw)
    blen = snprintf(body, sizeof body, "{\"t\":%.3f,\"seq\":%ld,\"msg\":\"%s\"}", t, seq, pub.pad);
  else
    blen = snprintf(body, sizeof body, "{\"topic\":\"bench\",\"data\":\"{\\\"t\\\":%.3f,\\\"seq\\\":%ld,\\\"msg\\\":\\\"%s\\\"}\"}",
                    t, seq, pub.pad);
  size_t cap = (size_t)blen + 1024;
  c->req = realloc(c->req, cap);
  int hl = snprintf(c->req, cap,
                    "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                    pub.path, ntohs(pub.dst.sin_port), blen);
  memcpy(c->req + hl, body, (size_t)blen);
  c->req_len = (size_t)hl + (size_t)blen;
  c->req_off = 0;
  c->t0 = now_ms(CLOCK_MONOTONIC);
  c->state = P_SENDING;
  pub.sent++;
  pconn_flush(k);
}

/* Case-insensitive search for a header's value in the head (NUL-terminated), or NULL. */
static const char *header_value(const char *head, const char *name) {
  size_t n = strlen(name);
  for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
      const char *v = p + 3 + n;
      while (*v == ' ') v++;
      return v;
    }
  }
  return NULL;
}

/* Reads the answer; once complete (Content-Length or a chunked body's last chunk), records it. */
static void pconn_read(int k) {
  pconn *c = &pconns[k];
  if (c->in_len >= sizeof c->in - 1) c->in_len = 0; /* a larger answer than we keep: its tail still ends it */
  ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    pconn_close(k);
    return;
  }
  c->in_len += (size_t)n;
  c->in[c->in_len] = '\0';
  char *end = strstr(c->in, "\r\n\r\n");
  if (end == NULL) return;
  *end = '\0';
  const char *cl = header_value(c->in, "content-length");
  const char *te = header_value(c->in, "transfer-encoding");
  const char *conn = header_value(c->in, "connection");
  int status = c->in_len > 12 ? atoi(c->in + 9) : 0;
  size_t body_at = (size_t)(end - c->in) + 4;
  int complete;
  if (te != NULL && strncasecmp(te, "chunked", 7) == 0) {
    c->in[body_at - 4] = '\r';
    complete = strstr(c->in + body_at, "0\r\n\r\n") != NULL;
    c->in[body_at - 4] = '\0';
  } else {
    complete = c->in_len >= body_at + (size_t)(cl == NULL ? 0 : atol(cl));
  }
  if (!complete) {
    *end = '\r';
    return;
  }
  int keep = conn == NULL || strncasecmp(conn, "close", 5) != 0;
  if (status >= 200 && status < 300) {
    pub.answered++;
    phist_record(now_ms(CLOCK_MONOTONIC) - c->t0);
  } else {
    pub.failed++;
    pub.last_failure = status;
  }
  c->in_len = 0;
  c->state = P_IDLE;
  pconn_want(k, EPOLLRDHUP);
  if (!keep) {
    close(c->fd);
    c->state = P_CLOSED;
  }
}

static void on_pub_event(int k, uint32_t e) {
  pconn *c = &pconns[k];
  if (c->state == P_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (e & (EPOLLERR | EPOLLHUP))) {
      close(c->fd);
      c->state = P_CLOSED;
      pub.failed++;
      pub.last_failure = 0;
      return;
    }
    c->state = P_IDLE;
    pconn_want(k, EPOLLRDHUP);
    return;
  }
  if (c->state == P_SENDING && (e & EPOLLOUT)) pconn_flush(k);
  else if (c->state == P_WAITING && (e & EPOLLIN)) pconn_read(k);
  else if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) pconn_close(k);
}

/*
 * Sends what is due on idle connections; returns ms until the next send is due, or -1 when there is no
 * deadline to wait for (paused, or behind with every connection busy: an answer wakes the loop).
 */
static double pub_pump(void) {
  if (!pub.running) return -1;
  double now = now_ms(CLOCK_MONOTONIC);
  if (now - pub.next > 100) {
    pub.missed += (long)((now - pub.next) / pub.interval);
    pub.next = now;
  }
  for (int k = 0; k < pub.depth && pub.next <= now; k++) {
    if (pconns[k].state == P_CLOSED) pconn_open(k);
    if (pconns[k].state != P_IDLE) continue;
    publish_one(k);
    pub.next += pub.interval;
  }
  return pub.next > now ? pub.next - now : -1;
}

static void cmd_publish(jv *m) {
  int port = (int)jnum(m, "port", 0);
  pub.dst.sin_family = AF_INET;
  pub.dst.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, jstr(m, "host", "127.0.0.1"), &pub.dst.sin_addr);
  snprintf(pub.path, sizeof pub.path, "%s", jstr(m, "path", "/publish"));
  pub.raw = strcmp(jstr(m, "body", "raw"), "raw") == 0;
  double rate = jnum(m, "rate", 100);
  pub.interval = 1000.0 / (rate > 0 ? rate : 1);
  int depth = (int)jnum(m, "depth", 1);
  pub.depth = depth < 1 ? 1 : depth > PUB_MAX ? PUB_MAX : depth;
  /* the payload's padding: {"t":1764123456789.123,"seq":1000000,"msg":""} is 45 bytes (control.ts padFor) */
  int payload = (int)jnum(m, "payloadBytes", 160);
  int padlen = payload > 45 ? payload - 45 : 0;
  if (padlen > 16000) padlen = 16000;
  free(pub.pad);
  pub.pad = malloc((size_t)padlen + 1);
  memset(pub.pad, 'x', (size_t)padlen);
  pub.pad[padlen] = '\0';
  for (int k = 0; k < pub.depth; k++)
    if (pconns[k].state == P_CLOSED) pconn_open(k);
  pub.running = 1;
  pub.next = now_ms(CLOCK_MONOTONIC);
  if (pub.at == 0) pub.at = pub.next;
  out("{\"type\":\"publishing\"}");
  flush_line();
}

static void cmd_mark(void) {
  double now = now_ms(CLOCK_MONOTONIC);
  double p50 = phist_quantile(0.5), p99 = phist_quantile(0.99);
  out("{\"type\":\"mark\",\"seconds\":%.3f,\"sent\":%ld,\"answered\":%ld,\"failed\":%ld,\"missed\":%ld,", pub.at == 0 ? 0 : (now - pub.at) / 1000, pub.sent, pub.answered,
      pub.failed, pub.missed);
  if (p50 >= 0) out("\"p50ms\":%.2f,\"p99ms\":%.2f,\"maxMs\":%.3f,", p50, p99, phist_max);
  out("\"lastFailure\":%d}", pub.last_failure);
  flush_line();
  memset(phist, 0, sizeof phist);
  phist_n = 0;
  phist_max = 0;
  pub.at = now;
  pub.sent = pub.answered = pub.failed = pub.missed = 0;
  pub.last_failure = -1;
}

/* ---- commands ------------------------------------------------------------------------------------------ */
static void out_counters(void) {
  out("\"open\":%ld,\"live\":%ld,\"stalled\":%ld,\"closed\":%ld,\"stalledClosed\":%ld,\"errors\":%ld,"
      "\"errorKinds\":{\"socket\":%ld,\"connect\":%ld,\"status\":%ld,\"closedBeforeHead\":%ld,\"read\":%ld},"
      "\"lastStatus\":%d,\"lastErrno\":%d",
      open_live + open_stalled, open_live, open_stalled, closed_live, closed_stalled,
      err_socket + err_connect + err_status + err_closed_before_head + err_read, err_socket, err_connect,
      err_status, err_closed_before_head, err_read, last_status, last_errno);
}

static void answer_connected(int timed_out) {
  out("{\"type\":\"connected\",\"ok\":%ld,\"failed\":%ld,\"ms\":%.1f,\"timedOut\":%s,", job.ok, job.failed,
      now_ms(CLOCK_MONOTONIC) - job.t0, timed_out ? "true" : "false");
  out_counters();
  out("}");
  flush_line();
  job.active = 0;
}

static void cmd_connect(jv *m) {
  if (job.active) {
    out("{\"type\":\"error\",\"message\":\"a connect is already running\"}");
    flush_line();
    return;
  }
  free(job.req);
  free(job.srcs);
  memset(&job, 0, sizeof job);
  const char *host = jstr(m, "host", "127.0.0.1");
  int port = (int)jnum(m, "port", 0);
  const char *path = jstr(m, "path", "/");
  job.want = (long)jnum(m, "count", 0);
  job.stalled = jnum(m, "stalled", 0) != 0;
  job.rcvbuf = (int)jnum(m, "rcvbuf", 0);
  job.mss = (int)jnum(m, "mss", 0);
  job.concurrency = (int)jnum(m, "concurrency", 200);
  if (job.concurrency < 1) job.concurrency = 1;
  job.timeout_ms = (int)jnum(m, "timeoutMs", 60000);
  job.dst.sin_family = AF_INET;
  job.dst.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &job.dst.sin_addr) != 1) {
    out("{\"type\":\"error\",\"message\":\"bad host\"}");
    flush_line();
    return;
  }
  jv *srcs = jget(m, "sources");
  if (srcs != NULL && srcs->type == J_ARR && srcs->n > 0) {
    job.srcs = calloc((size_t)srcs->n, sizeof *job.srcs);
    for (int i = 0; i < srcs->n; i++) {
      job.srcs[job.nsrc].sin_family = AF_INET;
      if (srcs->items[i].type == J_STR && inet_pton(AF_INET, srcs->items[i].str, &job.srcs[job.nsrc].sin_addr) == 1)
        job.nsrc++;
    }
  }
  /* the request, built once and written by every connection */
  size_t cap = 512 + strlen(path) + strlen(host);
  jv *hs = jget(m, "headers");
  if (hs != NULL && hs->type == J_OBJ)
    for (int i = 0; i < hs->n; i++)
      if (hs->items[i].type == J_STR) cap += strlen(hs->keys[i]) + strlen(hs->items[i].str) + 4;
  job.req = malloc(cap);
  int len = snprintf(job.req, cap, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n", path, host, port);
  if (hs != NULL && hs->type == J_OBJ)
    for (int i = 0; i < hs->n; i++)
      if (hs->items[i].type == J_STR)
        len += snprintf(job.req + len, cap - (size_t)len, "%s: %s\r\n", hs->keys[i], hs->items[i].str);
  len += snprintf(job.req + len, cap - (size_t)len, "\r\n");
  job.req_len = (uint32_t)len;
  job.t0 = now_ms(CLOCK_MONOTONIC);
  job.active = 1;
}

static void cmd_start(void) {
  memset(hist, 0, sizeof hist);
  hist_max = 0;
  memset(turns, 0, sizeof turns);
  nturns = 0;
  turn_max = 0;
  w_frames = w_other_frames = w_bytes = w_reads = w_comments = w_lost = w_reordered = w_negative = 0;
  for (uint32_t i = 0; i < nconns; i++) {
    conns[i].comments = 0;
    conns[i].wframes = 0;
  }
  measuring = 1;
  out("{\"type\":\"started\"}");
  flush_line();
}

static void cmd_stop(void) {
  measuring = 0;
  long hb_conns = 0, min_frames = -1, max_frames = 0;
  for (uint32_t i = 0; i < nconns; i++) {
    conn *c = &conns[i];
    if (c->state != S_STREAM) continue;
    if (c->comments > 0) hb_conns++;
    if (min_frames < 0 || c->wframes < min_frames) min_frames = c->wframes;
    if (c->wframes > max_frames) max_frames = c->wframes;
  }
  out("{\"type\":\"result\",\"frames\":%ld,\"otherFrames\":%ld,\"bytes\":%ld,\"reads\":%ld,\"comments\":%ld,"
      "\"heartbeatConns\":%ld,\"minFramesPerConn\":%ld,\"maxFramesPerConn\":%ld,\"lost\":%ld,\"reordered\":%ld,"
      "\"negative\":%ld,\"max\":%.3f,\"turns\":%ld,\"turnP50\":%.2f,\"turnP99\":%.2f,\"turnMax\":%.3f,",
      w_frames, w_other_frames, w_bytes, w_reads, w_comments, hb_conns, min_frames < 0 ? 0 : min_frames,
      max_frames, w_lost, w_reordered, w_negative, hist_max, nturns, turn_quantile(0.5), turn_quantile(0.99),
      turn_max);
  out_counters();
  out(",\"hist\":[");
  int first = 1;
  for (int i = 0; i < NBUCKETS; i++) {
    if (hist[i] == 0) continue;
    out(first ? "[%d,%u]" : ",[%d,%u]", i, hist[i]);
    first = 0;
  }
  out("]}");
  flush_line();
}

static void cmd_close(jv *m) {
  long want = (long)jnum(m, "count", 0), n = 0;
  for (uint32_t i = nconns; i-- > 0 && n < want;) {
    if (conns[i].state != S_STREAM) continue;
    close_conn(i, 0);
    n++;
  }
  out("{\"type\":\"closed\",\"count\":%ld,", n);
  out_counters();
  out("}");
  flush_line();
}

static void command(char *line) {
  jv m;
  jp = line;
  if (jparse(&m) != 0 || m.type != J_OBJ) {
    jfree(&m);
    out("{\"type\":\"error\",\"message\":\"bad command line\"}");
    flush_line();
    return;
  }
  const char *cmd = jstr(&m, "cmd", "");
  if (strcmp(cmd, "connect") == 0)
    cmd_connect(&m);
  else if (strcmp(cmd, "start") == 0)
    cmd_start();
  else if (strcmp(cmd, "stop") == 0)
    cmd_stop();
  else if (strcmp(cmd, "close") == 0)
    cmd_close(&m);
  else if (strcmp(cmd, "publish") == 0)
    cmd_publish(&m);
  else if (strcmp(cmd, "pause") == 0) {
    pub.running = 0;
    out("{\"type\":\"paused\"}");
    flush_line();
  } else if (strcmp(cmd, "mark") == 0)
    cmd_mark();
  else if (strcmp(cmd, "status") == 0) {
    out("{\"type\":\"status\",\"measuring\":%s,\"frames\":%ld,\"otherFrames\":%ld,\"comments\":%ld,",
        measuring ? "true" : "false", w_frames, w_other_frames, w_comments);
    out_counters();
    out("}");
    flush_line();
  } else if (strcmp(cmd, "exit") == 0) {
    exit(0);
  } else {
    out("{\"type\":\"error\",\"message\":\"unknown command\"}");
    flush_line();
  }
  jfree(&m);
}

static char *ib;
static size_t ib_len, ib_cap;

static void on_stdin(void) {
  for (;;) {
    if (ib_cap - ib_len < 4096) {
      ib_cap = ib_cap * 2 + 8192;
      ib = realloc(ib, ib_cap);
    }
    ssize_t n = read(0, ib + ib_len, ib_cap - ib_len - 1);
    if (n == 0) exit(0); /* orchestrator gone: never linger */
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      exit(0);
    }
    ib_len += (size_t)n;
  }
  size_t start = 0;
  for (size_t i = 0; i < ib_len; i++) {
    if (ib[i] != '\n') continue;
    ib[i] = '\0';
    if (i > start) command(ib + start);
    start = i + 1;
  }
  memmove(ib, ib + start, ib_len - start);
  ib_len -= start;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event sev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
  out("{\"type\":\"ready\",\"pid\":%d,\"maxFiles\":%ld}", (int)getpid(), (long)rl.rlim_cur);
  flush_line();
  static struct epoll_event evs[1024];
  for (;;) {
    if (job.active) {
      while (job.inflight < job.concurrency && job.started < job.want) open_conn();
      if (job.done >= job.want)
        answer_connected(0);
      else if (now_ms(CLOCK_MONOTONIC) - job.t0 > job.timeout_ms) {
        /* What has not headed by now is closed and counted as failed. */
        for (uint32_t i = 0; i < nconns; i++)
          if (conns[i].in_job) close_conn(i, 0);
        answer_connected(1);
      }
    }
    double due = pub_pump();
    int timeout_ms = job.active ? 5 : 200;
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    if (due >= 0 && due < timeout_ms) {
      ts.tv_sec = (time_t)(due / 1000);
      ts.tv_nsec = (long)((due - (double)ts.tv_sec * 1000) * 1e6);
    }
    /* epoll_pwait2: a sub-millisecond timeout, so the publisher keeps its schedule at 1000 events/s */
    int n = epoll_pwait2(ep, evs, 1024, &ts, NULL);
    double turn0 = measuring && n > 0 ? now_ms(CLOCK_MONOTONIC) : 0;
    for (int i = 0; i < n; i++) {
      uint32_t id = evs[i].data.u32;
      uint32_t e = evs[i].events;
      if (id == UINT32_MAX) {
        on_stdin();
        continue;
      }
      if (id & PUB_BIT) {
        on_pub_event((int)(id & ~PUB_BIT), e);
        continue;
      }
      conn *c = &conns[id];
      switch (c->state) {
        case S_CONNECTING: {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0 || (e & (EPOLLERR | EPOLLHUP))) {
            err_connect++;
            last_errno = err;
            close_conn(id, 0);
            break;
          }
          c->state = S_SENDING;
          send_request(id);
          break;
        }
        case S_SENDING:
          send_request(id);
          break;
        case S_HEAD:
        case S_STREAM:
          if (e & EPOLLIN)
            on_readable(id);
          else if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            close_conn(id, 0);
          break;
        case S_STALLED:
          /* never read: only a hang-up by the server is noticed */
          if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) close_conn(id, 0);
          break;
        default:
          break;
      }
    }
    if (turn0 > 0 && measuring) turn_record(now_ms(CLOCK_MONOTONIC) - turn0);
  }
}
