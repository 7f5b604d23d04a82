// tincan_udp: a batched IPv4 UDP socket for Node (Linux), plain N-API + libuv.
// Contract (JS side: src/datagram/native-udp.ts, which validates first; every
// argument is checked again here and never trusted):
// - open(addrU32, port, rcvbuf, sndbuf, flags, onRecv) -> [handle, staging,
//   sendMeta, recvMeta, counters, localAddrU32, localPort, rcvbuf, sndbuf] or a
//   negative errno. Non-blocking, close-on-exec socket; UDP_GRO and SO_RXQ_OVFL on.
// - Receive: a uv_poll_t on the Node loop; on readable, recvmmsg into a per-socket
//   arena (RECV_MSGS x 64 KiB), GRO super-datagrams split at their segment size,
//   copied compactly into ONE fresh ArrayBuffer per JS call (<= 256 KiB unless one
//   datagram is larger, so a kept view pins little; the receiver owns it),
//   with (offset, length, address, port) per datagram in the shared recvMeta. JS is
//   called once per batch (napi_make_callback: microtasks run after it, a throw
//   goes to 'uncaughtException'); at most 4 recvmmsg batches per poll wake-up
//   (flags bits 8-15: another bound, 1..64, for experiments).
// - Send: flush(handle, count) sends `count` entries (offset, length, address, port)
//   of sendMeta from the staging buffer with sendmmsg, coalescing runs of equal-size
//   datagrams to one destination into UDP GSO messages. What the kernel has no room
//   for (EAGAIN/ENOBUFS) is copied to a bounded native queue (4 MiB; beyond: dropped
//   and counted) and resent when the socket is writable (a head the kernel keeps
//   refusing while writable is given up after 64 tries, counted as a send error).
//   Per-message errors are counted and skipped; GSO refused by the device (EIO...)
//   turns GSO off.
// - close(handle, onClosed): one last attempt at the queue, stop polling, close the
//   fd in the uv_close callback, then onClosed(). Idempotent. An async env cleanup
//   hook closes sockets still open when the environment is torn down.
// All memory shared with JS is owned here (external ArrayBuffers), so JS can never
// free or resize it under us; offsets and lengths from JS are bounds-checked.
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

#define MAX_PAYLOAD 65507u
#define RECV_MSGS 32
#define RECV_SLOT 65536u
#define RECV_BATCHES_PER_POLL 4
#define RECV_META_CAP 4096u      /* datagrams per JS call */
#define RECV_CHUNK_BYTES (256u << 10) /* bytes per JS call (bounds what one kept view pins) */
#define SEND_META_CAP 1024u      /* entries per flush (also sendmmsg's UIO_MAXIOV) */
#define STAGING_BYTES (1u << 20) /* send staging shared with JS */
#define GSO_MAX_SEGS 64u
#define QUEUE_CAP_BYTES (4u << 20)
#define CMSG_RECV_SPACE 128
#define STALL_LIMIT 64           /* writable wake-ups without progress before the queue head is given up */

/* counters (Float64Array shared with JS; indices mirrored in native-udp.ts) */
enum {
  C_SENT, C_RECEIVED, C_DROPPED, C_SEND_ERRORS, C_SEND_SYSCALLS, C_RECV_SYSCALLS,
  C_GSO_MESSAGES, C_GSO_SEGMENTS, C_GRO_SEGMENTS, C_RECV_BATCHES, C_QUEUED, C_QUEUE_DROPS,
  C_RX_OVERFLOW, C_TRUNCATED, C_RECV_ERRORS, C_LAST_ERRNO, C_GSO_ON, C_GRO_ON,
  C_SEND_BLOCKED, C_GSO_FALLBACKS, C_GSO_MAX_SEGMENT, C_COUNT
};
#define COUNTERS_LEN 32

typedef struct { uint32_t off, len, addr, port; } entry_t;

