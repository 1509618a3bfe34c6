//===- Handshake.cpp - the rendezvous messages ----------------------------===//
#include "runtime/comm/Handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kiln::handshake {
namespace {

constexpr char kMagic[8] = {'k', 'i', 'l', 'n', '-', 'r', 'd', 'v'};

void put32(std::vector<uint8_t> &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(uint8_t(v >> 8 * i));
}

uint32_t get32(const uint8_t *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

template <size_t N> void putBytes(std::vector<uint8_t> &out, const std::array<uint8_t, N> &a) {
  out.insert(out.end(), a.begin(), a.end());
}

template <size_t N> const uint8_t *getBytes(const uint8_t *p, std::array<uint8_t, N> &a) {
  std::memcpy(a.data(), p, N);
  return p + N;
}

/// The magic and the message's size; the version follows the magic.
bool framed(const uint8_t *bytes, size_t size, size_t want, const char *what,
            std::string &why) {
  if (size != want || std::memcmp(bytes, kMagic, sizeof kMagic) != 0) {
    why = std::string("not a kiln ") + what + " (" + std::to_string(size) + " bytes: " +
          sample(bytes, size) + ")";
    return false;
  }
  return true;
}

/// The secret flag `byte` (0 or 1) into `flag`, else false with `why`.
bool secretFlag(uint8_t byte, const char *malformed, bool &flag, std::string &why) {
  if (byte > 1) {
    why = std::string(malformed) + " (secret flag " + std::to_string(byte) + ")";
    return false;
  }
  flag = byte;
  return true;
}

bool knownVerdict(uint32_t v) { return v <= uint32_t(Verdict::WrongSecret); }

std::string hex(uint32_t v) {
  char s[16];
  std::snprintf(s, sizeof s, "%08x", v);
  return s;
}

} // namespace

std::vector<uint8_t> encode(const Hello &h) {
  std::vector<uint8_t> out(kMagic, kMagic + sizeof kMagic);
  put32(out, h.version);
  put32(out, uint32_t(h.rank));
  put32(out, uint32_t(h.worldSize));
  putBytes(out, h.job);
  put32(out, h.modelCrc);
  out.push_back(h.hasSecret);
  putBytes(out, h.nonce);
  return out;
}

std::vector<uint8_t> encode(const Reply &r) {
  std::vector<uint8_t> out(kMagic, kMagic + sizeof kMagic);
  put32(out, r.version);
  put32(out, uint32_t(r.verdict));
  put32(out, uint32_t(r.worldSize));
  put32(out, r.modelCrc);
  out.push_back(r.hasSecret);
  putBytes(out, r.nonce);
  putBytes(out, r.mac);
  return out;
}

std::vector<uint8_t> encode(Verdict verdict) {
  std::vector<uint8_t> out;
  put32(out, uint32_t(verdict));
  return out;
}

bool decode(const uint8_t *bytes, size_t size, Hello &h, std::string &why) {
  if (!framed(bytes, size, kHelloBytes, "rank's hello", why))
    return false;
  const uint8_t *p = bytes + sizeof kMagic;
  h.version = get32(p);
  if (h.version != kVersion)
    return true; // the rest may be laid out otherwise: judge() says which version
  h.rank = int32_t(get32(p + 4));
  h.worldSize = int32_t(get32(p + 8));
  p = getBytes(p + 12, h.job);
  h.modelCrc = get32(p);
  if (!secretFlag(p[4], "a malformed hello", h.hasSecret, why))
    return false;
  getBytes(p + 5, h.nonce);
  return true;
}

bool decode(const uint8_t *bytes, size_t size, Reply &r, std::string &why) {
  if (!framed(bytes, size, kReplyBytes, "rank 0's reply", why))
    return false;
  const uint8_t *p = bytes + sizeof kMagic;
  r.version = get32(p);
  uint32_t verdict = get32(p + 4);
  if (!knownVerdict(verdict)) {
    why = "rank 0's reply has an unknown verdict " + std::to_string(verdict);
    return false;
  }
  r.verdict = Verdict(verdict);
  r.worldSize = int32_t(get32(p + 8));
  r.modelCrc = get32(p + 12);
  if (!secretFlag(p[16], "rank 0's reply is malformed", r.hasSecret, why))
    return false;
  getBytes(getBytes(p + 17, r.nonce), r.mac);
  return true;
}

bool decode(const uint8_t *bytes, size_t size, Verdict &verdict, std::string &why) {
  if (size != kFinalBytes || !knownVerdict(get32(bytes))) {
    why = "rank 0's final answer is not a verdict (" + sample(bytes, size) + ")";
    return false;
  }
  verdict = Verdict(get32(bytes));
  return true;
}

Verdict judge(const Hello &h, const Expectation &e, const std::vector<bool> &taken) {
  if (h.version != kVersion)
    return Verdict::OtherVersion;
  if (!sameDigest(h.job, e.job))
    return Verdict::OtherJob;
  if (h.worldSize != e.worldSize)
    return Verdict::OtherWorldSize;
  if (h.rank < 1 || h.rank >= e.worldSize)
    return Verdict::RankOutOfRange;
  if (h.hasSecret != e.hasSecret)
    return Verdict::SecretMismatch;
  if (size_t(h.rank) < taken.size() && taken[h.rank])
    return Verdict::RankTaken;
  return Verdict::Continue;
}

Verdict judgeProof(const Hello &h, const Expectation &e, bool proven, bool taken) {
  return !proven                  ? Verdict::WrongSecret
         : taken                  ? Verdict::RankTaken
         : h.modelCrc != e.modelCrc ? Verdict::OtherModel
                                  : Verdict::Accepted;
}

std::string describe(Verdict v, const Hello &h, const Expectation &e) {
  std::string rank = "rank " + std::to_string(h.rank);
  switch (v) {
  case Verdict::Accepted:
    return rank + " joined";
  case Verdict::Continue:
    return rank + " is this job's so far";
  case Verdict::OtherVersion:
    return "it speaks rendezvous protocol version " + std::to_string(h.version) +
           ", rank 0 version " + std::to_string(kVersion) + " (run the same kiln on every rank)";
  case Verdict::OtherJob:
    return "it belongs to another job (the job id differs: give every rank the same "
           "KILN_JOB_ID, or run them in one SLURM or torchrun job)";
  case Verdict::OtherWorldSize:
    return "it was started with WORLD_SIZE=" + std::to_string(h.worldSize) + ", rank 0 with " +
           std::to_string(e.worldSize);
  case Verdict::RankOutOfRange:
    return "it claims " + rank + ", outside 1.." + std::to_string(e.worldSize - 1);
  case Verdict::RankTaken:
    return "it claims " + rank + ", which another connection already holds";
  case Verdict::OtherModel:
    return rank + " runs another model (CRC-32 " + hex(h.modelCrc) + ", rank 0's " +
           hex(e.modelCrc) + "): give every rank the same MODEL.json or OUT.kiln";
  case Verdict::SecretMismatch:
    return std::string(h.hasSecret ? "it has a job secret and rank 0 none"
                                   : "rank 0 has a job secret and it none") +
           " (set KILN_JOB_SECRET or KILN_JOB_SECRET_FILE on every rank)";
  case Verdict::WrongSecret:
    return "it failed to prove the job secret (KILN_JOB_SECRET differs)";
  }
  return "?";
}

Digest jobDigest(const std::string &jobId) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char *>(jobId.data()), jobId.size(), d.data());
  return d;
}

