//===- TempDir.h - a scratch folder for one test ------------------*- C++ -*-===//
#ifndef KILN_TESTS_UNIT_TEMPDIR_H
#define KILN_TESTS_UNIT_TEMPDIR_H

#include <filesystem>
#include <string>
#include <unistd.h>

namespace kiln::test {

/// A fresh folder under the system's temp dir, removed with its files.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int count = 0;
    path = std::filesystem::temp_directory_path() /
           ("kiln-test-" + std::to_string(::getpid()) + "-" + std::to_string(count++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  std::string operator/(const std::string &name) const { return (path / name).string(); }
};

} // namespace kiln::test

#endif // KILN_TESTS_UNIT_TEMPDIR_H
