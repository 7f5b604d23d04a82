// udp_send.c — the send path. flush(handle, count) bounds-checks `count` sendMeta
// entries (offset, length, address, port; bad ones dropped and counted) against the
// staging buffer (or the receive arena, below) and sends them with sendmmsg, coalescing runs of equal-size
// datagrams to one destination (last may be shorter, <= 64 segments, <= 65,507 B)
// into UDP GSO messages. EAGAIN/ENOBUFS: the unsent tail is copied to a bounded native
// queue (4 MiB, then dropped and counted), kept in order behind what already waits,
// and drained when the socket is writable. Per-message errors are counted and skipped;
// a GSO run refused (EMSGSIZE/EINVAL: too big for the route; EIO...: no offload) is
// resent datagram by datagram. injectSendErrors() fakes sendmmsg failures for tests.
// An entry whose offset has ARENA_REF set names bytes in the receive arena instead of
// staging (a batch consumer forwarding what it just received, sent with no copy; JS
// flushes before the next recvmmsg overwrites the arena); it is bounds-checked against
// the arena, and what must wait for the kernel is copied to the queue like the rest.
#include "tincan_udp.h"

/* The bytes of entry `e` whose non-arena offsets are relative to `base`. */
static inline const uint8_t* entry_bytes(const sock_t* s, const uint8_t* base, const entry_t* e) {
  return (e->off & ARENA_REF) ? s->arena + (e->off & ~ARENA_REF) : base + e->off;
}

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
      s->siov[m].iov_base = (void*)entry_bytes(s, base, e);
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
    if (e->len) memcpy(s->qbuf + s->qused, entry_bytes(s, base, e), e->len);
    s->qents[s->qn] = (entry_t){s->qused, e->len, e->addr, e->port};
    s->qused += e->len;
    s->qn++;
  }
  s->ctr[C_QUEUED] = s->qn;
}

/* Remove the first `done` entries of the queue (the rest moves to the front). */
void queue_consume(sock_t* s, uint32_t done) {
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
void drain_queue(sock_t* s) {
  if (s->qn == 0) return;
  queue_consume(s, send_entries(s, s->qbuf, s->qents, s->qn));
}

/* flush(handle, count): send entries [0, count) of sendMeta from staging. */
napi_value js_flush(napi_env env, napi_callback_info info) {
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
  int arena_ok = -1; /* the JS arena, still attached (checked at the first entry naming it) */
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t* m = &s->send_meta[i * 4];
    entry_t e = {m[0], m[1], m[2], m[3]};
    if ((e.off & ARENA_REF) && arena_ok < 0) arena_ok = arena_usable(s) && !s->arena_private;
    uint32_t off = e.off & ~ARENA_REF, cap = (e.off & ARENA_REF) ? (arena_ok > 0 ? ARENA_BYTES : 0) : STAGING_BYTES;
    if (e.len > MAX_PAYLOAD || off > cap || e.len > cap - off || e.port == 0 || e.port > 65535) {
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

/* injectSendErrors(handle, errno, times): tests only — the next `times` sendmmsg calls fail. */
napi_value js_inject(napi_env env, napi_callback_info info) {
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
