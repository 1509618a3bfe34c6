//===- Cifar.h - CIFAR-10 and CIFAR-100 binary batches ------------*- C++ -*-===//
//
// The binary versions of Krizhevsky's sets: records of a label byte
// (CIFAR-10) or coarse and fine label bytes (CIFAR-100), then 1024 red,
// 1024 green and 1024 blue bytes of a 32×32 image. Files are recognised by
// their size and labels, not their names.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_CIFAR_H
#define KILN_RUNTIME_DATA_CIFAR_H

#include "runtime/data/Source.h"

namespace kiln::data {

enum class CifarLabels { Fine, Coarse };

/// Appends the records of the batch file `path` to `out` (32×32 RGB);
/// CIFAR-100's label is its fine or coarse one. False with `error` naming
/// the file and record.
bool readCifarFile(const std::string &path, CifarLabels labels, ArraySource &out,
                   std::string &error);

/// The training or test files of a CIFAR directory as the archives unpack
/// (data_batch_1..5.bin and test_batch.bin, or train.bin and test.bin);
/// empty when `dir` holds none.
std::vector<std::string> cifarFiles(const std::string &dir, bool train);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_CIFAR_H
