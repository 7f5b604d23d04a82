/*
 * tincan_aead: ChaCha20-Poly1305 (RFC 8439, the AEAD libsodium calls
 * crypto_aead_chacha20poly1305_ietf) for 1-RTT packets, through the OpenSSL
 * that Node itself links and exports (AVX-512/AVX2 assembly, ~2x libsodium's
 * per-byte speed on x86-64 with AVX-512). Two paths, byte-identical output
 * (src/session/noise/packet-aead.ts checks each against libsodium at load):
 *   direct — RFC 8439 section 2.8 built on OpenSSL's raw primitives, which node
 *     exports: ChaCha20_ctr32 and Poly1305_Init/Update/Final (the same assembly
 *     EVP uses underneath). Poly1305 key = the first 32 bytes of the ChaCha20
 *     block with counter 0; data with counter 1; tag = Poly1305(AD || pad16 ||
 *     ciphertext || pad16 || le64(|AD|) || le64(|ciphertext|)). No EVP init,
 *     ctrl or provider dispatch per packet. Open computes and checks the tag
 *     (CRYPTO_memcmp, constant time) BEFORE decrypting: a forgery costs one
 *     Poly1305 pass and nothing is decrypted. The symbols are looked up at load
 *     with dlsym(RTLD_DEFAULT), never linked, so a Node without them still
 *     loads this addon and uses evp; so does an OpenSSL other than 1.1.x / 3.x
 *     (OpenSSL_version_num), whose internal signatures could differ.
 *   evp — EVP_chacha20_poly1305 with one cached EVP_CIPHER_CTX per key (re-
 *     initialised with the nonce per packet). Its open decrypts while hashing
 *     and zeroes the output if the tag is wrong.
 *
 * Contract (all arguments checked here; a wrong type or size returns -2):
 *   create(key32, encrypt[, path])    -> handle (one key, one direction); path
 *       0/undefined = direct when available else evp, 1 = direct (throws if
 *       unavailable), 2 = evp.
 *   sealInPlace(h, buf, off, len, ad, pn) -> 0: buf[off, off+len) encrypted in
 *       place, 16-byte tag written at buf[off+len]; ad must not overlap it.
 *   seal(h, c, m, ad, pn)             -> 0: c = m encrypted || tag (c.length ==
 *       m.length + 16; m may be exactly c's prefix, must not partly overlap).
 *   openInPlace(h, buf, ad, pn)       -> 0: buf = ciphertext || tag, plaintext
 *       written to buf[0, len-16); -1: authentication failed (those bytes zeroed).
 *   open(h, m, c, ad, pn)             -> as openInPlace into m (m.length == c.length - 16).
 *   destroy(h)                        -> 0: wipes the key now (direct: its key
 *       slot; evp: frees the context, OpenSSL cleanses its key schedule); later
 *       calls on h return -2.
 *   path(h)                           -> 1 direct, 2 evp, -2 not a live handle.
 *   decryptedBytes(h)                 -> bytes this handle has run through the
 *       cipher in open/openInPlace (tests: a refused forgery adds 0 on the direct
 *       path), -2 not a handle.
 *   nop(h)                            -> 0 after the handle check alone (bench:
 *       the N-API call's own cost).
 *   keyPages()                        -> [pages holding direct-path keys, of which mlock'ed].
 *   direct                            -> true when the direct path is available.
 * Handles are napi externals type-tagged with AEAD_TAG (napi_type_tag_object,
 * Node-API 8): every call first checks the value is an external carrying that
 * tag, so another addon's external (e.g. the UDP socket's), a plain object or
 * any other value is refused with -2 (destroy too) instead of being misread.
 * The nonce is Noise's encoding of pn: 4 zero bytes || pn as little-endian u64,
 * with pn an integer in [0, 2^53). Not thread-safe: one JS thread per handle
 * (the symbol lookup runs once per process, pthread_once).
 * Key memory: the direct path's key words sit in a slot of a page this addon
 * mmap'ed, mlock'ed (best effort) and marked MADV_DONTDUMP; the slot is wiped
 * (memset + compiler barrier) on destroy and in the finalizer. The EVP path's key schedule
 * is OpenSSL's (cleansed when the context is freed, not locked).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <openssl/evp.h>
/* the direct path needs POSIX (dlsym, pthread_once, mmap/mlock) and GCC/Clang; elsewhere, or
 * built with -DTINCAN_NO_DIRECT, the addon is EVP only (`direct` false) */
