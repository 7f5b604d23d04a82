// udp_recv.c — the receive path, run on a readable wake-up: up to `recv_batches`
// recvmmsg calls of RECV_MSGS x 64 KiB slots into the socket's arena; truncated
// datagrams are dropped and counted; GRO super-datagrams are split at their segment
// size; SO_RXQ_OVFL updates rxOverflow. Datagrams are copied compactly into ONE fresh
// Node Buffer per JS call (<= 4096 datagrams, <= 256 KiB unless one is larger; never
// reused, the receiver owns it) with (offset, length, address, port) each in recvMeta,
// and onRecv(arrayBuffer, count) is called once per batch. Stops at once when a
// handler closes the socket.
// Batch mode (recvMode(handle, 1)): no copy and no split — per recvmmsg call, ONE JS
// call onRecv(undefined, runs, 1) with, per received datagram, a run in recvMeta
// (RUN_META_STRIDE u32 each: offset into the arena, length, segment size, address,
// port; a GRO super-datagram is one run of equal-size segments, the last possibly
// shorter; a plain datagram is a run of one, segment size = length). The runs are
// views of the arena itself, valid until that JS call returns (the next recvmmsg
// overwrites it); the arena is a JS ArrayBuffer, so a kept view stays memory-safe. A consumer
// may transfer that ArrayBuffer away (detach it): checked before every recvmmsg (arena_usable),
// the socket then reads into a private arena, in copied mode for good.
#include "tincan_udp.h"

#include <sched.h>

_Static_assert(RECV_MSGS * RUN_META_STRIDE <= RECV_META_CAP * 4, "recvMeta holds a batch of runs");

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

/* Batch mode: record message i (len bytes at arena slot i, GRO segment size gso or 0) as run r. */
static void push_run(sock_t* s, uint32_t r, uint32_t i, uint32_t len, uint32_t gso, uint32_t addr, uint32_t port) {
  uint32_t seg = gso > 0 && gso < len ? gso : len;
  uint32_t segs = seg == 0 ? 1 : len / seg + (len % seg != 0);
  uint32_t* m = &s->recv_meta[r * RUN_META_STRIDE];
  m[0] = i * RECV_SLOT;
  m[1] = len;
  m[2] = seg;
  m[3] = addr;
  m[4] = port;
  s->ctr[C_RECEIVED] += segs;
  if (segs > 1) s->ctr[C_GRO_SEGMENTS] += segs;
}

static void emit_runs(sock_t* s, uint32_t runs) {
  if (runs == 0) return;
  napi_value argv[3];
  s->ctr[C_RECV_BATCHES]++;
  argv[0] = undef(s->env);
  argv[1] = num(s->env, runs);
  argv[2] = num(s->env, 1);
  call_js(s, s->on_recv, 3, argv);
}

/* The arena is a JS ArrayBuffer that a batch consumer can transfer away (structuredClone or
 * postMessage with a transfer list), which detaches it: its memory then belongs to another
 * ArrayBuffer, maybe in another thread, freed when that one is collected. Checked before every
 * recvmmsg and every flush naming it; once detached, the socket reads into a private malloc'ed
 * arena (never shown to JS) in copied mode for good. 0: no arena at all (out of memory). Needs
 * a handle scope (every caller has one: on_poll, a JS call). */
int arena_usable(sock_t* s) {
  if (s->arena_private) return s->arena != NULL;
  napi_value ab;
  bool detached = true;
  if (s->arena_ref != NULL && napi_get_reference_value(s->env, s->arena_ref, &ab) == napi_ok && ab != NULL &&
      napi_is_detached_arraybuffer(s->env, ab, &detached) != napi_ok)
    detached = true;
  if (!detached) return 1;
  if (s->arena_ref != NULL) napi_delete_reference(s->env, s->arena_ref);
  s->arena_ref = NULL;
  s->arena = malloc(ARENA_BYTES);
  s->arena_private = 1;
  s->batch_mode = 0;
  return s->arena != NULL;
}

napi_value js_recv_mode(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  sock_t* s;
  uint32_t mode;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || !get_sock(env, argv[0], &s) ||
      !get_u32(env, argv[1], &mode) || mode > 1)
    return throw_type(env, "recvMode(handle, 0 | 1)");
  s->batch_mode = s->arena_private ? 0 : (int)mode; /* the JS arena is gone: copies only */
  return undef(env);
}

static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* A readable wake-up: receive; with busy polling on (busy_poll_us > 0) and data received,
 * keep calling recvmmsg until busy_poll_us pass without a datagram (or BUSY_POLL_CAP_US in
 * all, so the event loop is never held longer), then back to the poll. Trades CPU for not
 * sleeping (and waking) between the bursts of a flow. An empty poll yields the CPU
 * (sched_yield) first: a spinning socket gives way to any other runnable task on its core
 * and only spins on a core nobody else wants. busy_poll_us may change at run time
 * (busyPoll(handle, us), e.g. from a handler called here): read on every iteration. */
void recv_and_poll(sock_t* s) {
  if (do_recv(s) == 0 || s->busy_poll_us == 0) return;
  uint64_t start = now_us(), last = start;
  while (!s->closing) {
    uint64_t t = now_us();
    if (t - last >= s->busy_poll_us || t - start >= BUSY_POLL_CAP_US) break;
    napi_handle_scope scope; /* the JS values of each call go with it */
    if (napi_open_handle_scope(s->env, &scope) != napi_ok) break;
    uint32_t got = do_recv(s);
    napi_close_handle_scope(s->env, scope);
    if (got > 0) last = now_us();
    else sched_yield();
  }
}

napi_value js_busy_poll(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  sock_t* s;
  uint32_t us;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || !get_sock(env, argv[0], &s) ||
      !get_u32(env, argv[1], &us))
    return throw_type(env, "busyPoll(handle, microseconds)");
  s->busy_poll_us = us > BUSY_POLL_MAX_US ? BUSY_POLL_MAX_US : us;
  return undef(env);
}

/* Returns the messages received (datagrams or GRO super-datagrams). */
uint32_t do_recv(sock_t* s) {
  uint32_t total = 0;
  for (int b = 0; b < s->recv_batches && !s->closing; b++) {
    if (!arena_usable(s)) { s->ctr[C_RECV_ERRORS]++; break; } /* a handler may have transferred it away */
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
    total += (uint32_t)n;
    int batch = s->batch_mode; /* read once per recvmmsg: a handler may switch modes */
    uint32_t runs = 0;
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
      if (batch) {
        push_run(s, runs++, (uint32_t)i, len, gso > 0 ? (uint32_t)gso : 0, addr, port);
        continue;
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
    if (!s->closing) {
      if (batch) emit_runs(s, runs);
      else emit_segments(s);
    }
    s->nsegs = 0;
    s->seg_bytes = 0;
    if (n < RECV_MSGS) break;
  }
  return total;
}
