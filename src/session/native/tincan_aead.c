/*
 * tincan_aead: ChaCha20-Poly1305 (RFC 8439, the AEAD libsodium calls
 * crypto_aead_chacha20poly1305_ietf) for 1-RTT packets, through the OpenSSL
 * that Node itself links and exports (EVP_chacha20_poly1305: AVX-512/AVX2
 * assembly, ~2x libsodium's per-byte speed on x86-64 with AVX-512). Output is
 * byte-identical to libsodium's; src/session/noise/openssl-aead.ts checks that
 * at load time and falls back to libsodium if anything differs.
 *
 * Contract (all arguments checked here; a wrong type or size returns -2):
 *   create(key32, encrypt)            -> handle (one key, one direction)
 *   sealInPlace(h, buf, off, len, ad, pn) -> 0: buf[off, off+len) encrypted in
 *       place, 16-byte tag written at buf[off+len]; ad must not overlap it.
 *   seal(h, c, m, ad, pn)             -> 0: c = m encrypted || tag (c.length ==
 *       m.length + 16; m may be exactly c's prefix, must not partly overlap).
 *   openInPlace(h, buf, ad, pn)       -> 0: buf = ciphertext || tag, plaintext
 *       written to buf[0, len-16); -1: authentication failed (those bytes zeroed).
 *   open(h, m, c, ad, pn)             -> as openInPlace into m (m.length == c.length - 16).
 *   destroy(h)                        -> 0: frees the OpenSSL context now (its key
 *       schedule is cleansed by OpenSSL); later calls on h return -2.
 * Handles are napi externals type-tagged with AEAD_TAG (napi_type_tag_object,
 * Node-API 8): every call first checks the value is an external carrying that
 * tag, so another addon's external (e.g. the UDP socket's), a plain object or
 * any other value is refused with -2 (destroy too) instead of being misread.
 * The nonce is Noise's encoding of pn: 4 zero bytes || pn as little-endian u64,
 * with pn an integer in [0, 2^53). Not thread-safe: one JS thread per handle.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define TAG 16
#define MAXLEN 0x7fffffff

typedef struct { EVP_CIPHER_CTX *ctx; int encrypt; } Handle;

static const napi_type_tag AEAD_TAG = { 0x3c9d2a7be1f04856ULL, 0xa5174e0c92d86b3fULL };

static void release(Handle *h) {
  if (h && h->ctx) { EVP_CIPHER_CTX_free(h->ctx); h->ctx = NULL; }
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  release(data);
  free(data);
}

static int bytes(napi_env env, napi_value v, uint8_t **p, size_t *n) {
  napi_typedarray_type t; napi_value ab; size_t off;
  return napi_get_typedarray_info(env, v, &t, n, (void **)p, &ab, &off) == napi_ok && t == napi_uint8_array;
}

/* an external created by create() here (type tag checked), live or destroyed */
static int tagged(napi_env env, napi_value v, Handle **h) {
  napi_valuetype t; bool ok = false; void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return 0;
  if (napi_check_object_type_tag(env, v, &AEAD_TAG, &ok) != napi_ok || !ok) return 0;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return 0;
  *h = p;
  return 1;
}

/* a live handle of this direction */
static int handle(napi_env env, napi_value v, int encrypt, Handle **h) {
  return tagged(env, v, h) && (*h)->ctx && (*h)->encrypt == encrypt;
}

static int nonce(napi_env env, napi_value v, uint8_t n[12]) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 || d != floor(d)) return 0;
  uint64_t x = (uint64_t)d;
  memset(n, 0, 4);
  for (int i = 0; i < 8; i++) { n[4 + i] = (uint8_t)(x & 0xff); x >>= 8; }
  return 1;
}

static napi_value result(napi_env env, int r) {
  napi_value v;
  napi_create_int32(env, r, &v);
  return v;
}

/* ciphertext || tag of m (len bytes) at c; c == m allowed */
static int do_seal(EVP_CIPHER_CTX *x, const uint8_t *n, const uint8_t *ad, size_t adl, const uint8_t *m, uint8_t *c, size_t len) {
  int ol = 0, fl = 0;
  if (EVP_EncryptInit_ex(x, NULL, NULL, NULL, n) != 1) return -3;
  if (adl > 0 && EVP_EncryptUpdate(x, NULL, &ol, ad, (int)adl) != 1) return -3;
  if (len > 0 && EVP_EncryptUpdate(x, c, &ol, m, (int)len) != 1) return -3;
  if (EVP_EncryptFinal_ex(x, c + ol, &fl) != 1) return -3;
  if (EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, TAG, c + len) != 1) return -3;
  return 0;
}

