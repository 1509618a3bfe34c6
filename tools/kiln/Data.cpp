//===- Data.cpp - kiln data: convert a dataset to shards, its statistics ---===//
//
// kiln data convert SRC DST [--shard-size N] [--seed S | --keep-order]
//   writes SRC's splits as WebDataset shards DST/train-000000.tar … (and
//   DST/eval-….tar): KEY.EXT with the file's own bytes (images held in
//   memory, IDX and CIFAR, as lossless PNG) and KEY.cls. Samples go in a
//   seeded random order by default, since a stream's shuffle buffer only
//   mixes within a window and a class-sorted shard would feed whole
//   batches of one class.
// kiln data stats SRC
//   prints images, classes, image sizes and the per-channel mean and std
//   of the [0, 1] pixels (pixel-weighted, as Normalize wants them).
// kiln data bench MODEL.json --data PATH [--loader-threads N]
//   builds batches of the graph's training views and times them: the
//   loader alone, images/s (bench/data compares it with torchvision).
//
//===----------------------------------------------------------------------===//
#include "CommandLine.h"
#include "Dataset.h"

#include "runtime/artifact/DurableFile.h"
#include "runtime/data/Decode.h"
#include "runtime/data/Loader.h"
#include "runtime/data/Random.h"
#include "runtime/data/TarWriter.h"
#include "runtime/exec/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <thread>

namespace kiln {
namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "kiln data: %s\n", message.c_str());
  return 1;
}

/// Sample `i` as a file: its own bytes and extension, or a PNG.
bool encoded(const data::Source &source, int64_t i, std::vector<uint8_t> &bytes, std::string &ext,
             int32_t &label, std::string &error) {
  data::Sample s;
  if (!source.fetch(i, s, error))
    return false;
  label = s.label;
  if (s.bytes.empty()) {
    ext = "png";
    return data::encodePng(s.image, bytes, error);
  }
  bytes = std::move(s.bytes);
  switch (data::sniffFormat(bytes.data(), bytes.size())) {
  case data::ImageFormat::Jpeg:
    ext = "jpg";
    return true;
  case data::ImageFormat::Png:
    ext = "png";
    return true;
  case data::ImageFormat::Webp:
    ext = "webp";
    return true;
  default:
    error = s.name + ": not a JPEG, PNG or WebP file";
    return false;
  }
}

/// One split as shards DST/PREFIX-000000.tar …; unreadable samples are
/// skipped with a warning.
bool writeShards(const data::Source &source, const std::string &dst, const std::string &prefix,
                 int64_t shardSize, std::optional<uint64_t> seed, std::string &error) {
  std::vector<int64_t> order(source.size());
  std::iota(order.begin(), order.end(), 0);
  if (seed) {
    data::Random r(*seed, 0x434f4e56ull /* "CONV" */, 0);
    for (int64_t i = source.size() - 1; i > 0; --i)
      std::swap(order[i], order[r.next() % (i + 1)]);
  }
  data::TarWriter tar;
  int64_t written = 0, skipped = 0, shards = 0;
  for (int64_t k = 0; k < source.size(); ++k) {
    std::vector<uint8_t> bytes;
    std::string ext, problem;
    int32_t label;
    if (!encoded(source, order[k], bytes, ext, label, problem)) {
      std::fprintf(stderr, "kiln data: warning: %s (skipped)\n", problem.c_str());
      ++skipped;
      continue;
    }
    if (written % shardSize == 0) {
      char name[64];
      std::snprintf(name, sizeof name, "/%s-%06lld.tar", prefix.c_str(), (long long)shards++);
      if ((written > 0 && !tar.close(error)) || !tar.open(dst + name, error))
        return false;
    }
    char key[32];
    std::snprintf(key, sizeof key, "%09lld", (long long)written++);
    std::string cls = std::to_string(label);
    if (!tar.add(std::string(key) + "." + ext, bytes, error) ||
        !tar.add(std::string(key) + ".cls", std::vector<uint8_t>(cls.begin(), cls.end()), error))
      return false;
  }
  if (written > 0 && !tar.close(error))
    return false;
  std::fprintf(stderr, "kiln data: %s: %lld samples in %lld shards %s/%s-{000000..%06lld}.tar%s\n",
               prefix.c_str(), (long long)written, (long long)shards, dst.c_str(), prefix.c_str(),
               (long long)shards - 1,
               skipped ? (", " + std::to_string(skipped) + " skipped").c_str() : "");
  return true;
}

