// tincan_udp internal header: the per-socket state (sock_t), limits, counter slots
// and the functions the addon's files share. Not part of any public interface; every
// function here is hidden (-fvisibility=hidden): only napi_register_module_v1 is exported.
// Who owns what: udp_open.c creates a sock_t, udp_lifecycle.c polls/closes/frees it,
// udp_recv.c reads into it, udp_send.c sends from it, tincan_udp.c exports the API.
#ifndef TINCAN_UDP_H
#define TINCAN_UDP_H
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
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
#define RUN_META_STRIDE 8u       /* batch mode: u32 slots per run in recvMeta (offset, length, segment size, address, port) */
#define RECV_CHUNK_BYTES (256u << 10) /* bytes per JS call (bounds what one kept view pins) */
#define SEND_META_CAP 1024u      /* entries per flush (also sendmmsg's UIO_MAXIOV) */
#define STAGING_BYTES (1u << 20) /* send staging shared with JS */
#define ARENA_BYTES (RECV_MSGS * RECV_SLOT) /* the receive arena */
#define ARENA_REF 0x80000000u    /* sendMeta offset flag: the bytes are in the receive arena, not staging */
#define GSO_MAX_SEGS 64u
#define QUEUE_CAP_BYTES (4u << 20)
#define CMSG_RECV_SPACE 128
#define BUSY_POLL_MAX_US 1000u  /* busy_poll_us at most */
#define BUSY_POLL_CAP_US 2000u  /* one wake-up busy-polls at most this long in all */
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
  uint32_t busy_poll_us; /* after a wake-up with data: keep reading until this long without any (0: off) */
  int batch_mode;   /* 1: hand JS runs in the arena itself (recvMode(handle, 1)); 0: copies per datagram */
  uint32_t gso_max_seg; /* coalesce only segments shorter than this (an EINVAL lowers it) */
  napi_ref on_recv;
  napi_ref on_closed;
  napi_ref arena_ref; /* the arena is a JS-owned ArrayBuffer (batch mode reads it in place): never freed here */
  int arena_private; /* that ArrayBuffer was transferred away (detached): a malloc'ed arena, never shown to JS; batch mode off */
  napi_async_context actx;
  napi_async_cleanup_hook_handle hook;
  /* shared with JS */
  uint8_t* staging;
  uint32_t* send_meta;
  uint32_t* recv_meta;
  double* ctr;
  /* receive: RECV_MSGS x RECV_SLOT bytes, the memory of a JS ArrayBuffer (arena_ref) */
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

extern const napi_type_tag SOCK_TAG;

/* tincan_udp.c: argument helpers and calling JS from libuv callbacks */
int get_sock(napi_env env, napi_value v, sock_t** out);
int get_u32(napi_env env, napi_value v, uint32_t* out);
int is_function(napi_env env, napi_value v);
napi_value num(napi_env env, double d);
napi_value undef(napi_env env);
napi_value throw_type(napi_env env, const char* msg);
void call_js(sock_t* s, napi_ref ref, size_t argc, napi_value* argv);

/* udp_open.c */
napi_value js_open(napi_env env, napi_callback_info info);

/* udp_send.c */
void queue_consume(sock_t* s, uint32_t done);
void drain_queue(sock_t* s);
napi_value js_flush(napi_env env, napi_callback_info info);
napi_value js_inject(napi_env env, napi_callback_info info);

/* udp_recv.c */
uint32_t do_recv(sock_t* s);
void recv_and_poll(sock_t* s);
napi_value js_recv_mode(napi_env env, napi_callback_info info);
napi_value js_busy_poll(napi_env env, napi_callback_info info);
int arena_usable(sock_t* s);

/* udp_lifecycle.c */
void maybe_free(sock_t* s);
void on_poll(uv_poll_t* handle, int status, int events);
void update_poll(sock_t* s);
void start_close(sock_t* s);
void on_env_teardown(napi_async_cleanup_hook_handle hook, void* arg);
void on_finalize(napi_env env, void* data, void* hint);
napi_value js_close(napi_env env, napi_callback_info info);

#endif