#if (defined(__unix__) || defined(__APPLE__)) && defined(__GNUC__) && !defined(TINCAN_NO_DIRECT)
#define HAVE_DIRECT 1
#include <dlfcn.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#else
#define HAVE_DIRECT 0
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define TAG 16
#define MAXLEN 0x7fffffff
#define POLY_MAX 512 /* bytes reserved for OpenSSL's POLY1305 (3.0: 256 on x86-64) */

enum { PATH_AUTO = 0, PATH_DIRECT = 1, PATH_EVP = 2 };

/* OpenSSL's internal primitives (include/crypto/chacha.h, include/crypto/poly1305.h) */
typedef void (*chacha_fn)(unsigned char *out, const unsigned char *inp, size_t len, const unsigned int key[8], const unsigned int counter[4]);
typedef size_t (*poly_size_fn)(void);
typedef void (*poly_init_fn)(void *ctx, const unsigned char key[32]);
typedef void (*poly_update_fn)(void *ctx, const unsigned char *inp, size_t len);
typedef void (*poly_final_fn)(void *ctx, unsigned char mac[16]);
typedef int (*memcmp_fn)(const void *a, const void *b, size_t len);

static struct {
  chacha_fn chacha; poly_init_fn poly_init; poly_update_fn poly_update; poly_final_fn poly_final;
  memcmp_fn ct_memcmp; int direct;
} ossl;
#if HAVE_DIRECT
static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;

static void ossl_resolve(void) {
  /* object pointer -> function pointer through memcpy (ISO C has no direct cast) */
#define SYM(var, name) do { void *p_ = dlsym(RTLD_DEFAULT, name); memcpy(&var, &p_, sizeof p_); } while (0)
  poly_size_fn size = NULL;
  unsigned long (*version)(void) = NULL;
  SYM(version, "OpenSSL_version_num");
  /* the internal signatures below are those of OpenSSL 1.1.x and 3.x: anything else stays on EVP */
  unsigned long v = version ? version() : 0;
  if (!(v >> 28 == 3 || v >> 20 == 0x101)) return;
  SYM(ossl.chacha, "ChaCha20_ctr32"); SYM(size, "Poly1305_ctx_size");
  SYM(ossl.poly_init, "Poly1305_Init"); SYM(ossl.poly_update, "Poly1305_Update"); SYM(ossl.poly_final, "Poly1305_Final");
  SYM(ossl.ct_memcmp, "CRYPTO_memcmp");
#undef SYM
  ossl.direct = ossl.chacha && size && ossl.poly_init && ossl.poly_update && ossl.poly_final && size() <= POLY_MAX;
}
#endif

#if HAVE_DIRECT
/* constant time: 0 iff equal */
static int tag_differs(const uint8_t *a, const uint8_t *b) {
  if (ossl.ct_memcmp) return ossl.ct_memcmp(a, b, TAG);
  volatile uint8_t d = 0;
  for (int i = 0; i < TAG; i++) d |= a[i] ^ b[i];
  return d != 0;
}

/* a memset the compiler may not drop (the barrier says p's memory is read; memset speed,
 * where OPENSSL_cleanse is a byte loop on x86-64) */
static void wipe(void *p, size_t n) {
  memset(p, 0, n);
  __asm__ __volatile__("" : : "r"(p) : "memory");
}
#endif