int convert(int argc, char **argv) {
  CommandLine cl("data convert", "Writes a dataset as WebDataset tar shards, in a seeded order.");
  std::string src, dst;
  std::optional<int64_t> shardSizeOption, seedOption;
  bool keepOrder = false;
  cl.positional("SRC", src,
                "a folder of IDX files or CIFAR batches, a folder of class folders of images (or "
                "one with train/ and val/ inside)");
  cl.positional("DST", dst, "the folder the shards go to");
  cl.integer("--shard-size", shardSizeOption, 1, 100000000, "samples per shard (default 10000)");
  cl.integer("--seed", seedOption, 0, INT64_MAX, "the order samples are written in (default 0)");
  cl.flag("--keep-order", keepOrder, "write samples in the source's order instead");
  if (auto status = cl.parse(argc, argv))
    return *status;
  if (keepOrder && seedOption)
    return cl.usageError("--seed and --keep-order exclude each other");
  int64_t shardSize = shardSizeOption.value_or(10000);
  std::optional<uint64_t> seed;
  if (!keepOrder)
    seed = seedOption.value_or(0);
  std::string error;
  data::Dataset d;
  std::vector<std::string> warnings;
  if (!data::openDataset({"", src, "", data::CifarLabels::Fine}, d, warnings, error))
    return fail(error);
  if (!d.train)
    return fail(src + ": already shards");
  if (sameFile(src, dst))
    return cl.usageError("DST " + dst + " is SRC; the shards go to a folder of their own");
  for (const std::string &w : warnings)
    std::fprintf(stderr, "kiln data: warning: %s\n", w.c_str());
  std::error_code ec;
  std::filesystem::create_directories(dst, ec);
  if (ec)
    return fail(dst + ": cannot create: " + ec.message());
  if (!writeShards(*d.train, dst, "train", shardSize, seed, error) ||
      (d.test && !writeShards(*d.test, dst, "eval", shardSize, seed, error)))
    return fail(error);
  return 0;
}

/// Running sums of a split's [0, 1] pixels per channel (gray images
/// replicated), and its image sizes.
struct Tally {
  std::mutex mutex;
  int64_t unreadable = 0;
  bool colour = false;
  double sum[3] = {0, 0, 0}, squares[3] = {0, 0, 0}, pixels = 0;
  std::vector<std::pair<int64_t, int64_t>> sizes; // (height, width)

  void add(const Tally &part) {
    std::lock_guard<std::mutex> lock(mutex);
    unreadable += part.unreadable;
    colour |= part.colour;
    for (int c = 0; c < 3; ++c) {
      sum[c] += part.sum[c];
      squares[c] += part.squares[c];
    }
    pixels += part.pixels;
    sizes.insert(sizes.end(), part.sizes.begin(), part.sizes.end());
  }
};

/// Tallies images [first, last) of `s`, decoded as RGB.
void tally(const data::Source &s, int64_t first, int64_t last, Tally &t) {
  data::Sample sample;
  for (int64_t i = first; i < last; ++i) {
    std::string e;
    if (!s.fetch(i, sample, e) ||
        (!sample.bytes.empty() && !data::decodeImage(sample.bytes.data(), sample.bytes.size(),
                                                     sample.name, 3, 1, sample.image, e))) {
      ++t.unreadable;
      continue;
    }
    const data::Image &im = sample.image;
    t.sizes.push_back({im.height, im.width});
    t.pixels += double(im.height) * im.width;
    for (int64_t p = 0; p < im.height * im.width; ++p) {
      const uint8_t *px = &im.pixels[p * im.channels];
      if (im.channels == 3)
        t.colour |= px[0] != px[1] || px[0] != px[2];
      for (int64_t c = 0; c < 3; ++c) {
        double v = px[std::min<int64_t>(c, im.channels - 1)] / 255.0;
        t.sum[c] += v;
        t.squares[c] += v * v;
      }
    }
  }
}

int stats(int argc, char **argv) {
  CommandLine cl("data stats", "A dataset's image sizes, and its mean and std per channel.");
  std::string src;
  DataOptions options;
  cl.positional("SRC", src, "a folder of IDX files or CIFAR batches, or of class folders of images");
  cl.integer("--loader-threads", options.loaderThreads, 1, 1024,
             "threads decoding images (default: all cores)");
  if (auto status = cl.parse(argc, argv))
    return *status;
  int threads = loaderThreads(options, 0, 1);
  data::Dataset d;
  std::vector<std::string> warnings;
  std::string error;
  if (!data::openDataset({"", src, "", data::CifarLabels::Fine}, d, warnings, error))
    return fail(error);
  if (!d.train)
    return fail(src + ": shards are not read by stats (give the data they were made from)");
  const data::Source &s = *d.train;
  Tally t;
  ThreadPool pool(threads);
  const int64_t chunk = 256;
  pool.run((s.size() + chunk - 1) / chunk, [&](int64_t c) {
    Tally part;
    tally(s, c * chunk, std::min(s.size(), (c + 1) * chunk), part);
    t.add(part);
  });
  std::printf("source: %s (%s)\nimages: %lld (%lld unreadable)\nclasses: %lld\n", s.where.c_str(),
              d.kind.c_str(), (long long)s.size(), (long long)t.unreadable, (long long)s.classes());
  if (t.sizes.empty())
    return fail("no readable image");
  std::sort(t.sizes.begin(), t.sizes.end(),
            [](auto a, auto b) { return a.first * a.second < b.first * b.second; });
  auto size = [](std::pair<int64_t, int64_t> hw) {
    return std::to_string(hw.second) + "x" + std::to_string(hw.first);
  };
  std::printf("sizes (width x height): smallest %s, median %s, largest %s\n",
              size(t.sizes.front()).c_str(), size(t.sizes[t.sizes.size() / 2]).c_str(),
              size(t.sizes.back()).c_str());
  // One channel when every image is gray: what a 1-channel network reads.
  std::string mean, std;
  for (int64_t c = 0; c < (t.colour ? 3 : 1); ++c) {
    double m = t.sum[c] / t.pixels, v = t.squares[c] / t.pixels - m * m;
    char a[32], b[32];
    std::snprintf(a, sizeof a, "%s%.5f", c ? ", " : "", m);
    std::snprintf(b, sizeof b, "%s%.5f", c ? ", " : "", std::sqrt(std::max(0.0, v)));
    mean += a;
    std += b;
  }
  std::printf("\"normalize\": {\"mean\": [%s], \"std\": [%s]}\n", mean.c_str(), std.c_str());
  return 0;
}

