//===- Dataset.cpp - the training and evaluation splits --------------------===//
#include "runtime/data/Dataset.h"

#include "runtime/data/Idx.h"
#include "runtime/data/ImageFolder.h"
#include "runtime/data/Random.h"
#include "runtime/data/WebDataset.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

/// The IDX file `stem` in `dir`, gzipped or not; empty when absent.
std::string idxFile(const std::string &dir, const std::string &stem) {
  for (const char *suffix : {".gz", ""})
    if (fs::exists(dir + "/" + stem + suffix))
      return dir + "/" + stem + suffix;
  return "";
}

bool loadIdxSplit(const std::string &dir, const std::string &prefix,
                  std::shared_ptr<const Source> &split, std::string &error) {
  std::string imagesPath = idxFile(dir, prefix + "-images-idx3-ubyte");
  std::string labelsPath = idxFile(dir, prefix + "-labels-idx1-ubyte");
  if (imagesPath.empty() || labelsPath.empty()) {
    error = "no " + prefix + " images/labels (IDX files) in " + dir +
            (dir == kFashionMnistDir ? " (apt-get install dataset-fashion-mnist, or pass --data PATH)"
                                     : "");
    return false;
  }
  IdxArray images, labels;
  if (!readIdx(imagesPath, images, error) || !readIdx(labelsPath, labels, error))
    return false;
  if (images.dims.size() != 3 || labels.dims.size() != 1 || images.dims[0] != labels.dims[0]) {
    error = imagesPath + ": expected [N, H, W] images with N labels in " + labelsPath;
    return false;
  }
  auto s = std::make_shared<ArraySource>();
  s->where = imagesPath;
  s->height = images.dims[1];
  s->width = images.dims[2];
  s->images = std::move(images.bytes);
  s->labels.assign(labels.bytes.begin(), labels.bytes.end());
  for (int32_t l : s->labels)
    s->classCount = std::max<int64_t>(s->classCount, l + 1);
  split = std::move(s);
  return true;
}

bool loadCifarSplit(const std::vector<std::string> &files, CifarLabels labels,
                    std::shared_ptr<const Source> &split, std::string &error) {
  auto s = std::make_shared<ArraySource>();
  s->where = files.front();
  for (const std::string &f : files)
    if (!readCifarFile(f, labels, *s, error))
      return false;
  split = std::move(s);
  return true;
}

bool loadFolderSplit(const std::string &root, std::shared_ptr<const Source> &split,
                     std::vector<std::string> &warnings, std::string &error) {
  auto s = std::make_shared<FileSource>();
  std::vector<std::string> classes;
  if (!listImageFolder(root, *s, classes, warnings, error))
    return false;
  split = std::move(s);
  return true;
}

bool isShardPattern(const std::string &path) {
  return path.find('{') != std::string::npos ||
         (path.size() > 4 && path.compare(path.size() - 4, 4, ".tar") == 0);
}

/// kiln data convert's shards in `dir`: PREFIX-{000000..N}.tar, or "".
std::string convertedShards(const std::string &dir, const std::string &prefix) {
  int64_t n = 0;
  char name[64];
  while (std::snprintf(name, sizeof name, "/%s-%06lld.tar", prefix.c_str(), (long long)n),
         fs::exists(dir + name))
    ++n;
  if (n == 0)
    return "";
  std::snprintf(name, sizeof name, "/%s-{000000..%06lld}.tar", prefix.c_str(), (long long)n - 1);
  return dir + name;
}

/// The kind of data at `path`, told by its content; empty when unknown.
std::string detectKind(const std::string &path, std::string &train, std::string &eval) {
  std::error_code ec;
  train = path;
  if (isShardPattern(path))
    return "shards";
  if (!fs::is_directory(path, ec))
    return fs::is_regular_file(path, ec) ? "cifar" : "";
  if (!(train = convertedShards(path, "train")).empty()) {
    eval = convertedShards(path, "eval");
    return "shards";
  }
  train = path;
  if (!idxFile(path, "train-images-idx3-ubyte").empty())
    return "idx";
  if (!cifarFiles(path, true).empty())
    return "cifar";
  for (const char *evalName : {"val", "test"})
    if (hasClassFolders(path + "/train") && hasClassFolders(path + "/" + evalName)) {
      train = path + "/train";
      eval = path + "/" + evalName;
      return "image_folder";
    }
  return hasClassFolders(path) ? "image_folder" : "";
}

} // namespace

bool dataSpecFromGraph(const nlohmann::ordered_json &data, DataSpec &spec, std::string &error) {
  if (!data.contains("source"))
    return true; // "dataset": "fashion-mnist"
  const auto &s = data["source"];
  spec.kind = s.value("kind", "");
  spec.path = s.value("path", "");
  spec.evalPath = s.value("eval_path", "");
  spec.lanes = s.value("lanes", 0);
  spec.shuffleBuffer = s.value("shuffle_buffer", 1000);
  spec.epochSteps = s.value("epoch_steps", 0);
  std::string labels = s.value("cifar_labels", "fine");
  if (labels != "fine" && labels != "coarse") {
    error = "/data/source/cifar_labels: '" + labels + "' is neither 'fine' nor 'coarse'";
    return false;
  }
  spec.cifarLabels = labels == "fine" ? CifarLabels::Fine : CifarLabels::Coarse;
  return true;
}

