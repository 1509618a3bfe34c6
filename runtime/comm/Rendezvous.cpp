//===- Rendezvous.cpp - rank 0's door and the other ranks' knock ----------===//
#include "runtime/comm/Rendezvous.h"

#include "runtime/artifact/Crc32.h"
#include "runtime/comm/Handshake.h"
#include "runtime/comm/Sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>

namespace kiln {
namespace {

namespace hs = handshake;
using Clock = SocketClock;

/// Handshakes rank 0 carries at once; more connections are closed at once
/// (a flood must not exhaust the process's descriptors).
constexpr size_t kMaxKnocks = 512;
/// Strangers logged one by one; after that only counted.
constexpr int kLoggedStrangers = 20;

void setBlocking(int fd, bool blocking) {
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

void tuneSocket(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::string endpoint(const World &w) {
  return w.masterAddr + ":" + std::to_string(w.masterPort);
}

/// "10.0.0.7:51234", "[fe80::1]:51234".
std::string addressOf(const sockaddr *a, socklen_t length) {
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (getnameinfo(a, length, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "an unknown address";
  std::string h = host;
  if (h.rfind("::ffff:", 0) == 0) // an IPv4 client of a dual-stack socket
    h = h.substr(7);
  return (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
}

bool isLoopback(const sockaddr *a) {
  if (a->sa_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in *>(a)->sin_addr.s_addr) >> 24) == 127;
  return a->sa_family == AF_INET6 &&
         IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6 *>(a)->sin6_addr);
}

hs::Expectation expectationOf(const World &w) {
  return {w.size, hs::jobDigest(jobIdOf(w)), w.modelCrc, !w.secret.empty()};
}

/// Sends all of `bytes` without blocking (a handshake message is small: it
/// fits any socket buffer, unless the peer never reads).
bool sendNow(int fd, const std::vector<uint8_t> &bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
         static_cast<ssize_t>(bytes.size());
}

/// Rank 0's sockets: one per local address MASTER_ADDR resolves to, or one
/// on every interface (--listen-any).
bool openListeners(const World &w, std::vector<int> &listeners, std::string &error) {
  std::string port = std::to_string(w.masterPort), tried, failure;
  bool onlyLoopback = true, elsewhere = true;
  // Binds every address of `family` that getaddrinfo gives; false if it
  // cannot resolve.
  auto listenOn = [&](int family) {
    addrinfo hints{}, *found = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (w.listenAny ? AI_PASSIVE : 0);
    hints.ai_family = family;
    if (int rc = getaddrinfo(w.listenAny ? nullptr : w.masterAddr.c_str(), port.c_str(), &hints,
                             &found)) {
      error = "cannot resolve MASTER_ADDR '" + w.masterAddr + "': " + gai_strerror(rc);
      return false;
    }
    for (addrinfo *a = found; a; a = a->ai_next) {
      std::string address = addressOf(a->ai_addr, a->ai_addrlen);
      tried += (tried.empty() ? "" : ", ") + address;
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      int one = 1, zero = 0;
      bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
                // IPv4 clients too, as v4-mapped addresses
                (!w.listenAny || a->ai_family != AF_INET6 ||
                 setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) == 0) &&
                bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0;
      if (!ok) {
        int why = errno;
        elsewhere &= why == EADDRNOTAVAIL;
        failure = address + ": " + std::strerror(why);
        if (fd >= 0)
          close(fd);
        continue;
      }
      setBlocking(fd, false);
      onlyLoopback &= isLoopback(a->ai_addr);
      listeners.push_back(fd);
    }
    freeaddrinfo(found);
    return true;
  };
  // --listen-any: one dual-stack IPv6 socket, or IPv4 where the machine
  // has no IPv6 (ipv6.disable=1).
  if (w.listenAny) {
    listenOn(AF_INET6);
    if (listeners.empty() && !listenOn(AF_INET))
      return false;
  } else if (!listenOn(AF_UNSPEC)) {
    return false;
  }
  if (listeners.empty()) {
    error = elsewhere ? "cannot listen at MASTER_ADDR " + w.masterAddr + " (" + tried +
                            "): not an address of this machine; start rank 0 on that host, or "
                            "give --listen-any to listen on every interface"
                      : "cannot listen on " + failure + " (choose a free MASTER_PORT)";
    return false;
  }
  // Debian's /etc/hosts maps the host's own name to 127.0.1.1: a name
  // that only reaches this machine.
  in6_addr literal;
  if (onlyLoopback && !w.listenAny && w.masterAddr != "localhost" &&
      inet_pton(AF_INET, w.masterAddr.c_str(), &literal) != 1 &&
      inet_pton(AF_INET6, w.masterAddr.c_str(), &literal) != 1)
    std::fprintf(stderr,
                 "kiln: rank 0: warning: MASTER_ADDR %s resolves to %s here, a loopback "
                 "address: ranks on other machines cannot reach it (give rank 0's network "
                 "address, or --listen-any)\n",
                 w.masterAddr.c_str(), tried.c_str());
  return true;
}

/// A connection to rank 0 in its handshake.
struct Knock {
  int fd = -1;
  std::string from;
  Clock::time_point deadline;
  bool proving = false; // the Hello was answered; the Proof is awaited
  std::vector<uint8_t> in, hello;
  hs::Hello parsed;
  hs::Nonce nonce{};
};

/// Rank 0: admits the other ranks through the handshake, turning away the
/// rest.
class Doorkeeper {
public:
  Doorkeeper(const World &w, std::vector<int> &peers)
      : w(w), expected(expectationOf(w)), peers(peers), taken(w.size, false) {}

  bool admit(const std::vector<int> &listeners, double timeout, std::string &error) {
    auto deadline = deadlineAfter(timeout);
    std::vector<Knock> knocks;
    // Every connection closed, the joined ranks' too: they then end.
    auto giveUp = [&](std::string why) {
      error = std::move(why);
      for (Knock &k : knocks)
        if (k.fd >= 0)
          close(k.fd);
      for (int &fd : peers)
        if (fd >= 0)
          close(std::exchange(fd, -1));
      return false;
    };
    while (joined < w.size - 1) {
      if (!misconfigured.empty())
        return giveUp("the ranks run different models: " + misconfigured);
      if (Clock::now() >= deadline)
        return giveUp("only " + std::to_string(joined) + " of " + std::to_string(w.size - 1) +
                      " other ranks joined on port " + std::to_string(w.masterPort) + " within " +
                      std::to_string(int(timeout)) +
                      " s (are they running with the same MASTER_ADDR, MASTER_PORT, WORLD_SIZE, "
                      "job id and secret?" +
                      (strangers ? " " + std::to_string(strangers) +
                                       " connection(s) turned away, see above"
                                 : std::string()) +
                      ")");
      std::vector<pollfd> fds;
      auto wake = deadline;
      for (int fd : listeners)
        fds.push_back({fd, POLLIN, 0});
      for (const Knock &k : knocks) {
        fds.push_back({k.fd, POLLIN, 0});
        wake = std::min(wake, k.deadline);
      }
      if (poll(fds.data(), fds.size(), millisecondsUntil(wake)) < 0 && errno != EINTR)
        return giveUp(std::string("poll: ") + std::strerror(errno));
      for (size_t i = 0; i < listeners.size(); ++i)
        if (fds[i].revents)
          acceptAll(listeners[i], deadline, knocks);
      for (size_t i = listeners.size(); i < fds.size(); ++i)
        if (fds[i].revents)
          advance(knocks[i - listeners.size()]);
      for (Knock &k : knocks)
        if (k.fd >= 0 && Clock::now() >= k.deadline)
          turnAway(k, "it sent " + std::to_string(k.in.size()) + " of " +
                          std::to_string(k.proving ? hs::kProofBytes : hs::kHelloBytes) +
                          " bytes within " + std::to_string(int(kHandshakeSeconds)) +
                          " s (a silent or slow client)");
      knocks.erase(std::remove_if(knocks.begin(), knocks.end(),
                                  [](const Knock &k) { return k.fd < 0; }),
                   knocks.end());
    }
    for (Knock &k : knocks)
      turnAway(k, "the job formed before it finished its handshake");
    return true;
  }

private:
  void acceptAll(int listener, Clock::time_point deadline, std::vector<Knock> &knocks) {
    for (;;) {
      sockaddr_storage from{};
      socklen_t length = sizeof from;
      int fd = accept4(listener, reinterpret_cast<sockaddr *>(&from), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // EAGAIN: none left. Out of descriptors (EMFILE): the listener
        // stays readable, so pause rather than spin until some close.
        if (errno == EMFILE || errno == ENFILE)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return;
      }
      Knock k;
      k.fd = fd;
      k.from = addressOf(reinterpret_cast<sockaddr *>(&from), length);
      k.deadline = std::min(deadlineAfter(kHandshakeSeconds), deadline);
      if (knocks.size() >= kMaxKnocks) {
        turnAway(k, "too many handshakes at once (" + std::to_string(kMaxKnocks) + ")");
        continue;
      }
      knocks.push_back(std::move(k));
    }
  }

  /// Reads what `k` sent and answers each message once it is whole.
  void advance(Knock &k) {
    size_t need = k.proving ? hs::kProofBytes : hs::kHelloBytes;
    uint8_t buffer[hs::kHelloBytes];
    ssize_t n = recv(k.fd, buffer, need - k.in.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (n <= 0) {
      turnAway(k, "it closed the connection after " + std::to_string(k.in.size()) + " of " +
                      std::to_string(need) + " bytes" +
                      (k.in.empty() ? "" : " (" + hs::sample(k.in.data(), k.in.size()) + ")"));
      return;
    }
    k.in.insert(k.in.end(), buffer, buffer + n);
    if (k.in.size() < need)
      return;
    if (!k.proving)
      answerHello(k);
    else
      answerProof(k);
  }

  void answerHello(Knock &k) {
    std::string why;
    if (!hs::decode(k.in.data(), k.in.size(), k.parsed, why))
      return turnAway(k, why); // not kiln: no answer
    k.hello = std::move(k.in);
    k.in.clear();
    hs::Reply reply;
    reply.verdict = hs::judge(k.parsed, expected, taken);
    reply.worldSize = w.size;
    reply.modelCrc = w.modelCrc;
    reply.hasSecret = expected.hasSecret;
    if (reply.verdict == hs::Verdict::Continue) {
      k.nonce = reply.nonce = hs::freshNonce();
      reply.mac = hs::mac(w.secret, "rank 0", k.hello, k.parsed.nonce);
    }
    bool sent = sendNow(k.fd, hs::encode(reply));
    if (reply.verdict != hs::Verdict::Continue)
      return turnAway(k, hs::describe(reply.verdict, k.parsed, expected));
    if (!sent)
      return turnAway(k, "it does not take rank 0's answer");
    k.proving = true;
  }

  void answerProof(Knock &k) {
    hs::Digest proof;
    std::copy(k.in.begin(), k.in.end(), proof.begin());
    hs::Verdict verdict = hs::judgeProof(
        k.parsed, expected, hs::sameDigest(proof, hs::mac(w.secret, "rank", k.hello, k.nonce)),
        taken[k.parsed.rank]);
    bool sent = sendNow(k.fd, hs::encode(verdict));
    if (verdict == hs::Verdict::OtherModel)
      misconfigured = hs::describe(verdict, k.parsed, expected);
    if (verdict != hs::Verdict::Accepted)
      return turnAway(k, hs::describe(verdict, k.parsed, expected));
    if (!sent)
      return turnAway(k, "it does not take rank 0's answer");
    setBlocking(k.fd, true);
    tuneSocket(k.fd);
    peers[k.parsed.rank] = k.fd;
    taken[k.parsed.rank] = true;
    k.fd = -1;
    ++joined;
  }

  void turnAway(Knock &k, const std::string &why) {
    if (strangers < kLoggedStrangers)
      std::fprintf(stderr, "kiln: rank 0: turned away a connection from %s: %s\n",
                   k.from.c_str(), why.c_str());
    else if (strangers == kLoggedStrangers)
      std::fprintf(stderr, "kiln: rank 0: more connections turned away; no longer logged\n");
    ++strangers;
    close(k.fd);
    k.fd = -1;
  }

  const World &w;
  hs::Expectation expected;
  std::vector<int> &peers;
  std::vector<bool> taken;
  int joined = 0, strangers = 0;
  std::string misconfigured; // a proven rank runs another model: the job stops
};

/// Moves exactly `size` bytes before `deadline` (false otherwise).
bool transferred(int fd, void *data, size_t size, bool send, Clock::time_point deadline) {
  return transferAll(fd, data, size, send, deadline).outcome == Transfer::Done;
}

enum class Knocked { Joined, Refused, Retry };

/// Rank r's side of the handshake on a connected socket.
Knocked knock(const World &w, int fd, Clock::time_point deadline, std::string &why) {
  hs::Hello hello;
  hello.rank = w.rank;
  hello.worldSize = w.size;
  hello.job = hs::jobDigest(jobIdOf(w));
  hello.modelCrc = w.modelCrc;
  hello.hasSecret = !w.secret.empty();
  hello.nonce = hs::freshNonce();
  std::vector<uint8_t> bytes = hs::encode(hello);
  std::vector<uint8_t> answer(hs::kReplyBytes);
  if (!transferred(fd, bytes.data(), bytes.size(), true, deadline) ||
      !transferred(fd, answer.data(), answer.size(), false, deadline)) {
    why = "the connection closed or stayed silent before rank 0 answered the handshake "
          "(is another program on MASTER_PORT?)";
    return Knocked::Retry;
  }
  hs::Reply reply;
  if (!hs::decode(answer.data(), answer.size(), reply, why)) {
    why = "the program at " + endpoint(w) + " is not a kiln rank 0: " + why;
    return Knocked::Refused;
  }
  hs::Expectation theirs{reply.worldSize, hello.job, reply.modelCrc, reply.hasSecret};
  if (reply.version != hs::kVersion || reply.verdict != hs::Verdict::Continue) {
    why = "rank 0 turned this rank away: " +
          (reply.version != hs::kVersion
               ? "it speaks rendezvous protocol version " + std::to_string(reply.version) +
                     ", this rank version " + std::to_string(hs::kVersion)
               : hs::describe(reply.verdict, hello, theirs));
    return Knocked::Refused;
  }
  if (!hs::sameDigest(reply.mac, hs::mac(w.secret, "rank 0", bytes, hello.nonce))) {
    why = "rank 0 at " + endpoint(w) + " did not prove the job secret: KILN_JOB_SECRET differs "
          "between the ranks, or that is not this job's rank 0";
    return Knocked::Refused;
  }
  hs::Digest proof = hs::mac(w.secret, "rank", bytes, reply.nonce);
  uint8_t final[hs::kFinalBytes];
  hs::Verdict verdict;
  if (!transferred(fd, proof.data(), proof.size(), true, deadline) ||
      !transferred(fd, final, sizeof final, false, deadline) ||
      !hs::decode(final, sizeof final, verdict, why)) {
    why = "rank 0 ended the handshake without a verdict";
    return Knocked::Refused;
  }
  if (verdict != hs::Verdict::Accepted) {
    why = "rank 0 turned this rank away: " + hs::describe(verdict, hello, theirs);
    return Knocked::Refused;
  }
  return Knocked::Joined;
}

/// Connects to `a` before `deadline` (a host that drops packets must not
/// outlast it).
int connectBefore(const addrinfo *a, Clock::time_point deadline) {
  int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
  if (fd < 0)
    return -1;
  int error = 0;
  socklen_t length = sizeof error;
  if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
      (errno == EINPROGRESS && waitReady(fd, POLLOUT, deadline) &&
       getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0))
    return fd;
  int saved = error ? error : errno;
  close(fd);
  errno = saved ? saved : ETIMEDOUT;
  return -1;
}

/// The other ranks: resolve MASTER_ADDR, connect and knock, retrying while
/// rank 0 is not listening yet.
bool join(const World &w, double timeout, std::vector<int> &peers, std::string &error) {
  addrinfo hints{}, *found = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  std::string port = std::to_string(w.masterPort);
  if (int rc = getaddrinfo(w.masterAddr.c_str(), port.c_str(), &hints, &found)) {
    error = "cannot resolve MASTER_ADDR '" + w.masterAddr + "': " + gai_strerror(rc) +
            " (check the host name, /etc/hosts and DNS on this machine)";
    return false;
  }
  auto deadline = deadlineAfter(timeout);
  std::string last;
  for (;;) {
    for (addrinfo *a = found; a; a = a->ai_next) {
      int fd = connectBefore(a, deadline);
      if (fd < 0) {
        last = std::strerror(errno);
        continue;
      }
      Knocked result = knock(w, fd, deadline, last);
      if (result == Knocked::Joined) {
        freeaddrinfo(found);
        setBlocking(fd, true);
        tuneSocket(fd);
        peers[0] = fd;
        return true;
      }
      close(fd);
      if (result == Knocked::Refused) {
        freeaddrinfo(found);
        error = last;
        return false;
      }
    }
    if (Clock::now() > deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  freeaddrinfo(found);
  error = "cannot join rank 0 at " + endpoint(w) + " within " + std::to_string(int(timeout)) +
          " s: " + last + " (is rank 0 running? is MASTER_PORT right and open in the firewall?)";
  return false;
}

} // namespace

std::string jobIdOf(const World &w) { return w.jobId.empty() ? endpoint(w) : w.jobId; }

uint32_t modelCrcOf(const std::string &model, const std::string &compileOptions) {
  bool artifact = model.size() > 5 && model.compare(model.size() - 5, 5, ".kiln") == 0;
  uint32_t crc = 0;
  int64_t bytes = 0;
  fileCrc32(artifact ? model + "/manifest.json" : model, crc, bytes);
  return artifact ? crc : crc32(compileOptions.data(), compileOptions.size(), crc);
}

bool rendezvous(const World &w, double timeoutSeconds, std::vector<int> &peers,
                std::string &error) {
  if (w.rank != 0)
    return join(w, timeoutSeconds, peers, error);
  std::vector<int> listeners;
  if (!openListeners(w, listeners, error))
    return false;
  if (w.secret.empty())
    std::fprintf(stderr,
                 "kiln: rank 0: warning: no KILN_JOB_SECRET: any host that reaches port %d and "
                 "knows the job id can join this job or end it (set KILN_JOB_SECRET or "
                 "KILN_JOB_SECRET_FILE on every rank; docs/distributed.md)\n",
                 w.masterPort);
  bool ok = Doorkeeper(w, peers).admit(listeners, timeoutSeconds, error);
  for (int fd : listeners)
    close(fd);
  return ok;
}

} // namespace kiln
