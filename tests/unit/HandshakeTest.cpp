//===- HandshakeTest.cpp - the rendezvous messages and who they admit -----===//
//
// The four messages round-trip field by field; each way a Hello can
// differ from rank 0's expectation gets its own verdict, in the order
// judge() checks; anything that is not a message is refused with a
// description of the bytes; the MACs depend on every input; and the
// secret comes from KILN_JOB_SECRET or a file only its owner may read.
//
//===----------------------------------------------------------------------===//
#include "runtime/comm/Handshake.h"
#include "runtime/comm/World.h"

#include "TempDir.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <map>

namespace kiln {
namespace {

using namespace handshake;

Hello someHello() {
  Hello h;
  h.rank = 2;
  h.worldSize = 3;
  h.job = jobDigest("job-17");
  h.modelCrc = 0xdeadbeef;
  h.hasSecret = true;
  h.nonce = freshNonce();
  return h;
}

Expectation expectationFor(const Hello &h) {
  return {h.worldSize, h.job, h.modelCrc, h.hasSecret};
}

TEST(Handshake, HelloRoundTrips) {
  Hello h = someHello(), back;
  std::vector<uint8_t> bytes = encode(h);
  ASSERT_EQ(bytes.size(), kHelloBytes);
  std::string why;
  ASSERT_TRUE(decode(bytes.data(), bytes.size(), back, why)) << why;
  EXPECT_EQ(back.version, kVersion);
  EXPECT_EQ(back.rank, 2);
  EXPECT_EQ(back.worldSize, 3);
  EXPECT_EQ(back.job, h.job);
  EXPECT_EQ(back.modelCrc, 0xdeadbeefu);
  EXPECT_TRUE(back.hasSecret);
  EXPECT_EQ(back.nonce, h.nonce);
}

TEST(Handshake, ReplyAndVerdictRoundTrip) {
  Reply r, back;
  r.verdict = Verdict::OtherModel;
  r.worldSize = 4;
  r.modelCrc = 0x01020304;
  r.hasSecret = true;
  r.nonce = freshNonce();
  r.mac = jobDigest("anything");
  std::vector<uint8_t> bytes = encode(r);
  ASSERT_EQ(bytes.size(), kReplyBytes);
  std::string why;
  ASSERT_TRUE(decode(bytes.data(), bytes.size(), back, why)) << why;
  EXPECT_EQ(back.verdict, Verdict::OtherModel);
  EXPECT_EQ(back.worldSize, 4);
  EXPECT_EQ(back.modelCrc, 0x01020304u);
  EXPECT_TRUE(back.hasSecret);
  EXPECT_EQ(back.nonce, r.nonce);
  EXPECT_EQ(back.mac, r.mac);
  Verdict v;
  bytes = encode(Verdict::WrongSecret);
  ASSERT_TRUE(decode(bytes.data(), bytes.size(), v, why)) << why;
  EXPECT_EQ(v, Verdict::WrongSecret);
  bytes[0] = 200; // not a verdict
  EXPECT_FALSE(decode(bytes.data(), bytes.size(), v, why));
}

TEST(Handshake, EachDifferenceHasItsVerdict) {
  Hello h = someHello();
  Expectation e = expectationFor(h);
  std::vector<bool> taken(3, false);
  EXPECT_EQ(judge(h, e, taken), Verdict::Continue);
  std::map<Verdict, Hello> cases;
  cases[Verdict::OtherVersion] = h, cases[Verdict::OtherVersion].version = 2;
  cases[Verdict::OtherJob] = h, cases[Verdict::OtherJob].job = jobDigest("job-18");
  cases[Verdict::OtherWorldSize] = h, cases[Verdict::OtherWorldSize].worldSize = 4;
  cases[Verdict::RankOutOfRange] = h, cases[Verdict::RankOutOfRange].rank = 3;
  cases[Verdict::SecretMismatch] = h, cases[Verdict::SecretMismatch].hasSecret = false;
  for (auto &[verdict, hello] : cases) {
    EXPECT_EQ(judge(hello, e, taken), verdict) << describe(verdict, hello, e);
    EXPECT_FALSE(describe(verdict, hello, e).empty());
  }
  Hello zero = h;
  zero.rank = 0; // rank 0 never connects to itself
  EXPECT_EQ(judge(zero, e, taken), Verdict::RankOutOfRange);
  Hello negative = h;
  negative.rank = -5;
  EXPECT_EQ(judge(negative, e, taken), Verdict::RankOutOfRange);
  taken[2] = true;
  EXPECT_EQ(judge(h, e, taken), Verdict::RankTaken);
  // The model only after the proof: a stranger's claim stops nothing.
  Hello otherModel = h;
  otherModel.modelCrc = 1;
  EXPECT_EQ(judge(otherModel, e, std::vector<bool>(3, false)), Verdict::Continue);
  EXPECT_EQ(judgeProof(otherModel, e, false, false), Verdict::WrongSecret);
  EXPECT_EQ(judgeProof(otherModel, e, true, true), Verdict::RankTaken);
  EXPECT_EQ(judgeProof(otherModel, e, true, false), Verdict::OtherModel);
  EXPECT_EQ(judgeProof(h, e, true, false), Verdict::Accepted);
  EXPECT_EQ(describe(Verdict::OtherModel, otherModel, e),
            "rank 2 runs another model (CRC-32 00000001, rank 0's deadbeef): give every rank "
            "the same MODEL.json or OUT.kiln");
}

TEST(Handshake, WhatIsNotAMessageIsRefusedAndShown) {
  Hello h;
  std::string why;
  const char http[] = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<uint8_t> bytes(http, http + sizeof http - 1);
  bytes.resize(kHelloBytes, 'x');
  EXPECT_FALSE(decode(bytes.data(), bytes.size(), h, why));
  EXPECT_EQ(why, "not a kiln rank's hello (73 bytes: \"GET /index.html \" ...)");
  std::vector<uint8_t> valid = encode(someHello());
  EXPECT_FALSE(decode(valid.data(), valid.size() - 1, h, why)); // short
  valid[kHelloBytes - 17] = 7;                                   // the secret flag
  EXPECT_FALSE(decode(valid.data(), valid.size(), h, why));
  EXPECT_EQ(why, "a malformed hello (secret flag 7)");
  const uint8_t binary[] = {0, 1, 0xfe};
  EXPECT_EQ(sample(binary, 3), "00 01 fe");
  EXPECT_EQ(sample(binary, 0), "nothing");
}

TEST(Handshake, MacsDependOnEveryInput) {
  std::vector<uint8_t> hello = encode(someHello());
  Nonce n = freshNonce(), other = freshNonce();
  Digest base = mac("s3cret", "rank", hello, n);
  EXPECT_TRUE(sameDigest(base, mac("s3cret", "rank", hello, n)));
  EXPECT_FALSE(sameDigest(base, mac("s3cret!", "rank", hello, n)));
  EXPECT_FALSE(sameDigest(base, mac("s3cret", "rank 0", hello, n)));
  EXPECT_FALSE(sameDigest(base, mac("s3cret", "rank", hello, other)));
  hello[20] ^= 1;
  EXPECT_FALSE(sameDigest(base, mac("s3cret", "rank", hello, n)));
  EXPECT_NE(n, other); // fresh nonces
}

/// detectWorld over a fixed environment.
bool worldFrom(std::map<std::string, std::string> env, World &w, std::string &error) {
  env.insert({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"},
              {"MASTER_PORT", "29500"}});
  return detectWorld(w, error, [&](const char *name) -> const char * {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(Handshake, JobIdAndSecretFromTheEnvironment) {
  World w;
  std::string error;
  ASSERT_TRUE(worldFrom({{"SLURM_JOB_ID", "99"}, {"TORCHELASTIC_RUN_ID", "t"}}, w, error));
  EXPECT_EQ(w.jobId, "99");
  EXPECT_EQ(w.jobIdFrom, "SLURM_JOB_ID");
  ASSERT_TRUE(worldFrom({{"KILN_JOB_ID", "a"}, {"SLURM_JOB_ID", "99"}}, w, error));
  EXPECT_EQ(w.jobId, "a");
  EXPECT_TRUE(w.secret.empty());
  ASSERT_TRUE(worldFrom({{"KILN_JOB_SECRET", "xyz"}}, w, error));
  EXPECT_EQ(w.secret, "xyz");

  test::TempDir dir;
  std::string file = dir / "secret";
  std::ofstream(file) << "from a file\n";
  ::chmod(file.c_str(), 0644);
  EXPECT_FALSE(worldFrom({{"KILN_JOB_SECRET_FILE", file}}, w, error));
  EXPECT_EQ(error, "KILN_JOB_SECRET_FILE " + file + " may be read by others (mode 0644): chmod 600 " + file);
  ::chmod(file.c_str(), 0600);
  ASSERT_TRUE(worldFrom({{"KILN_JOB_SECRET_FILE", file}}, w, error)) << error;
  EXPECT_EQ(w.secret, "from a file");
  EXPECT_FALSE(worldFrom({{"KILN_JOB_SECRET_FILE", file}, {"KILN_JOB_SECRET", "x"}}, w, error));
  EXPECT_FALSE(worldFrom({{"KILN_JOB_SECRET_FILE", dir / "missing"}}, w, error));
  EXPECT_NE(error.find("cannot read it"), std::string::npos) << error;
}

} // namespace
} // namespace kiln