typedef struct {
  napi_env env;
  int fd;
  uv_poll_t poll;
  int poll_events;
  int closing;      /* close() or teardown started: no more I/O, no more JS calls for data */
  int handle_closed;/* uv_close callback ran (fd closed) */
  int finalized;    /* the JS handle was garbage-collected */
  int teardown;     /* env teardown: never call JS */
  int gso;          /* GSO in use (off when the device refused it) */
  int gro;          /* UDP_GRO is on: a datagram may be a super-datagram */
  int recv_batches; /* recvmmsg calls per poll wake-up at most */
  uint32_t gso_max_seg; /* coalesce only segments shorter than this (an EINVAL lowers it) */
  napi_ref on_recv;
  napi_ref on_closed;
  napi_async_context actx;
  napi_async_cleanup_hook_handle hook;
  /* shared with JS */
  uint8_t* staging;
  uint32_t* send_meta;
  uint32_t* recv_meta;
  double* ctr;
  /* receive */
  uint8_t* arena;
  struct mmsghdr rmsgs[RECV_MSGS];
  struct iovec riov[RECV_MSGS];
  struct sockaddr_in rname[RECV_MSGS];
  uint8_t rcmsg[RECV_MSGS][CMSG_RECV_SPACE];
  struct { const uint8_t* p; uint32_t len, addr, port; } segs[RECV_META_CAP];
  uint32_t nsegs;
  uint64_t seg_bytes;
  /* send */
  struct mmsghdr smsgs[SEND_META_CAP];
  struct iovec siov[SEND_META_CAP];
  struct sockaddr_in sname[SEND_META_CAP];
  uint8_t scmsg[SEND_META_CAP][CMSG_SPACE(sizeof(uint16_t))];
  uint32_t mfirst[SEND_META_CAP], mcount[SEND_META_CAP];
  entry_t ents[SEND_META_CAP];
  /* queue of datagrams the kernel had no room for */
  uint8_t* qbuf;
  uint32_t qused, qcap;
  entry_t* qents;
  uint32_t qn, qecap;
  /* tests: make the next `inject_count` sendmmsg calls fail with inject_errno */
  int inject_errno, inject_count;
  int stalls;
} sock_t;

static const napi_type_tag SOCK_TAG = {0x7a1c5e0d3b2f4a61ULL, 0x9e8d7c6b5a493827ULL};

static void maybe_free(sock_t* s) {
  if (!s->finalized || !s->handle_closed) return;
  free(s->arena);
  free(s->qbuf);
  free(s->qents);
  free(s->staging);
  free(s->send_meta);
  free(s->recv_meta);
  free(s->ctr);
  free(s);
}

static void noop_finalize(napi_env env, void* data, void* hint) {}

/* ---------- helpers ---------- */

static int get_sock(napi_env env, napi_value v, sock_t** out) {
  napi_valuetype t;
  bool ok = false;
  void* p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return 0;
  if (napi_check_object_type_tag(env, v, &SOCK_TAG, &ok) != napi_ok || !ok) return 0;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) return 0;
  *out = (sock_t*)p;
  return 1;
}

static int get_u32(napi_env env, napi_value v, uint32_t* out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) return 0;
  *out = (uint32_t)d;
  return 1;
}