/* ---- key memory: the direct path's key words live in 64-byte slots of dedicated pages,
 * mlock'ed (best effort: a failure, e.g. RLIMIT_MEMLOCK, leaves the page unlocked and
 * is only counted) and MADV_DONTDUMP (kept out of core dumps). Pages are never unmapped
 * (reused through a free list: at most the peak number of live keys / 64 pages), so no
 * munlock can unlock a page another key still uses. A freed slot is wiped first. */

#if HAVE_DIRECT
typedef union Slot { union Slot *next; unsigned int key[8]; uint8_t size[64]; } Slot;
static pthread_mutex_t slab_mu = PTHREAD_MUTEX_INITIALIZER;
static Slot *slab_free;
static double slab_pages, slab_locked;

static unsigned int *key_alloc(void) {
  Slot *s;
  pthread_mutex_lock(&slab_mu);
  if (!slab_free) {
    long ps = sysconf(_SC_PAGESIZE);
    size_t sz = ps >= (long)sizeof(Slot) ? (size_t)ps : 4096;
    void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      slab_pages++;
      if (mlock(p, sz) == 0) slab_locked++;
#ifdef MADV_DONTDUMP
      (void)madvise(p, sz, MADV_DONTDUMP);
#endif
      Slot *page = p;
      for (size_t i = 0; i < sz / sizeof(Slot); i++) { page[i].next = slab_free; slab_free = &page[i]; }
    }
  }
  s = slab_free;
  if (s) { slab_free = s->next; memset(s, 0, sizeof *s); }
  pthread_mutex_unlock(&slab_mu);
  return s ? s->key : NULL;
}

static void key_free(unsigned int *key) {
  Slot *s = (Slot *)(void *)key; /* key is the slot's first member */
  wipe(s, sizeof *s);
  pthread_mutex_lock(&slab_mu);
  s->next = slab_free; slab_free = s;
  pthread_mutex_unlock(&slab_mu);
}
#else
static unsigned int *key_alloc(void) { return NULL; }
static void key_free(unsigned int *key) { (void)key; }
#endif

typedef struct {
  unsigned int *key;                         /* direct: the key as little-endian words, in a key slot */
  EVP_CIPHER_CTX *ctx;                       /* evp */
  double decrypted;                          /* bytes run through the cipher by opens */
  int encrypt, path, live;
} Handle;

static const napi_type_tag AEAD_TAG = { 0x3c9d2a7be1f04856ULL, 0xa5174e0c92d86b3fULL };

static void release(Handle *h) {
  if (!h) return;
  if (h->ctx) { EVP_CIPHER_CTX_free(h->ctx); h->ctx = NULL; }
  if (h->key) { key_free(h->key); h->key = NULL; }
  h->live = 0;
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
  return tagged(env, v, h) && (*h)->live && (*h)->encrypt == encrypt;
}

/* an integer in [0, 2^32) exactly (napi_get_value_uint32 would wrap 2^32 + x and truncate 1.5) */
static int u32(napi_env env, napi_value v, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 4294967295.0 || d != floor(d)) return 0;
  *out = (uint32_t)d;
  return 1;
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

static unsigned int le32(const uint8_t *p) { return (unsigned int)p[0] | (unsigned int)p[1] << 8 | (unsigned int)p[2] << 16 | (unsigned int)p[3] << 24; }

#if HAVE_DIRECT
/* ---- direct path (RFC 8439 2.8 on ChaCha20_ctr32 + Poly1305) ----
 * How ChaCha20_ctr32 is called matters more than the per-byte speed at packet
 * sizes (measured on this AVX-512 machine: a call of <= 256 bytes costs ~100 ns,
 * one of 257..1024 ~200 ns, every started 1024 bytes beyond that ~200 ns more).
 * So the Poly1305 key block and the keystream of the first up to 192 data bytes
 * come from ONE 256-byte keystream call (blocks 0..3, counter 0), XORed into the
 * data by the loop below; the rest (counter 4 on) is one call, split so that a
 * remainder of <= 256 bytes after whole kilobytes gets its own cheap call. The
 * open path XORs only after the tag checked out: before that, only keystream
 * exists (as for the key block), nothing of the packet is decrypted. */

