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
      "\"negative\":%ld,\"max\":%.3f,",
      w_frames, w_other_frames, w_bytes, w_reads, w_comments, hb_conns, min_frames < 0 ? 0 : min_frames,
      max_frames, w_lost, w_reordered, w_negative, hist_max);
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
    int n = epoll_wait(ep, evs, 1024, job.active ? 5 : 200);
    for (int i = 0; i < n; i++) {
      uint32_t id = evs[i].data.u32;
      uint32_t e = evs[i].events;
      if (id == UINT32_MAX) {
        on_stdin();
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
  }
}