static int is_function(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_function;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static napi_value undef(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

static napi_value throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* Call a JS function from a libuv callback (not from JS): callback scope semantics,
 * and an exception becomes an uncaught exception, as for any event callback. */
static void call_js(sock_t* s, napi_ref ref, size_t argc, napi_value* argv) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  if (ref == NULL || napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  napi_status st = napi_make_callback(env, s->actx, recv, fn, argc, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
  (void)st;
}

static void update_poll(sock_t* s);

/* ---------- send ---------- */

static int sendmmsg_retry(sock_t* s, struct mmsghdr* m, unsigned n) {
  int r;
  if (s->inject_count > 0) {
    s->inject_count--;
    errno = s->inject_errno;
    s->ctr[C_SEND_SYSCALLS]++;
    return -1;
  }
  do {
    r = sendmmsg(s->fd, m, n, 0);
    s->ctr[C_SEND_SYSCALLS]++;
  } while (r < 0 && errno == EINTR);
  return r;
}

/* Send entries [0, n) of `ents` whose bytes are in `base` (validated by the caller).
 * Returns how many entries are done (sent or counted as errors); the rest could not be
 * sent now (EAGAIN/ENOBUFS) and must be kept. */
static uint32_t send_entries(sock_t* s, const uint8_t* base, const entry_t* ents, uint32_t n) {
  uint32_t i = 0, nogso_end = 0;
  while (i < n) {
    uint32_t m = 0, j = i;
    while (j < n && m < SEND_META_CAP) {
      const entry_t* e = &ents[j];
      uint32_t k = j + 1, total = e->len;
      if (s->gso && j >= nogso_end && e->len > 0 && e->len < s->gso_max_seg) {
        while (k < n && k - j < GSO_MAX_SEGS && ents[k].addr == e->addr && ents[k].port == e->port &&
               ents[k].len > 0 && ents[k - 1].len == e->len && ents[k].len <= e->len &&
               ents[k].off == ents[k - 1].off + ents[k - 1].len && total + ents[k].len <= MAX_PAYLOAD) {
          total += ents[k].len;
          k++;
        }
      }
      struct msghdr* h = &s->smsgs[m].msg_hdr;
      s->siov[m].iov_base = (void*)(base + e->off);
      s->siov[m].iov_len = total;
      s->sname[m].sin_family = AF_INET;
      s->sname[m].sin_port = htons((uint16_t)e->port);
      s->sname[m].sin_addr.s_addr = htonl(e->addr);
      h->msg_name = &s->sname[m];
      h->msg_namelen = sizeof(struct sockaddr_in);
      h->msg_iov = &s->siov[m];
      h->msg_iovlen = 1;
      h->msg_flags = 0;
      if (k - j > 1) {
        h->msg_control = s->scmsg[m];
        h->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        struct cmsghdr* c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t seg = (uint16_t)e->len;
        memcpy(CMSG_DATA(c), &seg, sizeof seg);
      } else {
        h->msg_control = NULL;
        h->msg_controllen = 0;
      }
      s->mfirst[m] = j;
      s->mcount[m] = k - j;
      m++;
      j = k;
    }
    uint32_t done = 0;
    int rebuild = 0;
    while (done < m) {
      int r = sendmmsg_retry(s, &s->smsgs[done], m - done);
      if (r > 0) {
        for (uint32_t x = done; x < done + (uint32_t)r; x++) {
          s->ctr[C_SENT] += s->mcount[x];
          if (s->mcount[x] > 1) { s->ctr[C_GSO_MESSAGES]++; s->ctr[C_GSO_SEGMENTS] += s->mcount[x]; }
        }
        done += (uint32_t)r;
        continue;
      }
      int err = r < 0 ? errno : EAGAIN;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ENOMEM) {
        s->ctr[C_SEND_BLOCKED]++;
        s->ctr[C_LAST_ERRNO] = err;
        return s->mfirst[done];
      }
      if (s->mcount[done] > 1 && (err == EIO || err == EINVAL || err == EMSGSIZE || err == ENOPROTOOPT || err == EOPNOTSUPP)) {
        /* GSO refused: resend this run datagram by datagram. EMSGSIZE (6.x) / EINVAL
         * (older kernels): the segment does not fit the route's MTU, where a plain
         * datagram is simply IP-fragmented, so coalesce only shorter segments from
         * now on; a device without checksum offload (EIO) or a kernel without GSO:
         * turn GSO off */
        s->ctr[C_GSO_FALLBACKS]++;
        if (err == EINVAL || err == EMSGSIZE) {
          s->gso_max_seg = ents[s->mfirst[done]].len;
          s->ctr[C_GSO_MAX_SEGMENT] = s->gso_max_seg;
        } else {
          s->gso = 0;
          s->ctr[C_GSO_ON] = 0;
        }
        nogso_end = s->mfirst[done] + s->mcount[done];
        i = s->mfirst[done];
        rebuild = 1;
        break;
      }
      s->ctr[C_SEND_ERRORS] += s->mcount[done];
      s->ctr[C_LAST_ERRNO] = err;
      done++;
    }
    if (!rebuild) i = j;
  }
  return n;
}

/* Copy entries to the native queue (bounded); what does not fit is dropped and counted. */
static void enqueue(sock_t* s, const uint8_t* base, const entry_t* ents, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    const entry_t* e = &ents[i];
    if (s->qused + e->len > QUEUE_CAP_BYTES) {
      s->ctr[C_DROPPED]++;
      s->ctr[C_QUEUE_DROPS]++;
      continue;
    }
    if (s->qused + e->len > s->qcap) {
      uint32_t cap = s->qcap ? s->qcap : 65536;
      while (cap < s->qused + e->len) cap *= 2;
      if (cap > QUEUE_CAP_BYTES) cap = QUEUE_CAP_BYTES;
      uint8_t* nb = realloc(s->qbuf, cap);
      if (nb == NULL) { s->ctr[C_DROPPED]++; s->ctr[C_QUEUE_DROPS]++; continue; }
      s->qbuf = nb;
      s->qcap = cap;
    }
    if (s->qn == s->qecap) {
      uint32_t ecap = s->qecap ? s->qecap * 2 : 256;
      entry_t* ne = realloc(s->qents, (size_t)ecap * sizeof(entry_t));
      if (ne == NULL) { s->ctr[C_DROPPED]++; s->ctr[C_QUEUE_DROPS]++; continue; }
      s->qents = ne;
      s->qecap = ecap;
    }
    if (e->len) memcpy(s->qbuf + s->qused, base + e->off, e->len);
    s->qents[s->qn] = (entry_t){s->qused, e->len, e->addr, e->port};
    s->qused += e->len;
    s->qn++;
  }
  s->ctr[C_QUEUED] = s->qn;
}

/* Remove the first `done` entries of the queue (the rest moves to the front). */
static void queue_consume(sock_t* s, uint32_t done) {
  if (done >= s->qn) {
    s->qn = 0;
    s->qused = 0;
  } else if (done > 0) {
    uint32_t shift = s->qents[done].off;
    memmove(s->qbuf, s->qbuf + shift, s->qused - shift);
    for (uint32_t i = done; i < s->qn; i++) {
      s->qents[i - done] = s->qents[i];
      s->qents[i - done].off -= shift;
    }
    s->qn -= done;
    s->qused -= shift;
  }
  s->ctr[C_QUEUED] = s->qn;
}

/* Try to send the queue; keep what is still refused. */
static void drain_queue(sock_t* s) {
  if (s->qn == 0) return;
  queue_consume(s, send_entries(s, s->qbuf, s->qents, s->qn));
}

/* ---------- receive ---------- */

static void emit_segments(sock_t* s) {
  uint32_t n = s->nsegs;
  if (n == 0) return;
  napi_env env = s->env;
  napi_value buf, ab, argv[2];
  void* data = NULL;
  napi_typedarray_type type;
  size_t blen = 0, base = 0;
  s->nsegs = 0;
  /* a Node Buffer of its own (not the JS pool): like a fresh ArrayBuffer, minus the
   * zero-filling every byte of which is overwritten below */
  if (napi_create_buffer(env, (size_t)s->seg_bytes, &data, &buf) != napi_ok ||
      napi_get_typedarray_info(env, buf, &type, &blen, &data, &ab, &base) != napi_ok || blen < s->seg_bytes) {
    s->ctr[C_RECV_ERRORS]++;
    s->seg_bytes = 0;
    return;
  }
  uint32_t off = 0; /* into `data`, the Buffer's first byte = byte `base` of `ab` */
  for (uint32_t i = 0; i < n; i++) {
    if (s->segs[i].len) memcpy((uint8_t*)data + off, s->segs[i].p, s->segs[i].len);
    uint32_t* m = &s->recv_meta[i * 4];
    m[0] = (uint32_t)base + off;
    m[1] = s->segs[i].len;
    m[2] = s->segs[i].addr;
    m[3] = s->segs[i].port;
    off += s->segs[i].len;
  }
  s->seg_bytes = 0;
  s->ctr[C_RECEIVED] += n;
  s->ctr[C_RECV_BATCHES]++;
  argv[0] = ab;
  argv[1] = num(env, n);
  call_js(s, s->on_recv, 2, argv);
}

static void push_segment(sock_t* s, const uint8_t* p, uint32_t len, uint32_t addr, uint32_t port) {
  if (s->nsegs == RECV_META_CAP || (s->nsegs > 0 && s->seg_bytes + len > RECV_CHUNK_BYTES)) {
    emit_segments(s);
    if (s->closing) return;
  }
  s->segs[s->nsegs].p = p;
  s->segs[s->nsegs].len = len;
  s->segs[s->nsegs].addr = addr;
  s->segs[s->nsegs].port = port;
  s->nsegs++;
  s->seg_bytes += len;
}

static void do_recv(sock_t* s) {
  if (s->arena == NULL) {
    s->arena = malloc((size_t)RECV_MSGS * RECV_SLOT);
    if (s->arena == NULL) { s->ctr[C_RECV_ERRORS]++; return; }
  }
  for (int b = 0; b < s->recv_batches && !s->closing; b++) {
    for (int i = 0; i < RECV_MSGS; i++) {
      struct msghdr* h = &s->rmsgs[i].msg_hdr;
      s->riov[i].iov_base = s->arena + (size_t)i * RECV_SLOT;
      s->riov[i].iov_len = RECV_SLOT;
      h->msg_name = &s->rname[i];
      h->msg_namelen = sizeof(struct sockaddr_in);
      h->msg_iov = &s->riov[i];
      h->msg_iovlen = 1;
      h->msg_control = s->rcmsg[i];
      h->msg_controllen = CMSG_RECV_SPACE;
      h->msg_flags = 0;
      s->rmsgs[i].msg_len = 0;
    }
    int n;
    do {
      n = recvmmsg(s->fd, s->rmsgs, RECV_MSGS, MSG_DONTWAIT, NULL);
      s->ctr[C_RECV_SYSCALLS]++;
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        s->ctr[C_RECV_ERRORS]++;
        s->ctr[C_LAST_ERRNO] = errno;
        if (errno == EBADF || errno == ENOTSOCK || errno == EFAULT || errno == EINVAL) break;
        continue; /* e.g. a queued ICMP error: the datagrams behind it are still readable */
      }
      break;
    }
    for (int i = 0; i < n && !s->closing; i++) {
      struct msghdr* h = &s->rmsgs[i].msg_hdr;
      uint32_t len = s->rmsgs[i].msg_len;
      /* truncated, or (GRO on) control data truncated: the segment size may be lost */
      if ((h->msg_flags & MSG_TRUNC) || len > RECV_SLOT || (s->gro && (h->msg_flags & MSG_CTRUNC))) {
        s->ctr[C_TRUNCATED]++;
        continue;
      }
      uint32_t addr = ntohl(s->rname[i].sin_addr.s_addr), port = ntohs(s->rname[i].sin_port);
      int gso = 0;
      if (!(h->msg_flags & MSG_CTRUNC)) {
        for (struct cmsghdr* c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
          if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            memcpy(&gso, CMSG_DATA(c), sizeof(int));
          } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            uint32_t ovfl;
            memcpy(&ovfl, CMSG_DATA(c), sizeof ovfl);
            s->ctr[C_RX_OVERFLOW] = ovfl;
          }
        }
      }
      const uint8_t* p = s->arena + (size_t)i * RECV_SLOT;
      if (gso > 0 && (uint32_t)gso < len) {
        for (uint32_t off = 0; off < len && !s->closing; off += (uint32_t)gso) {
          uint32_t l = len - off < (uint32_t)gso ? len - off : (uint32_t)gso;
          push_segment(s, p + off, l, addr, port);
          s->ctr[C_GRO_SEGMENTS]++;
        }
      } else {
        push_segment(s, p, len, addr, port);
      }
    }
    if (!s->closing) emit_segments(s);
    s->nsegs = 0;
    s->seg_bytes = 0;
    if (n < RECV_MSGS) break;
  }
}