/// The graph's training views by input name, each with its input's
/// channels (read from MODEL.json itself: the data and objective sections
/// need no compiling).
bool graphViews(const std::string &path, nlohmann::ordered_json &data,
                std::map<std::string, data::ViewSpec> &views, int64_t &batch, std::string &error) {
  std::ifstream in(path);
  nlohmann::ordered_json g = nlohmann::ordered_json::parse(in, nullptr, false);
  if (!in || g.is_discarded() || !g.contains("data") || !g.contains("objective")) {
    error = path + ": not a graph with data and objective sections";
    return false;
  }
  data = g["data"];
  batch = g["train"].value("batch_size", 128);
  for (auto &[name, input] : g["objective"]["inputs"].items()) {
    std::string source = input.value("source", "");
    if (source.empty() || source == "label" || source == "random")
      continue;
    data::ViewSpec v;
    v.channels = input["shape"].size() == 4 && input["shape"][1] == 3 ? 3 : 1;
    if (!data::parseView(data, source, v, error))
      return false;
    views[name] = v;
  }
  return true;
}

int bench(int argc, char **argv) {
  CommandLine cl("data bench", "The loader alone on a graph's views: images/s.");
  std::string model;
  std::optional<int64_t> batchesOption, batchSize;
  DataOptions options;
  cl.positional("MODEL.json", model, "the graph whose views and batch are loaded");
  options.declare(cl);
  cl.integer("--batches", batchesOption, 1, 1000000, "batches timed (default 20)");
  cl.integer("--batch-size", batchSize, 1, 1 << 20, "images a batch (default: the graph's)");
  if (auto status = cl.parse(argc, argv))
    return *status;
  int threads = loaderThreads(options, 0, 1);
  int64_t batches = batchesOption.value_or(20);
  nlohmann::ordered_json graphData;
  std::map<std::string, data::ViewSpec> views;
  int64_t batch = 0;
  std::string error;
  if (!graphViews(model, graphData, views, batch, error))
    return fail(error);
  batch = batchSize.value_or(batch);
  data::Dataset d;
  if (!loadDataset(graphData, options, d, error))
    return fail(error);
  data::LoaderOptions o;
  o.threads = threads;
  auto loader = data::makeTrainLoader(d, views, batch, o, error);
  if (!loader)
    return fail(error);
  // The first batch warms caches and the decoder handles; the rest count.
  int64_t perEpoch = loader->stepsPerEpoch();
  loader->get(0, 0);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 1; i <= batches; ++i) {
    data::Batch b = loader->get(i / perEpoch, i % perEpoch);
    if (!b.error.empty())
      return fail(b.error);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double perSecond = batches * batch / seconds;
  std::printf("{\"images_per_s\": %.1f, \"images_per_s_per_thread\": %.1f, \"loader_threads\": %d, "
              "\"batch\": %lld, \"batches\": %lld, \"skipped_images\": %lld}\n",
              perSecond, perSecond / threads, threads, (long long)batch, (long long)batches,
              (long long)loader->skipped());
  return 0;
}

} // namespace

int dataMain(int argc, char **argv) {
  const char *usage = "usage: kiln data convert|stats|bench ... ('kiln data COMMAND --help')\n"
                      "  convert SRC DST  a dataset as WebDataset tar shards\n"
                      "  stats SRC        its image sizes, mean and std\n"
                      "  bench MODEL.json the loader alone, images/s\n";
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "convert")
    return convert(argc - 1, argv + 1);
  if (command == "stats")
    return stats(argc - 1, argv + 1);
  if (command == "bench")
    return bench(argc - 1, argv + 1);
  bool help = command == "--help" || command == "-h";
  if (!help)
    std::fprintf(stderr, "kiln data: %s\n",
                 command.empty() ? "give a command"
                                 : ("unknown command '" + command + "'").c_str());
  std::fputs(usage, help ? stdout : stderr);
  return help ? 0 : 2;
}

} // namespace kiln
