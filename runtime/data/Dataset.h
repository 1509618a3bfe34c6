//===- Dataset.h - the training and evaluation splits --------------*- C++ -*-===//
//
// Opens what the graph's data section (or `--data`) names: IDX files
// (Fashion-MNIST from Debian's dataset-fashion-mnist by default), CIFAR
// batches, or image folders, each split a Source; or WebDataset tar
// shards, streamed (ShardStream.h). The kind is told by content when not
// given: a folder of IDX files or CIFAR batches, a folder with train/ and
// val/ (or test/) class folders, a folder of class folders, a .tar file or
// a brace pattern of them (a folder of kiln data convert's
// train-NNNNNN.tar and eval-NNNNNN.tar too).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_DATASET_H
#define KILN_RUNTIME_DATA_DATASET_H

#include "runtime/data/Cifar.h"
#include "runtime/data/Source.h"

#include <nlohmann/json.hpp>

namespace kiln::data {

constexpr const char *kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Where the data is: the graph's data.source, overridden by --data and
/// --eval-data.
struct DataSpec {
  std::string kind;     // idx, cifar, image_folder, shards; empty: told by content
  std::string path;     // empty: Fashion-MNIST; "synthetic:N" for tests
  std::string evalPath; // empty: the test split beside `path`, if any
  CifarLabels cifarLabels = CifarLabels::Fine;
  // Shards: lanes (0: the most that fit), samples per lane's shuffle
  // buffer, and steps an epoch (0: the samples over the global batch).
  int64_t lanes = 0, shuffleBuffer = 1000, epochSteps = 0;
};

struct Dataset {
  std::shared_ptr<const Source> train, test; // test may be null: no evaluation data
  std::string kind;
  // kind "shards": the expanded patterns, and the training samples counted.
  std::vector<std::string> trainShards, testShards;
  int64_t trainSamples = 0;
  DataSpec spec;

  int64_t trainSize() const { return train ? train->size() : trainSamples; }
  bool hasTest() const { return test || !testShards.empty(); }
};

/// The graph's data section as a DataSpec; false with `error` naming the
/// key (the compiler checks the schema; this reads artifacts).
bool dataSpecFromGraph(const nlohmann::ordered_json &data, DataSpec &spec, std::string &error);

/// Opens both splits; warnings (files skipped) go to `warnings`.
bool openDataset(const DataSpec &spec, Dataset &out, std::vector<std::string> &warnings,
                 std::string &error);

/// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir`;
/// false with `error` naming the missing file (and the Debian package for
/// the default directory).
bool loadIdxDataset(const std::string &dir, Dataset &out, std::string &error);

/// A deterministic synthetic set for tests: 28×28 images whose class is
/// drawn as a bright square at a class-dependent place.
Dataset syntheticDataset(int64_t trainCount, int64_t testCount, uint64_t seed);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_DATASET_H