/* ---------- poll / close ---------- */

static void on_poll(uv_poll_t* handle, int status, int events) {
  sock_t* s = (sock_t*)handle->data;
  if (s->closing) return;
  if (status < 0) {
    s->ctr[C_RECV_ERRORS]++;
    s->ctr[C_LAST_ERRNO] = -status;
    return;
  }
  if (events & UV_WRITABLE) {
    uint32_t before = s->qn;
    drain_queue(s);
    if (s->qn > 0 && s->qn == before) {
      /* writable, yet the kernel refuses the head again (ENOBUFS/ENOMEM): after
       * STALL_LIMIT such wake-ups give that datagram up (counted) rather than spin */
      if (++s->stalls >= STALL_LIMIT) {
        s->ctr[C_SEND_ERRORS]++;
        queue_consume(s, 1);
        s->stalls = 0;
      }
    } else {
      s->stalls = 0;
    }
    update_poll(s);
  }
  if ((events & UV_READABLE) && !s->closing) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
    do_recv(s);
    napi_close_handle_scope(s->env, scope);
  }
}

static void update_poll(sock_t* s) {
  if (s->closing) return;
  int want = UV_READABLE | (s->qn > 0 ? UV_WRITABLE : 0);
  if (want != s->poll_events && uv_poll_start(&s->poll, want, on_poll) == 0) s->poll_events = want;
}

