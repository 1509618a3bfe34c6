//===- decode-tool.cpp - decodeImage on one file, for check-decode.py -----===//
//
//   decode-tool FILE CHANNELS SCALE [OUT.raw] [--no-probe] [--repeat N]
//
// Probes FILE (unless --no-probe) and prints "probe FORMAT WIDTH HEIGHT
// CHANNELS", then decodes it to CHANNELS (1 or 3) at 1/SCALE and prints
// "decoded HEIGHT WIDTH CHANNELS", writing the HWC bytes to OUT.raw. A
// warning the decoder accepted is printed as "warning MESSAGE". --repeat N
// decodes N more times and prints "time MS ms per decode". An error is
// printed to stderr (it names FILE) and the exit status is 1; 2 is a usage
// or I/O error.
//
//===----------------------------------------------------------------------===//
#include "runtime/data/Decode.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

using namespace kiln::data;

namespace {

int usage() {
  std::fprintf(stderr, "usage: decode-tool FILE CHANNELS SCALE [OUT.raw] "
                       "[--no-probe] [--repeat N]\n");
  return 2;
}

int fail(const std::string &error) {
  std::fprintf(stderr, "%s\n", error.c_str());
  return 1;
}

double msPerDecode(const std::vector<uint8_t> &file, const std::string &name,
                   int64_t channels, int64_t scale, int repeat) {
  Image image;
  std::string error;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeat; ++i)
    decodeImage(file.data(), file.size(), name, channels, scale, image, error);
  std::chrono::duration<double, std::milli> spent =
      std::chrono::steady_clock::now() - start;
  return spent.count() / repeat;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> positional;
  bool probe = true;
  int repeat = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--no-probe"))
      probe = false;
    else if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc)
      repeat = std::atoi(argv[++i]);
    else
      positional.push_back(argv[i]);
  }
  if (positional.size() < 3 || positional.size() > 4)
    return usage();
  const std::string &name = positional[0];
  const int64_t channels = std::atoll(positional[1].c_str());
  const int64_t scale = std::atoll(positional[2].c_str());

  std::ifstream in(name, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open\n", name.c_str());
    return 2;
  }
  const std::vector<uint8_t> file(std::istreambuf_iterator<char>(in), {});
  std::string error, warning;
  if (probe) {
    ImageInfo info;
    if (!probeImage(file.data(), file.size(), name, info, error))
      return fail(error);
    std::printf("probe %s %lld %lld %lld\n", formatName(info.format),
                (long long)info.width, (long long)info.height,
                (long long)info.channels);
  }
  Image image;
  if (!decodeImage(file.data(), file.size(), name, channels, scale, image,
                   error, &warning))
    return fail(error);
  std::printf("decoded %lld %lld %lld\n", (long long)image.height,
              (long long)image.width, (long long)image.channels);
  if (!warning.empty())
    std::printf("warning %s\n", warning.c_str());
  if (positional.size() == 4) {
    std::ofstream out(positional[3], std::ios::binary);
    out.write(reinterpret_cast<const char *>(image.pixels.data()),
              std::streamsize(image.pixels.size()));
    if (!out) {
      std::fprintf(stderr, "%s: cannot write\n", positional[3].c_str());
      return 2;
    }
  }
  if (repeat > 0)
    std::printf("time %.3f ms per decode\n",
                msPerDecode(file, name, channels, scale, repeat));
  return 0;
}
