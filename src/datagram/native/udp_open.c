// udp_open.c — open(): the socket and its options. Creates a non-blocking, close-on-exec
// IPv4 UDP socket, binds it, applies SO_RCVBUF/SO_SNDBUF (reports what was granted),
// UDP_GRO (flags bit 0) and SO_RXQ_OVFL, uses GSO only where UDP_SEGMENT is known
// (flags bit 1), recvmmsg calls per wake-up (bits 8-15), busy polling in us (bits 16-25), allocates the memory shared with JS (external ArrayBuffers owned
// here; the receive arena is a JS-owned ArrayBuffer held by a reference, so a view a
// batch consumer keeps can never outlive its memory) and starts polling. Returns the handle + shared buffers, or a negative errno;
// after the handle exists every failure path closes it (udp_lifecycle.c).
#include "tincan_udp.h"

static void noop_finalize(napi_env env, void* data, void* hint) {}

static napi_value make_external_ab(napi_env env, void* p, size_t len) {
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, len, noop_finalize, NULL, &ab) != napi_ok) return NULL;
  return ab;
}

/* open(addrU32, port, rcvbuf, sndbuf, flags, onRecv) */
napi_value js_open(napi_env env, napi_callback_info info) {
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
  napi_value handle, res, ab[5], resource, name;
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
  s->busy_poll_us = (flags >> 16) & 0x3ff;
  if (s->busy_poll_us > BUSY_POLL_MAX_US) s->busy_poll_us = BUSY_POLL_MAX_US;
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
  void* arena = NULL;
  if (napi_create_arraybuffer(env, (size_t)RECV_MSGS * RECV_SLOT, &arena, &ab[4]) != napi_ok || arena == NULL ||
      napi_create_reference(env, ab[4], 1, &s->arena_ref) != napi_ok)
    ab[4] = NULL;
  else
    s->arena = arena;
  if (!ab[0] || !ab[1] || !ab[2] || !ab[3] || !ab[4] || uv_poll_start(&s->poll, UV_READABLE, on_poll) != 0) {
    start_close(s);
    return num(env, -ENOMEM);
  }
  s->poll_events = UV_READABLE;
  napi_create_array_with_length(env, 10, &res);
  napi_set_element(env, res, 0, handle);
  for (int i = 0; i < 4; i++) napi_set_element(env, res, (uint32_t)i + 1, ab[i]);
  napi_set_element(env, res, 5, num(env, ntohl(sa.sin_addr.s_addr)));
  napi_set_element(env, res, 6, num(env, ntohs(sa.sin_port)));
  napi_set_element(env, res, 7, num(env, granted_rcv));
  napi_set_element(env, res, 8, num(env, granted_snd));
  napi_set_element(env, res, 9, ab[4]);
  return res;
}