bool openDataset(const DataSpec &spec, Dataset &out, std::vector<std::string> &warnings,
                 std::string &error) {
  std::string path = spec.path.empty() ? kFashionMnistDir : spec.path;
  if (path.rfind("synthetic:", 0) == 0) {
    // Generated in memory, 784 bytes an image: at most a million.
    const char *digits = path.c_str() + 10;
    char *end = nullptr;
    errno = 0;
    long long count = std::strtoll(digits, &end, 10);
    if (end == digits || *end || errno || count < 1 || count > 1000000) {
      error = path + ": synthetic:N needs N, the number of images, an integer from 1 "
              "to 1000000";
      return false;
    }
    out = syntheticDataset(count, std::max<int64_t>(count / 6, 1), 7);
    return true;
  }
  std::string train = path, eval = spec.evalPath, found = detectKind(path, train, eval);
  out.kind = spec.kind.empty() ? found : spec.kind;
  out.spec = spec;
  if (!spec.evalPath.empty())
    eval = spec.evalPath;
  if (out.kind.empty()) {
    error = path + (fs::exists(path) ? ": no dataset found (IDX files, CIFAR batches, or a folder "
                                        "of class folders of images)"
                                      : ": no such file or folder");
    return false;
  }
  if (out.kind == "idx")
    return loadIdxSplit(path, "train", out.train, error) &&
           loadIdxSplit(eval.empty() ? path : eval, "t10k", out.test, error);
  if (out.kind == "cifar") {
    std::vector<std::string> trainFiles =
        fs::is_directory(path) ? cifarFiles(path, true) : std::vector<std::string>{path};
    std::vector<std::string> testFiles =
        eval.empty() ? cifarFiles(path, false)
                     : fs::is_directory(eval) ? cifarFiles(eval, false) : std::vector<std::string>{eval};
    if (trainFiles.empty()) {
      error = path + ": no CIFAR batches (data_batch_1.bin … or train.bin)";
      return false;
    }
    return loadCifarSplit(trainFiles, spec.cifarLabels, out.train, error) &&
           (testFiles.empty() || loadCifarSplit(testFiles, spec.cifarLabels, out.test, error));
  }
  if (out.kind == "image_folder")
    return loadFolderSplit(train, out.train, warnings, error) &&
           (eval.empty() || loadFolderSplit(eval, out.test, warnings, error));
  if (out.kind == "shards") {
    if (!expandShards(train, out.trainShards, error) ||
        (!eval.empty() && !expandShards(eval, out.testShards, error)))
      return false;
    if (spec.epochSteps == 0) // the epoch's length: every sample once
      for (const std::string &shard : out.trainShards) {
        int64_t n = 0;
        if (!countSamples(shard, n, error))
          return false;
        out.trainSamples += n;
      }
    return true;
  }
  error = path + ": data of kind '" + out.kind + "' is not readable by this runtime";
  return false;
}

bool loadIdxDataset(const std::string &dir, Dataset &out, std::string &error) {
  out.kind = "idx";
  return loadIdxSplit(dir, "train", out.train, error) &&
         loadIdxSplit(dir, "t10k", out.test, error);
}

Dataset syntheticDataset(int64_t trainCount, int64_t testCount, uint64_t seed) {
  Dataset d;
  d.kind = "synthetic";
  for (auto [split, count, salt] : {std::tuple{&d.train, trainCount, 1ull},
                                    std::tuple{&d.test, testCount, 2ull}}) {
    auto s = std::make_shared<ArraySource>();
    s->where = "synthetic";
    s->height = s->width = 28;
    s->classCount = 10;
    s->images.assign(count * 28 * 28, 0);
    s->labels.resize(count);
    for (int64_t i = 0; i < count; ++i) {
      Random r(seed, salt, i);
      int label = static_cast<int>(r.next() % 10);
      s->labels[i] = label;
      // A 8x8 square whose position encodes the class, on light noise.
      int y0 = 2 + (label / 5) * 12 + static_cast<int>(r.next() % 3);
      int x0 = 2 + (label % 5) * 5 + static_cast<int>(r.next() % 2);
      uint8_t *img = &s->images[i * 784];
      for (int p = 0; p < 784; ++p)
        img[p] = static_cast<uint8_t>(r.next() % 40);
      for (int y = y0; y < y0 + 8 && y < 28; ++y)
        for (int x = x0; x < x0 + 8 && x < 28; ++x)
          img[y * 28 + x] = 220;
    }
    *split = std::move(s);
  }
  return d;
}

} // namespace kiln::data