/* plaintext of c (len bytes + tag) into m; m == c allowed; m zeroed on failure */
static int do_open(EVP_CIPHER_CTX *x, const uint8_t *n, const uint8_t *ad, size_t adl, const uint8_t *c, uint8_t *m, size_t len) {
  int ol = 0, fl = 0, r = -1;
  uint8_t tag[TAG];
  memcpy(tag, c + len, TAG);
  if (EVP_DecryptInit_ex(x, NULL, NULL, NULL, n) == 1
      && (adl == 0 || EVP_DecryptUpdate(x, NULL, &ol, ad, (int)adl) == 1)
      && (len == 0 || EVP_DecryptUpdate(x, m, &ol, c, (int)len) == 1)
      && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, TAG, tag) == 1
      && EVP_DecryptFinal_ex(x, m + ol, &fl) == 1) r = 0;
  if (r != 0 && len > 0) memset(m, 0, len);
  return r;
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  uint8_t *key; size_t kl; bool enc;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2 || !bytes(env, argv[0], &key, &kl) || kl != 32 || napi_get_value_bool(env, argv[1], &enc) != napi_ok) {
    napi_throw_range_error(env, NULL, "create(key: 32-byte Uint8Array, encrypt: boolean)");
    return NULL;
  }
  static const uint8_t zero[12];
  Handle *h = calloc(1, sizeof *h);
  if (!h) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  h->encrypt = enc;
  h->ctx = EVP_CIPHER_CTX_new();
  if (!h->ctx || (enc ? EVP_EncryptInit_ex(h->ctx, EVP_chacha20_poly1305(), NULL, key, zero)
                      : EVP_DecryptInit_ex(h->ctx, EVP_chacha20_poly1305(), NULL, key, zero)) != 1) {
    finalize(env, h, NULL);
    napi_throw_error(env, NULL, "OpenSSL chacha20-poly1305 unavailable");
    return NULL;
  }
  napi_value ext;
  if (napi_create_external(env, h, finalize, NULL, &ext) != napi_ok) { finalize(env, h, NULL); return NULL; }
  /* h is owned by ext's finalizer from here on */
  if (napi_type_tag_object(env, ext, &AEAD_TAG) != napi_ok) {
    release(h);
    napi_throw_error(env, NULL, "cannot type-tag the AEAD handle");
    return NULL;
  }
  return ext;
}

static napi_value seal_in_place(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value argv[6];
  Handle *h; uint8_t *buf, *ad, n[12]; size_t bl, adl; uint32_t off, len;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 6 || !handle(env, argv[0], 1, &h) || !bytes(env, argv[1], &buf, &bl)
      || napi_get_value_uint32(env, argv[2], &off) != napi_ok || napi_get_value_uint32(env, argv[3], &len) != napi_ok
      || !bytes(env, argv[4], &ad, &adl) || !nonce(env, argv[5], n)
      || len > MAXLEN || adl > MAXLEN || (uint64_t)off + len + TAG > bl) return result(env, -2);
  /* ad must not overlap the bytes written */
  if (adl > 0 && ad < buf + off + len + TAG && buf + off < ad + adl) return result(env, -2);
  return result(env, do_seal(h->ctx, n, ad, adl, buf + off, buf + off, len));
}

static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value argv[5];
  Handle *h; uint8_t *c, *m, *ad, n[12]; size_t cl, ml, adl;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5 || !handle(env, argv[0], 1, &h) || !bytes(env, argv[1], &c, &cl) || !bytes(env, argv[2], &m, &ml)
      || !bytes(env, argv[3], &ad, &adl) || !nonce(env, argv[4], n) || ml > MAXLEN || adl > MAXLEN || cl != ml + TAG) return result(env, -2);
  if (m != c && m < c + cl && c < m + ml) return result(env, -2);
  if (adl > 0 && ad < c + cl && c < ad + adl) return result(env, -2);
  return result(env, do_seal(h->ctx, n, ad, adl, m, c, ml));
}

static napi_value open_in_place(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4];
  Handle *h; uint8_t *buf, *ad, n[12]; size_t bl, adl;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4 || !handle(env, argv[0], 0, &h) || !bytes(env, argv[1], &buf, &bl) || !bytes(env, argv[2], &ad, &adl)
      || !nonce(env, argv[3], n) || bl < TAG || bl - TAG > MAXLEN || adl > MAXLEN) return result(env, -2);
  if (adl > 0 && ad < buf + bl && buf < ad + adl) return result(env, -2);
  return result(env, do_open(h->ctx, n, ad, adl, buf, buf, bl - TAG));
}

static napi_value open_(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value argv[5];
  Handle *h; uint8_t *c, *m, *ad, n[12]; size_t cl, ml, adl;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5 || !handle(env, argv[0], 0, &h) || !bytes(env, argv[1], &m, &ml) || !bytes(env, argv[2], &c, &cl)
      || !bytes(env, argv[3], &ad, &adl) || !nonce(env, argv[4], n) || cl < TAG || ml != cl - TAG || ml > MAXLEN || adl > MAXLEN) return result(env, -2);
  if (m != c && m < c + cl && c < m + ml) return result(env, -2);
  if (adl > 0 && ad < m + ml && m < ad + adl) return result(env, -2);
  return result(env, do_open(h->ctx, n, ad, adl, c, m, ml));
}

static napi_value destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; Handle *h;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || !tagged(env, argv[0], &h)) return result(env, -2);
  release(h);
  return result(env, 0);
}

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback f; } fns[] = {
    { "create", create }, { "sealInPlace", seal_in_place }, { "seal", seal },
    { "openInPlace", open_in_place }, { "open", open_ }, { "destroy", destroy },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].f, NULL, &f) != napi_ok
        || napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  return exports;
}
