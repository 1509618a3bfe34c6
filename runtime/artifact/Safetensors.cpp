//===- Safetensors.cpp - read and write .safetensors files ----------------===//
#include "runtime/artifact/Safetensors.h"

#include "runtime/artifact/DurableFile.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace kiln {

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s;
  for (int64_t d : shape)
    s += (s.empty() ? "" : ", ") + std::to_string(d);
  return "[" + s + "]";
}

int64_t dtypeBytes(const std::string &dtype) {
  if (auto d = dtypeFromSafetensors(dtype))
    return elementBytes(*d);
  return dtype == "U8" ? 1 : 0; // readable, though no buffer holds it
}

namespace {

/// The file's first bytes: the header's length and the JSON header (with
/// `metadata` and "format": "pt"), padded so that the tensors' data after
/// it, sorted by name, is 8-byte aligned.
std::string safetensorsHeader(const TensorMap &tensors, const Metadata &metadata) {
  nlohmann::ordered_json header;
  int64_t offset = 0;
  for (auto &[name, t] : tensors) {
    header[name] = {{"dtype", t.dtype},
                    {"shape", t.shape},
                    {"data_offsets", {offset, offset + (int64_t)t.data.size()}}};
    offset += t.data.size();
  }
  header["__metadata__"] = {{"format", "pt"}};
  for (auto &[k, v] : metadata)
    header["__metadata__"][k] = v;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' '); // align the data
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  return out + text;
}

} // namespace

bool writeSafetensors(const std::string &path, const TensorMap &tensors, std::string &error,
                      const Metadata &metadata) {
  // Tensor by tensor: no second copy of what may be gigabytes.
  std::string header = safetensorsHeader(tensors, metadata);
  std::vector<std::string_view> pieces{header};
  for (auto &[name, t] : tensors)
    pieces.emplace_back(reinterpret_cast<const char *>(t.data.data()), t.data.size());
  return writeFileAtomically(path, pieces, error);
}

bool readSafetensors(const std::string &path, TensorMap &tensors, std::string &error,
                     Metadata *metadata) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = path + ": a directory, not a safetensors file" +
            (std::filesystem::exists(path + "/params.safetensors", ec)
                 ? " (a run directory? its weights are " + path + "/params.safetensors)"
                 : std::string());
    return false;
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  int64_t size = in.tellg();
  in.seekg(0);
  auto fail = [&](const std::string &what) {
    error = path + ": " + what;
    return false;
  };
  if (size < 8)
    return fail("truncated (no header length)");
  uint8_t len[8];
  in.read(reinterpret_cast<char *>(len), 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<uint64_t>(len[i]) << (8 * i);
  if (n > static_cast<uint64_t>(size - 8))
    return fail("header length " + std::to_string(n) + " runs past the end of the file");
  std::string text(n, '\0');
  in.read(text.data(), n);
  nlohmann::json header = nlohmann::json::parse(text, nullptr, false);
  if (header.is_discarded() || !header.is_object())
    return fail("header is not valid JSON");
  int64_t dataSize = size - 8 - static_cast<int64_t>(n);
  std::vector<uint8_t> data(dataSize);
  in.read(reinterpret_cast<char *>(data.data()), dataSize);
  for (auto &[name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (metadata && entry.is_object())
        for (auto &[k, v] : entry.items())
          if (v.is_string())
            (*metadata)[k] = v.get<std::string>();
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || !entry["dtype"].is_string() ||
        !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2)
      return fail("tensor '" + name + "' has a malformed header entry");
    StoredTensor t;
    t.dtype = entry["dtype"].get<std::string>();
    int64_t width = dtypeBytes(t.dtype);
    if (!width)
      return fail("tensor '" + name + "' has unsupported dtype " + t.dtype);
    int64_t count = 1;
    for (auto &d : entry["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        return fail("tensor '" + name + "' has a bad shape");
      t.shape.push_back(d.get<int64_t>());
      count *= t.shape.back();
    }
    auto &offsets = entry["data_offsets"];
    if (!offsets[0].is_number_integer() || !offsets[1].is_number_integer())
      return fail("tensor '" + name + "' has bad data_offsets");
    int64_t begin = offsets[0].get<int64_t>(), end = offsets[1].get<int64_t>();
    if (begin < 0 || end < begin || end > dataSize)
      return fail("tensor '" + name + "' data [" + std::to_string(begin) + ", " +
                  std::to_string(end) + ") lies outside the file's " +
                  std::to_string(dataSize) + " data bytes (truncated?)");
    if (end - begin != count * width)
      return fail("tensor '" + name + "' has " + std::to_string(end - begin) +
                  " bytes for a shape of " + std::to_string(count) + " elements");
    t.data.assign(data.begin() + begin, data.begin() + end);
    tensors[name] = std::move(t);
  }
  return true;
}

} // namespace kiln
