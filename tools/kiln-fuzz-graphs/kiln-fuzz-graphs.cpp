//===- kiln-fuzz-graphs.cpp - differential testing of the compiler --------===//
//
//   kiln-fuzz-graphs [--seed S] [--count N | --seconds T] [--ops K] [--ptx]
//                    [--out DIR] [--regressions DIR] [--no-shrink] [--timeout S]
//   kiln-fuzz-graphs --check GRAPH.json [--batch-size B] [--plain-sgd] [--ptx] [--shrink]
//                    [--precision bf16|fp16]
//   kiln-fuzz-graphs --print SEED [--ops K]
//
// Generates graphs (GraphGenerator.h) from consecutive seeds and checks
// each (DifferentialCheck.h) in a child process, so that a crash or a hang
// is a finding too. A failing graph is shrunk (smaller sizes from the same
// seed, then GraphShrinker.h) and written to the regressions directory,
// where DifferentialTest checks it in every test run. Progress goes to
// stderr; one JSON line per graph to DIR/graphs.jsonl; exit status 1 when
// anything failed.
//
//===----------------------------------------------------------------------===//
#include "DifferentialCheck.h"
#include "GraphGenerator.h"
#include "GraphShrinker.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace kiln::fuzz;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

/// A check that dies by a signal or runs past this is a finding.
int checkSeconds = 60;

/// checkGraph in a child process; its result comes back as JSON.
CheckResult checkIsolated(const std::string &path, const CheckOptions &options) {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("kiln-fuzz-graphs: pipe");
    std::exit(2);
  }
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    CheckResult r = checkGraph(path, options);
    json j = {{"status", (int)r.status}, {"message", r.message}, {"ops", r.ops},
              {"longest", r.longestReduction},
              {"worst", std::isfinite(r.worst) ? r.worst : 1e300}}; // JSON has no infinity
    std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    for (size_t at = 0; at < text.size();) {
      ssize_t n = write(fds[1], text.data() + at, text.size() - at);
      if (n <= 0)
        _exit(3);
      at += n;
    }
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(checkSeconds);
  bool timedOut = false;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    int left = (int)std::chrono::duration_cast<std::chrono::milliseconds>(
                   deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || poll(&p, 1, left) == 0) {
      timedOut = true;
      kill(child, SIGKILL);
      break;
    }
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0)
      break;
    text.append(buf, n);
  }
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  CheckResult r;
  if (timedOut || WIFSIGNALED(status) || text.empty()) {
    r.status = CheckResult::Crash;
    r.message = timedOut ? "the check ran past " + std::to_string(checkSeconds) + " s"
                         : WIFSIGNALED(status) ? std::string("the check died: ") + strsignal(WTERMSIG(status))
                                               : "the check ended without a result";
    return r;
  }
  json j = json::parse(text);
  r.status = (CheckResult::Status)j["status"].get<int>();
  r.message = j["message"];
  r.ops = j["ops"].get<std::map<std::string, int>>();
  r.longestReduction = j["longest"];
  r.worst = j["worst"];
  return r;
}

/// Whether `b` is the same failure as `a` (the shrinker keeps to it): the
/// same status and, for a mismatch, the same quantity of the same run
/// ("fused, 2 threads: metric m0"); else the same first words.
bool sameFailure(const CheckResult &a, const CheckResult &b) {
  if (a.status != b.status)
    return false;
  auto key = [&](const std::string &m) {
    return m.substr(0, m.find(a.status == CheckResult::Mismatch ? " element" : ":"));
  };
  return key(a.message) == key(b.message);
}

void usage() {
  std::cerr << "usage: kiln-fuzz-graphs [--seed S] [--count N | --seconds T] [--ops K] [--ptx]\n"
               "                        [--out DIR] [--regressions DIR] [--no-shrink] [--timeout S]\n"
               "                        [--precision bf16|fp16]\n"
               "       kiln-fuzz-graphs --check GRAPH.json [--batch-size B] [--plain-sgd] [--ptx]\n"
               "                        [--precision bf16|fp16]\n"
               "                        [--shrink]\n"
               "       kiln-fuzz-graphs --print SEED [--ops K]\n";
  std::exit(2);
}

std::string writeGraph(const json &g, const std::string &path) {
  std::ofstream(path) << formatGraph(g);
  return path;
}

/// `g` with a "doc" after its name.
json withDoc(const json &g, const std::string &doc) {
  json out;
  for (auto &[k, v] : g.items()) {
    if (k == "doc")
      continue;
    out[k] = v;
    if (k == "name")
      out["doc"] = doc;
  }
  return out;
}

/// The failing graph `g` made minimal (GraphShrinker.h), with a "doc"
/// that says where it came from and how it fails now; `scratch` is the
/// file the candidates are checked from.
json shrinkFailure(json g, const CheckResult &r, const std::string &origin,
                   const std::string &scratch, const CheckOptions &options) {
  g = shrinkGraph(g, [&](const json &c) {
    return sameFailure(r, checkIsolated(writeGraph(c, scratch), options));
  });
  CheckResult minimal = checkIsolated(writeGraph(g, scratch), options);
  fs::remove(scratch);
  return withDoc(g, "Found by kiln-fuzz-graphs (" + origin + ") and shrunk: " +
                        minimal.message.substr(0, minimal.message.find('\n')));
}

} // namespace

