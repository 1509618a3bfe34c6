//===- DurableFile.cpp - files that survive a crash whole ------------------===//
#include "runtime/train/DurableFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace kiln {

bool writeDurably(const std::string &path, const std::vector<std::string_view> &pieces,
                  std::string &why) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    why = std::strerror(errno);
    return false;
  }
  for (std::string_view bytes : pieces)
    for (size_t done = 0; done < bytes.size();) {
      ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        why = n < 0 ? std::strerror(errno) : "nothing written";
        ::close(fd);
        return false;
      }
      done += n;
    }
  bool ok = ::fsync(fd) == 0;
  if (!ok)
    why = std::strerror(errno);
  if (::close(fd) != 0 && ok) {
    why = std::strerror(errno);
    ok = false;
  }
  return ok;
}

bool writeFileAtomically(const std::string &path, const std::string &bytes, std::string &error) {
  std::string partial = path + ".tmp-" + std::to_string(::getpid()), why;
  bool ok = writeDurably(partial, {bytes}, why);
  if (ok && std::rename(partial.c_str(), path.c_str()) != 0) {
    ok = false;
    why = std::strerror(errno);
  }
  if (!ok) {
    std::remove(partial.c_str());
    error = "cannot write " + path + ": " + why;
  }
  return ok;
}

} // namespace kiln
