//===- DurableFile.cpp - files that survive a crash whole ------------------===//
#include "runtime/artifact/DurableFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <filesystem>
#include <unistd.h>

namespace kiln {
namespace {

/// Writes `pieces` to a new file at `path` and fsyncs it; false with
/// errno's text in `why`.
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

/// Makes a rename in `path`'s directory durable (best effort: some file
/// systems refuse to sync a directory).
void syncDirectoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

} // namespace

bool writeFileAtomically(const std::string &path, const std::vector<std::string_view> &pieces,
                         std::string &error) {
  if (isDevNull(path))
    return true; // a rename would replace the device itself
  std::string partial = path + ".tmp-" + std::to_string(::getpid()), why;
  bool ok = writeDurably(partial, pieces, why);
  if (ok && std::rename(partial.c_str(), path.c_str()) != 0) {
    ok = false;
    why = std::strerror(errno);
  }
  if (!ok) {
    std::remove(partial.c_str());
    error = "cannot write " + path + ": " + why;
    return false;
  }
  syncDirectoryOf(path);
  return true;
}

bool sameFile(const std::string &a, const std::string &b) {
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec) && !ec;
}

bool isDevNull(const std::string &path) {
  // By device number: std::filesystem::equivalent refuses two character
  // devices, and a container's /dev/null may be another node of 1:3.
  struct stat a {}, b {};
  return ::stat(path.c_str(), &a) == 0 && ::stat("/dev/null", &b) == 0 && S_ISCHR(a.st_mode) &&
         S_ISCHR(b.st_mode) && a.st_rdev == b.st_rdev;
}

bool mayReplace(const std::string &path, OutputKind kind, std::string &why) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) || isDevNull(path))
    return true;
  if (!std::filesystem::is_regular_file(path, ec)) {
    why = "something other than a file is there; refusing to replace it";
    return false;
  }
  std::string head(4096, '\0');
  FILE *f = std::fopen(path.c_str(), "rb");
  head.resize(f ? std::fread(head.data(), 1, head.size(), f) : 0);
  if (f)
    std::fclose(f);
  auto startsWith = [&](std::string_view prefix) { return head.rfind(prefix, 0) == 0; };
  size_t first = head.find_first_not_of(" \t\r\n");
  bool text = head.find('\0') == std::string::npos;
  bool json = text && first != std::string::npos && head[first] == '{';
  bool ours = false;
  const char *what = "";
  switch (kind) {
  case OutputKind::Safetensors: // an 8-byte header length, then its JSON
    ours = head.size() > 8 && head[8] == '{';
    what = "safetensors file";
    break;
  case OutputKind::TraceJson:
    ours = json && head.find("\"traceEvents\"") != std::string::npos;
    what = "trace";
    break;
  case OutputKind::Drawing:
    ours = (text && first != std::string::npos && (head[first] == '<' || startsWith("digraph"))) ||
           startsWith("\x89PNG") || startsWith("%PDF");
    what = "drawing (SVG, DOT, PNG or PDF)";
    break;
  case OutputKind::Text:
    ours = text && !json;
    what = "text output (a JSON document or binary data is there)";
    break;
  }
  if (!ours)
    why = std::string("the file there is not an earlier ") + what +
          "; refusing to replace it (remove it or choose another path)";
  return ours;
}

} // namespace kiln
