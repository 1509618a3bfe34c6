//===- Handshake.h - who may join a TCP rendezvous ---------------*- C++ -*-===//
//
// Every connection to rank 0 (runtime/comm/Rendezvous.cpp) opens with four
// fixed-size messages, so that a stranger on MASTER_PORT (a port scanner, a
// health probe, another job, an impostor) never takes a rank's place:
//
//   rank r -> 0   Hello   magic, version, rank, world size, SHA-256 of the
//                         job id, the model's CRC-32, whether it holds a
//                         secret, a fresh nonce
//   0 -> rank r   Reply   magic, version, verdict on the Hello, rank 0's
//                         world size, model CRC and secret flag, a fresh
//                         nonce, HMAC(secret, "rank 0" | Hello)
//   rank r -> 0   Proof   HMAC(secret, "rank" | Hello | rank 0's nonce)
//   0 -> rank r   Final   the verdict: accepted, wrong secret, rank taken
//
// Each side proves it holds KILN_JOB_SECRET over the other's fresh nonce
// (HMAC-SHA256, OpenSSL), so neither a stranger joining nor one posing as
// rank 0 gets gradients or the NCCL id. Without a secret the MACs are
// keyed with nothing and prove only that both ran this protocol. Integers
// are little-endian on the wire.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_COMM_HANDSHAKE_H
#define KILN_RUNTIME_COMM_HANDSHAKE_H

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::handshake {

constexpr uint32_t kVersion = 1;
constexpr size_t kHelloBytes = 8 + 4 + 4 + 4 + 32 + 4 + 1 + 16;
constexpr size_t kReplyBytes = 8 + 4 + 4 + 4 + 4 + 1 + 16 + 32;
constexpr size_t kProofBytes = 32;
constexpr size_t kFinalBytes = 4;

using Nonce = std::array<uint8_t, 16>;
using Digest = std::array<uint8_t, 32>;

struct Hello {
  uint32_t version = kVersion;
  int32_t rank = 0, worldSize = 0;
  Digest job{};           // SHA-256 of the job id
  uint32_t modelCrc = 0;  // what the rank was asked to run
  bool hasSecret = false; // a secret keys its MACs
  Nonce nonce{};
};

/// Rank 0's answer to a Hello, then to a Proof. Continue: the Hello is
/// this job's, prove the secret.
enum class Verdict : uint32_t {
  Accepted,
  Continue,
  OtherVersion,
  OtherJob,
  OtherWorldSize,
  RankOutOfRange,
  RankTaken,
  OtherModel,
  SecretMismatch, // one side has a secret, the other none
  WrongSecret,
};

/// Rank 0's side of what differs travels back with the verdict, so the
/// refused rank can say what differs.
struct Reply {
  uint32_t version = kVersion;
  Verdict verdict = Verdict::Continue;
  int32_t worldSize = 0;
  uint32_t modelCrc = 0;
  bool hasSecret = false;
  Nonce nonce{};
  Digest mac{};
};

/// What rank 0 expects of every Hello.
struct Expectation {
  int32_t worldSize = 0;
  Digest job{};
  uint32_t modelCrc = 0;
  bool hasSecret = false;
};

std::vector<uint8_t> encode(const Hello &hello);
std::vector<uint8_t> encode(const Reply &reply);
std::vector<uint8_t> encode(Verdict verdict);

/// Parses exactly kHelloBytes / kReplyBytes / kFinalBytes; false with `why`
/// (what the bytes look like: not kiln's magic, an unknown verdict) if they
/// are not such a message. A Hello of another version parses as far as its
/// version, so the verdict can say which.
bool decode(const uint8_t *bytes, size_t size, Hello &hello, std::string &why);
bool decode(const uint8_t *bytes, size_t size, Reply &reply, std::string &why);
bool decode(const uint8_t *bytes, size_t size, Verdict &verdict, std::string &why);

/// Rank 0's verdict on a parsed Hello: Continue, or what differs. `taken`:
/// the ranks already joined. The model is not judged here: a stranger
/// could claim any model, so only a rank that proved the secret hears
/// (and makes rank 0 stop for) another model, in judgeProof.
Verdict judge(const Hello &hello, const Expectation &expected, const std::vector<bool> &taken);

/// Rank 0's final verdict once the proof came: WrongSecret unless
/// `proven`, RankTaken if another won the race, OtherModel (this job's
/// rank, misconfigured: the job stops) or Accepted.
Verdict judgeProof(const Hello &hello, const Expectation &expected, bool proven, bool taken);

/// The verdict in words, for rank 0's log and the refused rank's error.
std::string describe(Verdict verdict, const Hello &hello, const Expectation &expected);

/// SHA-256 of a job id.
Digest jobDigest(const std::string &jobId);

/// HMAC-SHA256 keyed with `secret` over role | hello | nonce (rank 0's
/// proof: the Hello with its nonce; a rank's: the Hello and rank 0's).
Digest mac(const std::string &secret, const char *role, const std::vector<uint8_t> &hello,
           const Nonce &nonce);

/// Constant-time comparison (the MACs).
bool sameDigest(const Digest &a, const Digest &b);

/// 16 bytes from OpenSSL's generator.
Nonce freshNonce();

/// A short printable view of bytes that are not a kiln message ("GET /
/// HTT…", or hex), for the log.
std::string sample(const uint8_t *bytes, size_t size);

} // namespace kiln::handshake

#endif // KILN_RUNTIME_COMM_HANDSHAKE_H
