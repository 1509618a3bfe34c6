//===- OutputFile.cpp - files written whole or not at all -----------------===//
#include "OutputFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace kiln {

bool writeFileAtomically(const std::string &path, const std::string &contents, std::string &error) {
  std::string partial = path + ".tmp-" + std::to_string(getpid());
  int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  for (size_t at = 0; ok && at < contents.size();) {
    ssize_t n = write(fd, contents.data() + at, contents.size() - at);
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0;
    at += ok ? n : 0;
  }
  ok = ok && fsync(fd) == 0;
  int reason = errno;
  if (fd >= 0 && close(fd) != 0 && ok) {
    ok = false;
    reason = errno;
  }
  if (ok && std::rename(partial.c_str(), path.c_str()) != 0) {
    ok = false;
    reason = errno;
  }
  if (!ok) {
    std::remove(partial.c_str());
    error = "cannot write " + path + ": " + std::strerror(reason);
  }
  return ok;
}

} // namespace kiln