#define HEAD 192 /* data bytes whose keystream comes with the key block */

/* one packet's state, on the stack (hot in cache, unlike a per-key heap block between packets) */
typedef struct {
  _Alignas(64) unsigned char poly[POLY_MAX]; /* OpenSSL's POLY1305 (Poly1305_Final cleanses it) */
  unsigned int ctr[4];
  uint8_t ks[64 + HEAD];                     /* keystream blocks 0..3 (wiped once used) */
  size_t head;
} Keystream;

/* keystream blocks 0..(1 + head/64); Poly1305 keyed with block 0, AD absorbed */
static void direct_begin(Handle *h, const uint8_t *n, const uint8_t *ad, size_t adl, size_t len, Keystream *k) {
  static const uint8_t zero[64 + HEAD];
  k->head = len < HEAD ? len : HEAD;
  k->ctr[0] = 0; k->ctr[1] = le32(n); k->ctr[2] = le32(n + 4); k->ctr[3] = le32(n + 8);
  ossl.chacha(k->ks, zero, 64 + k->head, h->key, k->ctr);
  ossl.poly_init(k->poly, k->ks); /* r || s: block 0's first 32 bytes */
  if (adl > 0 && adl <= 48) { /* a packet header: AD || pad16 in one Poly1305_Update */
    uint8_t b[48] = { 0 };
    memcpy(b, ad, adl);
    ossl.poly_update(k->poly, b, (adl + 15) / 16 * 16);
  } else if (adl > 0) {
    ossl.poly_update(k->poly, ad, adl);
    if (adl % 16) ossl.poly_update(k->poly, zero, 16 - adl % 16);
  }
}

/* out[off, off+n) = in XOR keystream, off a multiple of 64 past the head (counter 1 + off/64);
 * a remainder of <= 256 bytes after whole KiB gets its own call */
static void xor_range(Handle *h, Keystream *k, const uint8_t *in, uint8_t *out, size_t off, size_t n) {
  size_t tail = n % 1024;
  k->ctr[0] = (unsigned int)(1 + off / 64);
  if (n > 1024 && tail > 0 && tail <= 256) {
    ossl.chacha(out + off, in + off, n - tail, h->key, k->ctr);
    k->ctr[0] += (unsigned int)((n - tail) / 64);
    ossl.chacha(out + off + n - tail, in + off + n - tail, tail, h->key, k->ctr);
  } else {
    ossl.chacha(out + off, in + off, n, h->key, k->ctr);
  }
}

/* out[0, head) = in XOR the head's keystream (from k, then wiped) */
static void xor_head(Keystream *k, const uint8_t *in, uint8_t *out) {
  size_t i = 0;
  for (; i + 8 <= k->head; i += 8) {
    uint64_t a, b;
    memcpy(&a, in + i, 8); memcpy(&b, k->ks + 64 + i, 8); a ^= b; memcpy(out + i, &a, 8);
  }
  for (; i < k->head; i++) out[i] = in[i] ^ k->ks[64 + i];
  wipe(k->ks, 64 + k->head);
}

/* pad16 of the ciphertext, lengths appended, tag out (the ciphertext itself already absorbed) */
static void direct_finish(Keystream *k, size_t len, size_t adl, uint8_t tag[TAG]) {
  uint8_t b[32] = { 0 }; /* pad16 of the ciphertext || le64(|AD|) || le64(|ciphertext|), one Poly1305_Update */
  size_t pad = (16 - len % 16) % 16;
  for (int i = 0; i < 8; i++) { b[pad + i] = (uint8_t)((uint64_t)adl >> (8 * i)); b[pad + 8 + i] = (uint8_t)((uint64_t)len >> (8 * i)); }
  ossl.poly_update(k->poly, b, pad + 16);
  ossl.poly_final(k->poly, tag); /* also cleanses the Poly1305 state */
}

