//===- TarWriter.cpp - a tar of regular files, in place only when complete ===//
#include "runtime/data/TarWriter.h"

#include <cstdio>

namespace kiln::data {

TarWriter::~TarWriter() { abandon(); }

void TarWriter::abandon() {
  if (!handle)
    return;
  handle.reset();
  std::remove((file + ".tmp").c_str());
}

bool TarWriter::notOpen(std::string &error) const {
  error = (file.empty() ? std::string("tar writer") : file) + ": no archive is open";
  return false;
}

} // namespace kiln::data

#if KILN_HAVE_ARCHIVE
#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <cstring>

namespace kiln::data {

void TarWriter::Free::operator()(struct archive *a) const { archive_write_free(a); }

/// Reports libarchive's message (and the system's, which it leaves out of
/// "Failed to open"), then abandons the archive.
bool TarWriter::fail(const std::string &where, std::string &error) {
  const char *message = archive_error_string(handle.get());
  int code = archive_errno(handle.get());
  error = file + ".tmp: " + where + (message ? message : "unknown libarchive error");
  if (code > 0 && code != EILSEQ)
    error += std::string(" (") + std::strerror(code) + ")";
  abandon();
  return false;
}

bool TarWriter::open(const std::string &path, std::string &error) {
  abandon();
  file = path;
  handle.reset(archive_write_new());
  if (!handle) {
    error = path + ": cannot allocate a tar writer";
    return false;
  }
  if (archive_write_set_format_pax_restricted(handle.get()) != ARCHIVE_OK ||
      archive_write_open_filename(handle.get(), (path + ".tmp").c_str()) != ARCHIVE_OK)
    return fail("cannot create: ", error);
  return true;
}

bool TarWriter::add(const std::string &name, const std::vector<uint8_t> &bytes,
                    std::string &error) {
  if (!handle)
    return notOpen(error);
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry *)> entry(
      archive_entry_new(), archive_entry_free);
  if (!entry) {
    error = file + ".tmp: member " + name + ": cannot allocate an entry";
    abandon();
    return false;
  }
  // Not set_pathname_utf8: libarchive 3.6's pax writer crashes on it in the
  // C locale. The name's bytes go in as they are.
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_size(entry.get(), la_int64_t(bytes.size()));
  std::string where = "member " + name + ": ";
  // ARCHIVE_WARN: a non-ASCII name outside a UTF-8 locale is stored as raw
  // bytes (pax hdrcharset=BINARY), which libarchive and tarfile read back.
  int status = archive_write_header(handle.get(), entry.get());
  if (status != ARCHIVE_OK && status != ARCHIVE_WARN)
    return fail(where, error);
  if (!bytes.empty() &&
      archive_write_data(handle.get(), bytes.data(), bytes.size()) != la_ssize_t(bytes.size()))
    return fail(where, error);
  return true;
}

bool TarWriter::close(std::string &error) {
  if (!handle)
    return notOpen(error);
  if (archive_write_close(handle.get()) != ARCHIVE_OK)
    return fail("", error);
  handle.reset();
  std::string temporary = file + ".tmp";
  if (std::rename(temporary.c_str(), file.c_str()) != 0) {
    error = temporary + ": cannot rename to " + file + ": " + std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

} // namespace kiln::data

#else // !KILN_HAVE_ARCHIVE

namespace kiln::data {

void TarWriter::Free::operator()(struct archive *) const {}

bool TarWriter::open(const std::string &path, std::string &error) {
  file = path;
  error = path + ": kiln was built without tar support "
                 "(apt-get install libarchive-dev, then rebuild kiln)";
  return false;
}

bool TarWriter::add(const std::string &, const std::vector<uint8_t> &, std::string &error) {
  return notOpen(error);
}

bool TarWriter::close(std::string &error) { return notOpen(error); }

} // namespace kiln::data

#endif // KILN_HAVE_ARCHIVE
