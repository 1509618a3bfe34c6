//===- Source.cpp - labelled images with random access --------------------===//
#include "runtime/data/Source.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace kiln::data {

std::string ArraySource::name(int64_t i) const {
  return where + " image " + std::to_string(i);
}

bool ArraySource::fetch(int64_t i, Sample &out, std::string &) const {
  out.bytes.clear();
  out.image = Image(height, width, channels);
  std::copy(pixels(i), pixels(i + 1), out.image.pixels.begin());
  out.label = labels[i];
  out.name = name(i);
  return true;
}

bool FileSource::fetch(int64_t i, Sample &out, std::string &error) const {
  out.image = Image();
  out.label = labels[i];
  out.name = paths[i];
  return readFile(paths[i], out.bytes, error);
}

bool readFile(const std::string &path, std::vector<uint8_t> &out, std::string &error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  out.resize(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char *>(out.data()), out.size())) {
    error = path + ": read failed after " + std::to_string(in.gcount()) + " bytes";
    return false;
  }
  return true;
}

} // namespace kiln::data