/* packets over 2 * CHUNK bytes are sealed CHUNK bytes at a time (encrypt, then hash while the
 * bytes are still in L1: ~6-8 % less at 65,000 B here); smaller ones are hashed in one call
 * (an extra Poly1305_Update call costs more than it saves below that) */
#define CHUNK 16384

static int direct_seal(Handle *h, const uint8_t *n, const uint8_t *ad, size_t adl, const uint8_t *m, uint8_t *c, size_t len) {
  Keystream k;
  direct_begin(h, n, ad, adl, len, &k);
  xor_head(&k, m, c);
  size_t done = k.head, hashed = 0;
  while (done < len) {
    size_t step = len - done > CHUNK ? CHUNK : len - done;
    xor_range(h, &k, m, c, done, step);
    done += step;
    if (len > 2 * CHUNK) { ossl.poly_update(k.poly, c + hashed, done - hashed); hashed = done; }
  }
  if (hashed < len) ossl.poly_update(k.poly, c + hashed, len - hashed);
  direct_finish(&k, len, adl, c + len);
  return 0;
}

/* the tag is checked first; only an authentic packet is decrypted */
static int direct_open(Handle *h, const uint8_t *n, const uint8_t *ad, size_t adl, const uint8_t *c, uint8_t *m, size_t len) {
  Keystream k;
  uint8_t tag[TAG];
  direct_begin(h, n, ad, adl, len, &k);
  if (len > 0) ossl.poly_update(k.poly, c, len);
  direct_finish(&k, len, adl, tag);
  if (tag_differs(tag, c + len)) {
    wipe(k.ks, 64 + k.head);
    if (len > 0) memset(m, 0, len);
    return -1;
  }
  xor_head(&k, c, m);
  if (len > k.head) xor_range(h, &k, c, m, k.head, len - k.head);
  h->decrypted += (double)len;
  return 0;
}

#endif

/* ---- evp path ---- */

/* ciphertext || tag of m (len bytes) at c; c == m allowed */
static int evp_seal(EVP_CIPHER_CTX *x, const uint8_t *n, const uint8_t *ad, size_t adl, const uint8_t *m, uint8_t *c, size_t len) {
  int ol = 0, fl = 0;
  if (EVP_EncryptInit_ex(x, NULL, NULL, NULL, n) != 1) return -3;
  if (adl > 0 && EVP_EncryptUpdate(x, NULL, &ol, ad, (int)adl) != 1) return -3;
  if (len > 0 && EVP_EncryptUpdate(x, c, &ol, m, (int)len) != 1) return -3;
  if (EVP_EncryptFinal_ex(x, c + ol, &fl) != 1) return -3;
  if (EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, TAG, c + len) != 1) return -3;
  return 0;
}

/* plaintext of c (len bytes + tag) into m; m == c allowed; m zeroed on failure */
static int evp_open(Handle *h, const uint8_t *n, const uint8_t *ad, size_t adl, const uint8_t *c, uint8_t *m, size_t len) {
  EVP_CIPHER_CTX *x = h->ctx;
  int ol = 0, fl = 0, r = -1;
  uint8_t tag[TAG];
  memcpy(tag, c + len, TAG);
  h->decrypted += (double)len; /* EVP decrypts while it hashes, forgeries included */
  if (EVP_DecryptInit_ex(x, NULL, NULL, NULL, n) == 1
      && (adl == 0 || EVP_DecryptUpdate(x, NULL, &ol, ad, (int)adl) == 1)
      && (len == 0 || EVP_DecryptUpdate(x, m, &ol, c, (int)len) == 1)
      && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, TAG, tag) == 1
      && EVP_DecryptFinal_ex(x, m + ol, &fl) == 1) r = 0;
  if (r != 0 && len > 0) memset(m, 0, len);
  return r;
}