int main(int argc, char **argv) {
  uint64_t seed = 1;
  int64_t count = -1;
  double seconds = -1;
  bool shrink = true, shrinkCheck = false;
  std::string out = "fuzz-graphs", regressions, check, print;
  GeneratorOptions gen;
  CheckOptions options;
  options.ptxas = KILN_PTXAS;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage();
      return argv[++i];
    };
    try {
      if (a == "--seed") seed = std::stoull(value());
      else if (a == "--count") count = std::stoll(value());
      else if (a == "--seconds") seconds = std::stod(value());
      else if (a == "--ops") gen.ops = std::stoi(value());
      else if (a == "--ptx") options.ptx = true;
      else if (a == "--out") out = value();
      else if (a == "--regressions") regressions = value();
      else if (a == "--no-shrink") shrink = false;
      else if (a == "--timeout") checkSeconds = std::stoi(value());
      else if (a == "--check") check = value();
      else if (a == "--shrink") shrinkCheck = true;
      else if (a == "--print") print = value();
      else if (a == "--batch-size") options.batchSize = std::stoll(value());
      else if (a == "--plain-sgd") options.plainSgd = true;
      else if (a == "--precision") options.precision = value();
      else usage();
    } catch (const std::exception &) {
      std::cerr << "kiln-fuzz-graphs: " << a << " needs a number\n";
      return 2;
    }
  }
  if (!print.empty()) {
    std::cout << formatGraph(generateGraph(std::stoull(print), gen));
    return 0;
  }
  if (!check.empty()) {
    CheckResult r = checkIsolated(check, options);
    std::cout << check << ": " << statusName(r.status) << " (worst error " << r.worst
              << " of tolerance, longest reduction " << r.longestReduction << ")\n";
    if (!r.message.empty())
      std::cout << r.message << "\n";
    if (shrinkCheck && r.status != CheckResult::Pass && r.status != CheckResult::Rejected) {
      std::ifstream in(check);
      std::string dest = fs::path(check).replace_extension().string() + ".min.json";
      writeGraph(shrinkFailure(json::parse(in), r, check, dest + ".tmp", options), dest);
      std::cout << "minimal graph: " << dest << "\n";
    }
    return r.status == CheckResult::Pass ? 0 : 1;
  }
  if (count < 0 && seconds < 0)
    count = 20;
  fs::create_directories(out);
  std::ofstream log(out + "/graphs.jsonl");
  std::map<std::string, int64_t> opsCovered;
  int64_t graphs = 0, failures = 0;
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (uint64_t s = seed;; ++s) {
    if (count >= 0 && graphs >= count)
      break;
    if (seconds >= 0 && elapsed() >= seconds)
      break;
    json g = generateGraph(s, gen);
    std::string path = writeGraph(g, out + "/current.json");
    CheckResult r = checkIsolated(path, options);
    ++graphs;
    for (auto &[op, n] : r.ops)
      opsCovered[op] += n;
    log << json{{"seed", s}, {"status", statusName(r.status)}, {"worst", r.worst},
                {"longest_reduction", r.longestReduction}, {"ops", r.ops}}.dump()
        << std::endl;
    if (r.status != CheckResult::Pass) {
      ++failures;
      std::cerr << "\nseed " << s << ": " << statusName(r.status) << ": " << r.message << "\n";
      std::string name = "seed-" + std::to_string(s);
      writeGraph(g, out + "/" + name + ".json");
      if (shrink && r.status != CheckResult::Rejected) {
        // Smaller sizes from the same seed, then fewer nodes.
        for (int64_t cap : {1, 2, 3, 5, 8, 17}) {
          GeneratorOptions small = gen;
          small.dimCap = cap;
          json c = generateGraph(s, small);
          if (sameFailure(r, checkIsolated(writeGraph(c, out + "/shrinking.json"), options))) {
            g = c;
            break;
          }
        }
        g = shrinkFailure(g, r, "seed " + std::to_string(s), out + "/shrinking.json", options);
        std::string dest = (regressions.empty() ? out : regressions) + "/fuzz-" + name + ".json";
        writeGraph(g, dest);
        std::cerr << "  minimal graph (" << g["objective"]["nodes"].size() << " nodes): " << dest << "\n";
      }
    }
    double t = elapsed();
    // A terminal gets one line rewritten; a log a line every 10 graphs.
    bool tty = isatty(2);
    if (!tty && graphs % 10)
      continue;
    std::fprintf(stderr, tty ? "\r%lld graphs" : "%lld graphs, %zu ops kinds, %lld failures, %.1f graphs/min",
                 (long long)graphs, opsCovered.size(), (long long)failures, 60.0 * graphs / t);
    if (seconds > 0)
      std::fprintf(stderr, ", %.0f s left   %s", std::max(0.0, seconds - t), tty ? "" : "\n");
    else
      std::fprintf(stderr, ", ETA %.0f s   %s", t / graphs * (count - graphs), tty ? "" : "\n");
  }
  fs::remove(out + "/current.json");
  int64_t total = 0;
  for (auto &[op, n] : opsCovered)
    total += n;
  std::cout << "\n" << graphs << " graphs, " << total << " ops (" << opsCovered.size()
            << " kinds) checked, " << failures << " failures\n";
  for (auto &[op, n] : opsCovered)
    std::cout << "  " << op << " " << n << "\n";
  return failures ? 1 : 0;
}
