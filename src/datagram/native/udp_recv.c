// udp_recv.c — the receive path, run on a readable wake-up: up to `recv_batches`
// recvmmsg calls of RECV_MSGS x 64 KiB slots into the socket's arena; truncated
// datagrams are dropped and counted; GRO super-datagrams are split at their segment
// size; SO_RXQ_OVFL updates rxOverflow. Datagrams are copied compactly into ONE fresh
// Node Buffer per JS call (<= 4096 datagrams, <= 256 KiB unless one is larger; never
// reused, the receiver owns it) with (offset, length, address, port) each in recvMeta,
// and onRecv(arrayBuffer, count) is called once per batch. Stops at once when a
// handler closes the socket.
#include "tincan_udp.h"

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

void do_recv(sock_t* s) {
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
