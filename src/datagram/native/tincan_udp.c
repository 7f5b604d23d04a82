// tincan_udp: a batched IPv4 UDP socket for Node (Linux), plain N-API + libuv.
// This file: module init (exports open/flush/close/injectSendErrors and the limits),
// the handle's type tag, argument helpers and call_js. The other files: udp_open.c
// (socket setup and options), udp_send.c (send path), udp_recv.c (receive path),
// udp_lifecycle.c (poll, close, free), tincan_udp.h (shared state and limits).
// The addon's contract (JS side: src/datagram/native-udp.ts, which validates first; every
// argument is checked again here and never trusted):
// - open(addrU32, port, rcvbuf, sndbuf, flags, onRecv) -> [handle, staging,
//   sendMeta, recvMeta, counters, localAddrU32, localPort, rcvbuf, sndbuf, arena] or a
//   negative errno. Non-blocking, close-on-exec socket; UDP_GRO and SO_RXQ_OVFL on.
// - Receive: a uv_poll_t on the Node loop; on readable, recvmmsg into a per-socket
//   arena (RECV_MSGS x 64 KiB), GRO super-datagrams split at their segment size,
//   copied compactly into ONE fresh ArrayBuffer per JS call (<= 256 KiB unless one
//   datagram is larger, so a kept view pins little; the receiver owns it),
//   with (offset, length, address, port) per datagram in the shared recvMeta. JS is
//   called once per batch (napi_make_callback: microtasks run after it, a throw
//   goes to 'uncaughtException'); at most 4 recvmmsg batches per poll wake-up
//   (flags bits 8-15: another bound, 1..64, for experiments).
//   recvMode(handle, 1) switches to batch mode (udp_recv.c): no copy, one JS call
//   onRecv(undefined, runs, 1) per recvmmsg with one run (offset, length, segment size,
//   address, port) per received datagram or GRO super-datagram, read in place from the
//   arena (a JS-owned ArrayBuffer, valid until the call returns); recvMode(handle, 0) back.
//   busyPoll(handle, us) changes the busy polling of open()'s flags bits 16-25 (0: off,
//   at most 1000 us) at run time (udp_recv.c recv_and_poll).
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
#include "tincan_udp.h"

const napi_type_tag SOCK_TAG = {0x7a1c5e0d3b2f4a61ULL, 0x9e8d7c6b5a493827ULL};

int get_sock(napi_env env, napi_value v, sock_t** out) {
  napi_valuetype t;
  bool ok = false;
  void* p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return 0;
  if (napi_check_object_type_tag(env, v, &SOCK_TAG, &ok) != napi_ok || !ok) return 0;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) return 0;
  *out = (sock_t*)p;
  return 1;
}

int get_u32(napi_env env, napi_value v, uint32_t* out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) return 0;
  *out = (uint32_t)d;
  return 1;
}

int is_function(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_function;
}

napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

napi_value undef(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* Call a JS function from a libuv callback (not from JS): callback scope semantics,
 * and an exception becomes an uncaught exception, as for any event callback. */
void call_js(sock_t* s, napi_ref ref, size_t argc, napi_value* argv) {
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

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"flush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"injectSendErrors", NULL, js_inject, NULL, NULL, NULL, napi_default, NULL},
    {"recvMode", NULL, js_recv_mode, NULL, NULL, NULL, napi_default, NULL},
    {"busyPoll", NULL, js_busy_poll, NULL, NULL, NULL, napi_default, NULL},
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