static void on_handle_closed(uv_handle_t* handle) {
  sock_t* s = (sock_t*)handle->data;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  napi_env env = s->env;
  if (!s->teardown) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      call_js(s, s->on_closed, 0, NULL);
      napi_close_handle_scope(env, scope);
    }
    if (s->on_recv) napi_delete_reference(env, s->on_recv);
    if (s->on_closed) napi_delete_reference(env, s->on_closed);
    s->on_recv = s->on_closed = NULL;
    napi_async_destroy(env, s->actx);
  }
  if (s->hook) napi_remove_async_cleanup_hook(s->hook);
  s->hook = NULL;
  s->handle_closed = 1;
  maybe_free(s);
}

static void start_close(sock_t* s) {
  if (s->closing) return;
  if (s->qn) drain_queue(s);
  s->ctr[C_DROPPED] += s->qn;
  s->ctr[C_QUEUE_DROPS] += s->qn;
  s->qn = 0;
  s->qused = 0;
  s->ctr[C_QUEUED] = 0;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t*)&s->poll, on_handle_closed);
}

static void on_env_teardown(napi_async_cleanup_hook_handle hook, void* arg) {
  sock_t* s = (sock_t*)arg;
  s->teardown = 1;
  start_close(s); /* no-op when already closing: on_handle_closed removes the hook */
}

