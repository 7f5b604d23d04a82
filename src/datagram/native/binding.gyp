# tincan_udp: the batched UDP socket addon (Linux: recvmmsg/sendmmsg, UDP GSO/GRO).
# Built by src/datagram/native/build.js on `npm ci`; plain N-API (node_api.h), no deps.
{
  "targets": [
    {
      "target_name": "tincan_udp",
      "sources": ["tincan_udp.c", "udp_open.c", "udp_send.c", "udp_recv.c", "udp_lifecycle.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "conditions": [["OS!='linux'", {"type": "none", "sources": []}]]
    }
  ]
}
