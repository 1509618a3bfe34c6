//===- Cifar.cpp - CIFAR-10 and CIFAR-100 binary batches ------------------===//
#include "runtime/data/Cifar.h"

#include <filesystem>

namespace kiln::data {
namespace {

constexpr int64_t kPixels = 32 * 32 * 3;

/// Label bytes per record: 1 (CIFAR-10) or 2 (CIFAR-100), 0 when the file
/// is neither (its size is not a whole number of records, or a label is
/// out of range).
int64_t labelBytes(const std::vector<uint8_t> &file) {
  for (int64_t n : {1, 2}) {
    int64_t record = n + kPixels;
    if (file.empty() || file.size() % record)
      continue;
    bool ok = true;
    for (size_t at = 0; ok && at < file.size(); at += record)
      ok = n == 1 ? file[at] < 10 : file[at] < 20 && file[at + 1] < 100;
    if (ok)
      return n;
  }
  return 0;
}

} // namespace

bool readCifarFile(const std::string &path, CifarLabels labels, ArraySource &out,
                   std::string &error) {
  std::vector<uint8_t> file;
  if (!readFile(path, file, error))
    return false;
  int64_t n = labelBytes(file);
  if (n == 0) {
    error = path + ": not a CIFAR batch: " + std::to_string(file.size()) +
            " bytes is no whole number of 3073-byte (CIFAR-10) or 3074-byte (CIFAR-100) "
            "records with labels in range";
    return false;
  }
  int64_t record = n + kPixels, count = file.size() / record;
  out.height = out.width = 32;
  out.channels = 3;
  out.classCount = std::max<int64_t>(out.classCount, n == 1 ? 10 : labels == CifarLabels::Fine ? 100 : 20);
  size_t first = out.images.size();
  out.images.resize(first + count * kPixels);
  for (int64_t r = 0; r < count; ++r) {
    const uint8_t *rec = &file[r * record];
    out.labels.push_back(n == 2 && labels == CifarLabels::Fine ? rec[1] : rec[0]);
    // Planes (R, G, B) to interleaved pixels.
    uint8_t *px = &out.images[first + r * kPixels];
    for (int64_t p = 0; p < 1024; ++p)
      for (int64_t c = 0; c < 3; ++c)
        px[p * 3 + c] = rec[n + c * 1024 + p];
  }
  return true;
}

std::vector<std::string> cifarFiles(const std::string &dir, bool train) {
  std::vector<std::string> names =
      train ? std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                       "data_batch_4.bin", "data_batch_5.bin"}
            : std::vector<std::string>{"test_batch.bin"};
  std::vector<std::string> found;
  for (const std::string &n : names)
    if (std::filesystem::exists(dir + "/" + n))
      found.push_back(dir + "/" + n);
  if (found.empty() && std::filesystem::exists(dir + (train ? "/train.bin" : "/test.bin")))
    found.push_back(dir + (train ? "/train.bin" : "/test.bin"));
  return found;
}

} // namespace kiln::data