static void on_finalize(napi_env env, void* data, void* hint) {
  sock_t* s = (sock_t*)data;
  s->finalized = 1;
  if (!s->closing) { s->teardown = 1; start_close(s); }
  maybe_free(s);
}

/* ---------- JS API ---------- */

static napi_value make_external_ab(napi_env env, void* p, size_t len) {
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, len, noop_finalize, NULL, &ab) != napi_ok) return NULL;
  return ab;
}

/* open(addrU32, port, rcvbuf, sndbuf, flags, onRecv) */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  uint32_t addr, port, rcvbuf, sndbuf, flags;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) return throw_type(env, "open: 6 arguments");
  if (!get_u32(env, argv[0], &addr) || !get_u32(env, argv[1], &port) || port > 65535 || !get_u32(env, argv[2], &rcvbuf) ||
      !get_u32(env, argv[3], &sndbuf) || !get_u32(env, argv[4], &flags) || !is_function(env, argv[5]))
    return throw_type(env, "open(addrU32, port, rcvbuf, sndbuf, flags, onRecv)");
  if (rcvbuf > (1u << 30)) rcvbuf = 1u << 30;
  if (sndbuf > (1u << 30)) sndbuf = 1u << 30;

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(addr);
  if (bind(fd, (struct sockaddr*)&sa, sizeof sa) != 0) {
    int e = errno;
    close(fd);
    return num(env, -e);
  }
  socklen_t sl = sizeof sa;
  if (getsockname(fd, (struct sockaddr*)&sa, &sl) != 0) {
    int e = errno;
    close(fd);
    return num(env, -e);
  }
  int v;
  socklen_t vl = sizeof v;
  if (rcvbuf) { v = (int)rcvbuf; setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v); }
  if (sndbuf) { v = (int)sndbuf; setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v); }
  int granted_rcv = 0, granted_snd = 0;
  vl = sizeof granted_rcv;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted_rcv, &vl);
  vl = sizeof granted_snd;
  getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &granted_snd, &vl);
  int one = 1;
  int gro = (flags & 1) ? setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0 : 0;
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);

  sock_t* s = calloc(1, sizeof(sock_t));
  if (s == NULL) { close(fd); return num(env, -ENOMEM); }
  s->env = env;
  s->fd = fd;
  /* a kernel without UDP_SEGMENT (< 4.18) might ignore the cmsg and send one big
   * datagram: use GSO only where the option is known */
  int seg = 0;
  socklen_t segl = sizeof seg;
  s->gso = (flags & 2) && getsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, &segl) == 0 ? 1 : 0;
  s->staging = calloc(1, STAGING_BYTES);
  s->send_meta = calloc(SEND_META_CAP * 4, sizeof(uint32_t));
  s->recv_meta = calloc(RECV_META_CAP * 4, sizeof(uint32_t));
  s->ctr = calloc(COUNTERS_LEN, sizeof(double));
  uv_loop_t* loop = NULL;
  napi_value handle, res, ab[4], resource, name;
  if (!s->staging || !s->send_meta || !s->recv_meta || !s->ctr || napi_get_uv_event_loop(env, &loop) != napi_ok ||
      uv_poll_init(loop, &s->poll, fd) != 0) {
    close(fd);
    s->finalized = s->handle_closed = 1;
    maybe_free(s);
    return num(env, -ENOMEM);
  }
  s->poll.data = s;
  s->ctr[C_GSO_ON] = s->gso;
  s->gso_max_seg = 65536;
  s->ctr[C_GRO_ON] = gro;
  s->gro = gro;
  s->recv_batches = (flags >> 8) & 0xff;
  if (s->recv_batches < 1 || s->recv_batches > 64) s->recv_batches = RECV_BATCHES_PER_POLL;
  /* from here on the handle exists: every failure path closes it */
  napi_create_external(env, s, on_finalize, NULL, &handle);
  napi_type_tag_object(env, handle, &SOCK_TAG);
  napi_create_reference(env, argv[5], 1, &s->on_recv);
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "TincanUdpSocket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &s->actx);
  napi_add_async_cleanup_hook(env, on_env_teardown, s, &s->hook);
  ab[0] = make_external_ab(env, s->staging, STAGING_BYTES);
  ab[1] = make_external_ab(env, s->send_meta, SEND_META_CAP * 4 * sizeof(uint32_t));
  ab[2] = make_external_ab(env, s->recv_meta, RECV_META_CAP * 4 * sizeof(uint32_t));
  ab[3] = make_external_ab(env, s->ctr, COUNTERS_LEN * sizeof(double));
  if (!ab[0] || !ab[1] || !ab[2] || !ab[3] || uv_poll_start(&s->poll, UV_READABLE, on_poll) != 0) {
    start_close(s);
    return num(env, -ENOMEM);
  }
  s->poll_events = UV_READABLE;
  napi_create_array_with_length(env, 9, &res);
  napi_set_element(env, res, 0, handle);
  for (int i = 0; i < 4; i++) napi_set_element(env, res, (uint32_t)i + 1, ab[i]);
  napi_set_element(env, res, 5, num(env, ntohl(sa.sin_addr.s_addr)));
  napi_set_element(env, res, 6, num(env, ntohs(sa.sin_port)));
  napi_set_element(env, res, 7, num(env, granted_rcv));
  napi_set_element(env, res, 8, num(env, granted_snd));
  return res;
}

