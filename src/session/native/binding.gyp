# tincan_aead: ChaCha20-Poly1305 packet protection through Node's own OpenSSL (see tincan_aead.c).
# Built by src/session/native/build.js; plain N-API; links against nothing (OpenSSL symbols come from node).
{
  "targets": [
    {
      "target_name": "tincan_aead",
      "sources": ["tincan_aead.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"]
    }
  ]
}
