// udp_lifecycle.c — polling, closing and freeing. on_poll: writable -> drain the send
// queue (a head refused on STALL_LIMIT writable wake-ups in a row is given up and
// counted), readable -> the receive path (with busy polling when asked for); the poll asks for writable only while the
// queue is non-empty. close(handle, onClosed): one last attempt at the queue (the rest
// is counted as dropped), stop polling, close the fd in the uv_close callback, then
// onClosed(). Idempotent. Env teardown and garbage collection of the handle close
// without calling JS; the sock_t is freed once both the handle is closed and the JS
// external finalized.
#include "tincan_udp.h"

void maybe_free(sock_t* s) {
  if (!s->finalized || !s->handle_closed) return;
  /* s->arena is a JS ArrayBuffer's memory (arena_ref): not ours to free, unless private */
  if (s->arena_private) free(s->arena);
  free(s->qbuf);
  free(s->qents);
  free(s->staging);
  free(s->send_meta);
  free(s->recv_meta);
  free(s->ctr);
  free(s);
}

void on_poll(uv_poll_t* handle, int status, int events) {
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
    recv_and_poll(s);
    napi_close_handle_scope(s->env, scope);
  }
}

void update_poll(sock_t* s) {
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
    if (s->arena_ref) napi_delete_reference(env, s->arena_ref);
    s->on_recv = s->on_closed = s->arena_ref = NULL;
    napi_async_destroy(env, s->actx);
  }
  if (s->hook) napi_remove_async_cleanup_hook(s->hook);
  s->hook = NULL;
  s->handle_closed = 1;
  maybe_free(s);
}

void start_close(sock_t* s) {
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

void on_env_teardown(napi_async_cleanup_hook_handle hook, void* arg) {
  sock_t* s = (sock_t*)arg;
  s->teardown = 1;
  start_close(s); /* no-op when already closing: on_handle_closed removes the hook */
}

void on_finalize(napi_env env, void* data, void* hint) {
  sock_t* s = (sock_t*)data;
  s->finalized = 1;
  /* the arena's ArrayBuffer may go once nothing in JS holds it (no receive after this:
   * start_close below stops the poll) */
  if (s->arena_ref && !s->teardown) napi_delete_reference(env, s->arena_ref);
  s->arena_ref = NULL;
  if (!s->closing) { s->teardown = 1; start_close(s); }
  maybe_free(s);
}

/* close(handle, onClosed) */
napi_value js_close(napi_env env, napi_callback_info info) {
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