/* flush(handle, count): send entries [0, count) of sendMeta from staging. */
static napi_value js_flush(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  sock_t* s;
  uint32_t count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || !get_sock(env, argv[0], &s) ||
      !get_u32(env, argv[1], &count))
    return throw_type(env, "flush(handle, count)");
  if (count > SEND_META_CAP) count = SEND_META_CAP;
  if (s->closing) {
    s->ctr[C_DROPPED] += count;
    return undef(env);
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t* m = &s->send_meta[i * 4];
    entry_t e = {m[0], m[1], m[2], m[3]};
    if (e.len > MAX_PAYLOAD || e.off > STAGING_BYTES || e.len > STAGING_BYTES - e.off || e.port == 0 || e.port > 65535) {
      s->ctr[C_DROPPED]++;
      continue;
    }
    s->ents[n++] = e;
  }
  if (s->qn > 0) drain_queue(s);
  if (s->qn > 0) {
    enqueue(s, s->staging, s->ents, n); /* keep the order: behind what is already waiting */
  } else {
    uint32_t done = send_entries(s, s->staging, s->ents, n);
    if (done < n) enqueue(s, s->staging, s->ents + done, n - done);
  }
  update_poll(s);
  return undef(env);
}

/* close(handle, onClosed) */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  sock_t* s;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || !get_sock(env, argv[0], &s) ||
      !is_function(env, argv[1]))
    return throw_type(env, "close(handle, onClosed)");
  if (s->closing) return undef(env);
  napi_create_reference(env, argv[1], 1, &s->on_closed);
  start_close(s);
  return undef(env);
}

/* injectSendErrors(handle, errno, times): tests only — the next `times` sendmmsg calls fail. */
static napi_value js_inject(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  sock_t* s;
  uint32_t e, t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || !get_sock(env, argv[0], &s) ||
      !get_u32(env, argv[1], &e) || !get_u32(env, argv[2], &t) || e > 4095)
    return throw_type(env, "injectSendErrors(handle, errno, times)");
  s->inject_errno = (int)e;
  s->inject_count = (int)t;
  return undef(env);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"flush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"injectSendErrors", NULL, js_inject, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value v;
  napi_create_uint32(env, STAGING_BYTES, &v);
  napi_set_named_property(env, exports, "stagingBytes", v);
  napi_create_uint32(env, SEND_META_CAP, &v);
  napi_set_named_property(env, exports, "sendMetaCap", v);
  napi_create_uint32(env, RECV_META_CAP, &v);
  napi_set_named_property(env, exports, "recvMetaCap", v);
  return exports;
}
