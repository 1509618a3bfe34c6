//===- TarReader.cpp - the regular files of a tar, in order ---------------===//
#include "runtime/data/TarReader.h"

#if KILN_HAVE_ARCHIVE
#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <cstring>

namespace kiln::data {

namespace {

constexpr size_t kBlockBytes = 1 << 16;
// A corrupt size field must not become a huge allocation.
constexpr int64_t kMaxMemberBytes = int64_t(1) << 30;

} // namespace

void TarReader::Free::operator()(struct archive *a) const { archive_read_free(a); }

std::string TarReader::where() const {
  return "member " + member + " (header at byte " + std::to_string(headerAt) + ")";
}

bool TarReader::fail(const std::string &where, std::string &error) const {
  const char *message = archive_error_string(handle.get());
  error = file + ": " + where + ": " + (message ? message : "unknown libarchive error");
  return false;
}

bool TarReader::open(const std::string &path, std::string &error) {
  handle.reset(archive_read_new());
  file = path;
  member.clear();
  headerAt = 0;
  finished = false;
  if (!handle) {
    error = path + ": cannot allocate a tar reader";
    return false;
  }
  archive_read_support_format_tar(handle.get());
  // ARCHIVE_WARN here only says some filters would run external programs.
  archive_read_support_filter_all(handle.get());
  if (archive_read_open_filename(handle.get(), path.c_str(), kBlockBytes) == ARCHIVE_OK)
    return true;
  // libarchive detects the format while opening and reports a failure as
  // EILSEQ (its ARCHIVE_ERRNO_FILE_FORMAT); a failed open(2) keeps errno.
  int code = archive_errno(handle.get());
  const char *message = archive_error_string(handle.get());
  std::string why = message ? message : "unknown libarchive error";
  if (code == EILSEQ)
    error = path + ": not a tar archive (" + why + ")";
  else if (code > 0)
    error = path + ": cannot open: " + std::strerror(code);
  else
    error = path + ": cannot read: " + why;
  handle.reset();
  return false;
}

bool TarReader::nextHeader(std::string &name, bool &end, std::string &error) {
  if (!handle) {
    error = (file.empty() ? std::string("tar reader") : file) + ": no tar is open";
    return false;
  }
  while (!finished) {
    struct archive_entry *entry;
    int status = archive_read_next_header(handle.get(), &entry);
    if (status == ARCHIVE_EOF) {
      finished = true;
      break;
    }
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN)
      return fail(member.empty() ? "first header" : "header after member " + member, error);
    headerAt = archive_read_header_position(handle.get());
    // Names are UTF-8 in pax headers; the locale-dependent form is the fallback.
    const char *path = archive_entry_pathname_utf8(entry);
    if (!path)
      path = archive_entry_pathname(entry);
    if (!path) {
      error = file + ": header at byte " + std::to_string(headerAt) +
              ": the member's name cannot be read";
      return false;
    }
    member = path;
    memberBytes = archive_entry_size(entry);
    if (archive_entry_filetype(entry) == AE_IFREG) {
      name = member;
      end = false;
      return true;
    }
  }
  end = true;
  return true;
}

bool TarReader::next(std::string &name, std::vector<uint8_t> &bytes, bool &end,
                     std::string &error) {
  if (!nextHeader(name, end, error))
    return false;
  if (end)
    return true;
  if (memberBytes < 0 || memberBytes > kMaxMemberBytes) {
    error = file + ": " + where() + ": size " + std::to_string(memberBytes) +
            " is outside 0 to 1 GiB";
    return false;
  }
  bytes.resize(size_t(memberBytes));
  for (size_t got = 0; got < bytes.size();) {
    la_ssize_t n = archive_read_data(handle.get(), bytes.data() + got, bytes.size() - got);
    if (n < 0)
      return fail(where(), error);
    if (n == 0) {
      error = file + ": " + where() + ": ends after " + std::to_string(got) + " of " +
              std::to_string(bytes.size()) + " bytes";
      return false;
    }
    got += size_t(n);
  }
  return true;
}

bool TarReader::skipNext(std::string &name, bool &end, std::string &error) {
  if (!nextHeader(name, end, error))
    return false;
  return end || archive_read_data_skip(handle.get()) == ARCHIVE_OK || fail(where(), error);
}

} // namespace kiln::data

#else // !KILN_HAVE_ARCHIVE

namespace kiln::data {

namespace {

bool notBuiltIn(const std::string &path, std::string &error) {
  error = path + ": kiln was built without tar support "
                 "(apt-get install libarchive-dev, then rebuild kiln)";
  return false;
}

} // namespace

void TarReader::Free::operator()(struct archive *) const {}

bool TarReader::open(const std::string &path, std::string &error) {
  file = path;
  return notBuiltIn(path, error);
}

bool TarReader::next(std::string &, std::vector<uint8_t> &, bool &, std::string &error) {
  return notBuiltIn(file, error);
}

bool TarReader::skipNext(std::string &, bool &, std::string &error) {
  return notBuiltIn(file, error);
}

} // namespace kiln::data

#endif // KILN_HAVE_ARCHIVE