static int do_seal(Handle *h, const uint8_t *n, const uint8_t *ad, size_t adl, const uint8_t *m, uint8_t *c, size_t len) {
#if HAVE_DIRECT
  if (h->path == PATH_DIRECT) return direct_seal(h, n, ad, adl, m, c, len);
#endif
  return evp_seal(h->ctx, n, ad, adl, m, c, len);
}

static int do_open(Handle *h, const uint8_t *n, const uint8_t *ad, size_t adl, const uint8_t *c, uint8_t *m, size_t len) {
#if HAVE_DIRECT
  if (h->path == PATH_DIRECT) return direct_open(h, n, ad, adl, c, m, len);
#endif
  return evp_open(h, n, ad, adl, c, m, len);
}

/* ---- entry points ---- */

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  uint8_t *key; size_t kl; bool enc; int path = PATH_AUTO, path_ok = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc == 3) { /* undefined, or exactly 0, 1 or 2 */
    napi_valuetype pt; double pd = -1;
    path_ok = napi_typeof(env, argv[2], &pt) == napi_ok && (pt == napi_undefined
      || (pt == napi_number && napi_get_value_double(env, argv[2], &pd) == napi_ok && (pd == PATH_AUTO || pd == PATH_DIRECT || pd == PATH_EVP)));
    if (path_ok && pt == napi_number) path = (int)pd;
  }
  if (argc < 2 || argc > 3 || !path_ok || !bytes(env, argv[0], &key, &kl) || kl != 32 || napi_get_value_bool(env, argv[1], &enc) != napi_ok) {
    napi_throw_range_error(env, NULL, "create(key: 32-byte Uint8Array, encrypt: boolean, path?: 0 | 1 | 2)");
    return NULL;
  }
  if (path == PATH_AUTO) path = ossl.direct ? PATH_DIRECT : PATH_EVP;
  if (path == PATH_DIRECT && !ossl.direct) {
    napi_throw_error(env, NULL, "the direct path is unavailable (node does not export ChaCha20_ctr32/Poly1305_*)");
    return NULL;
  }
  static const uint8_t zero[12];
  Handle *h = malloc(sizeof(Handle));
  if (!h) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  memset(h, 0, sizeof *h);
  h->encrypt = enc; h->path = path;
  if (path == PATH_DIRECT) {
    if (!(h->key = key_alloc())) { finalize(env, h, NULL); napi_throw_error(env, NULL, "out of memory"); return NULL; }
    for (int i = 0; i < 8; i++) h->key[i] = le32(key + 4 * i);
  } else {
    h->ctx = EVP_CIPHER_CTX_new();
    if (!h->ctx || (enc ? EVP_EncryptInit_ex(h->ctx, EVP_chacha20_poly1305(), NULL, key, zero)
                        : EVP_DecryptInit_ex(h->ctx, EVP_chacha20_poly1305(), NULL, key, zero)) != 1) {
      finalize(env, h, NULL);
      napi_throw_error(env, NULL, "OpenSSL chacha20-poly1305 unavailable");
      return NULL;
    }
  }
  h->live = 1;
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
      || !u32(env, argv[2], &off) || !u32(env, argv[3], &len)
      || !bytes(env, argv[4], &ad, &adl) || !nonce(env, argv[5], n)
      || len > MAXLEN || adl > MAXLEN || (uint64_t)off + len + TAG > bl) return result(env, -2);
  /* ad must not overlap the bytes written */
  if (adl > 0 && ad < buf + off + len + TAG && buf + off < ad + adl) return result(env, -2);
  return result(env, do_seal(h, n, ad, adl, buf + off, buf + off, len));
}

