//===- ImageFolder.cpp - a folder of class folders of images ---------------===//
#include "runtime/data/ImageFolder.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sys/stat.h>

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path &p) { return p.filename().string().rfind('.', 0) == 0; }

std::string lowerExtension(const fs::path &p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

/// `dir` and every folder below it (symbolic links followed, each real
/// folder once so a link loop ends), sorted by path string as Python's
/// sorted(os.walk(dir)) orders them.
std::vector<std::string> foldersBelow(const std::string &dir) {
  std::vector<std::string> folders;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::vector<std::string> todo{dir};
  while (!todo.empty()) {
    std::string d = todo.back();
    todo.pop_back();
    struct stat st;
    if (::stat(d.c_str(), &st) != 0 || !seen.insert({st.st_dev, st.st_ino}).second)
      continue;
    folders.push_back(d);
    std::error_code ec;
    for (const fs::directory_entry &e : fs::directory_iterator(d, ec))
      if (!hidden(e.path()) && e.is_directory(ec))
        todo.push_back(e.path().string());
  }
  std::sort(folders.begin(), folders.end());
  return folders;
}

} // namespace

bool hasClassFolders(const std::string &dir) {
  std::error_code ec;
  for (const fs::directory_entry &e : fs::directory_iterator(dir, ec))
    if (!hidden(e.path()) && e.is_directory(ec))
      return true;
  return false;
}

bool listImageFolder(const std::string &root, FileSource &out, std::vector<std::string> &classes,
                     std::vector<std::string> &warnings, std::string &error) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    error = root + ": not a folder";
    return false;
  }
  classes.clear();
  for (const fs::directory_entry &e : fs::directory_iterator(root, ec))
    if (!hidden(e.path()) && e.is_directory(ec))
      classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  if (classes.empty()) {
    error = root + ": no class folders (an image folder holds one subfolder of images per class)";
    return false;
  }
  const std::set<std::string> decoded{".jpg", ".jpeg", ".png", ".webp"},
      torchvisionOnly{".bmp", ".ppm", ".pgm", ".tif", ".tiff"};
  std::map<std::string, int64_t> skipped;
  out.where = root;
  out.classCount = static_cast<int64_t>(classes.size());
  for (size_t c = 0; c < classes.size(); ++c) {
    size_t before = out.paths.size();
    for (const std::string &folder : foldersBelow(root + "/" + classes[c])) {
      std::vector<std::string> names;
      for (const fs::directory_entry &e : fs::directory_iterator(folder, ec)) {
        if (hidden(e.path()) || e.is_directory(ec))
          continue;
        std::string ext = lowerExtension(e.path());
        if (decoded.count(ext))
          names.push_back(e.path().filename().string());
        else if (torchvisionOnly.count(ext))
          ++skipped[ext];
      }
      std::sort(names.begin(), names.end());
      for (const std::string &n : names) {
        out.paths.push_back(folder + "/" + n);
        out.labels.push_back(static_cast<int32_t>(c));
      }
    }
    if (out.paths.size() == before) {
      error = root + "/" + classes[c] + ": class '" + classes[c] +
              "' has no image (.jpg, .jpeg, .png or .webp, hidden files ignored)";
      return false;
    }
  }
  for (const auto &[ext, n] : skipped)
    warnings.push_back(root + ": " + std::to_string(n) + " " + ext +
                       " files skipped (kiln decodes JPEG, PNG and WebP)");
  return true;
}

} // namespace kiln::data