Digest mac(const std::string &secret, const char *role, const std::vector<uint8_t> &hello,
           const Nonce &nonce) {
  std::vector<uint8_t> message(role, role + std::strlen(role) + 1); // with its NUL: a separator
  message.insert(message.end(), hello.begin(), hello.end());
  message.insert(message.end(), nonce.begin(), nonce.end());
  Digest d{};
  unsigned length = 0;
  HMAC(EVP_sha256(), secret.data(), int(secret.size()), message.data(), message.size(), d.data(),
       &length);
  return d;
}

bool sameDigest(const Digest &a, const Digest &b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Nonce freshNonce() {
  Nonce n{};
  if (RAND_bytes(n.data(), int(n.size())) != 1)
    std::abort(); // OpenSSL's generator failing leaves nothing safe to do
  return n;
}

std::string sample(const uint8_t *bytes, size_t size) {
  size_t shown = std::min<size_t>(size, 16);
  bool printable = shown > 0;
  for (size_t i = 0; i < shown; ++i)
    printable &= bytes[i] >= 0x20 && bytes[i] < 0x7f;
  std::string s;
  if (printable) {
    s = "\"" + std::string(reinterpret_cast<const char *>(bytes), shown) + "\"";
  } else {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < shown; ++i)
      s += {digits[bytes[i] >> 4], digits[bytes[i] & 15], ' '};
    if (!s.empty())
      s.pop_back();
  }
  return size > shown ? s + " ..." : s.empty() ? "nothing" : s;
}

} // namespace kiln::handshake