static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value argv[5];
  Handle *h; uint8_t *c, *m, *ad, n[12]; size_t cl, ml, adl;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5 || !handle(env, argv[0], 1, &h) || !bytes(env, argv[1], &c, &cl) || !bytes(env, argv[2], &m, &ml)
      || !bytes(env, argv[3], &ad, &adl) || !nonce(env, argv[4], n) || ml > MAXLEN || adl > MAXLEN || cl != ml + TAG) return result(env, -2);
  if (m != c && m < c + cl && c < m + ml) return result(env, -2);
  if (adl > 0 && ad < c + cl && c < ad + adl) return result(env, -2);
  return result(env, do_seal(h, n, ad, adl, m, c, ml));
}

static napi_value open_in_place(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4];
  Handle *h; uint8_t *buf, *ad, n[12]; size_t bl, adl;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4 || !handle(env, argv[0], 0, &h) || !bytes(env, argv[1], &buf, &bl) || !bytes(env, argv[2], &ad, &adl)
      || !nonce(env, argv[3], n) || bl < TAG || bl - TAG > MAXLEN || adl > MAXLEN) return result(env, -2);
  if (adl > 0 && ad < buf + bl && buf < ad + adl) return result(env, -2);
  return result(env, do_open(h, n, ad, adl, buf, buf, bl - TAG));
}

static napi_value open_(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value argv[5];
  Handle *h; uint8_t *c, *m, *ad, n[12]; size_t cl, ml, adl;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5 || !handle(env, argv[0], 0, &h) || !bytes(env, argv[1], &m, &ml) || !bytes(env, argv[2], &c, &cl)
      || !bytes(env, argv[3], &ad, &adl) || !nonce(env, argv[4], n) || cl < TAG || ml != cl - TAG || ml > MAXLEN || adl > MAXLEN) return result(env, -2);
  if (m != c && m < c + cl && c < m + ml) return result(env, -2);
  if (adl > 0 && ad < m + ml && m < ad + adl) return result(env, -2);
  return result(env, do_open(h, n, ad, adl, c, m, ml));
}

static napi_value destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; Handle *h;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || !tagged(env, argv[0], &h)) return result(env, -2);
  release(h);
  return result(env, 0);
}

static napi_value path_(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; Handle *h;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || !tagged(env, argv[0], &h) || !h->live) return result(env, -2);
  return result(env, h->path);
}

static napi_value decrypted_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; Handle *h; napi_value v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || !tagged(env, argv[0], &h)) return result(env, -2);
  napi_create_double(env, h->decrypted, &v);
  return v;
}

static napi_value key_pages(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr, v;
  double pages = 0, locked = 0;
#if HAVE_DIRECT
  pthread_mutex_lock(&slab_mu);
  pages = slab_pages; locked = slab_locked;
  pthread_mutex_unlock(&slab_mu);
#endif
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok) return NULL;
  napi_create_double(env, pages, &v); napi_set_element(env, arr, 0, v);
  napi_create_double(env, locked, &v); napi_set_element(env, arr, 1, v);
  return arr;
}

static napi_value nop(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; Handle *h;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return result(env, argc == 1 && tagged(env, argv[0], &h) ? 0 : -2);
}

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback f; } fns[] = {
    { "create", create }, { "sealInPlace", seal_in_place }, { "seal", seal },
    { "openInPlace", open_in_place }, { "open", open_ }, { "destroy", destroy },
    { "path", path_ }, { "decryptedBytes", decrypted_bytes }, { "nop", nop }, { "keyPages", key_pages },
  };
#if HAVE_DIRECT
  if (pthread_once(&ossl_once, ossl_resolve) != 0) return NULL;
#endif
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].f, NULL, &f) != napi_ok
        || napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  napi_value direct;
  if (napi_get_boolean(env, ossl.direct, &direct) != napi_ok || napi_set_named_property(env, exports, "direct", direct) != napi_ok) return NULL;
  return exports;
}
