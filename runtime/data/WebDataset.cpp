//===- WebDataset.cpp - image samples from WebDataset tar shards ----------===//
#include "runtime/data/WebDataset.h"

#include "runtime/data/BraceExpand.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iterator>

namespace kiln::data {

namespace {

// The image is the first of these a sample has, as wds.to_tuple("jpg;png").
constexpr const char *kImageExtensions[] = {"jpg", "jpeg", "png", "webp"};
constexpr int kImageKinds = int(std::size(kImageExtensions));

int imageRank(const std::string &ext) {
  int rank = 0;
  while (rank < kImageKinds && ext != kImageExtensions[rank])
    ++rank;
  return rank;
}

/// tar_file_iterator's metadata test: "__" ... "__" outside any directory.
bool isMetadata(const std::string &name) {
  return name.find('/') == std::string::npos && name.size() >= 2 &&
         name.compare(0, 2, "__") == 0 && name.compare(name.size() - 2, 2, "__") == 0;
}

/// Whether member `name` belongs to a sample, and under which key.
bool sampleMember(const std::string &name, std::string &key, std::string &ext) {
  if (isMetadata(name) || !splitKey(name, key, ext))
    return false;
  for (char &c : ext)
    if (c >= 'A' && c <= 'Z')
      c = char(c - 'A' + 'a');
  return true;
}

bool isSpace(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/// Up to 32 bytes of a member for a message, non-printable ones escaped.
std::string quoted(const std::vector<uint8_t> &bytes) {
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size() && i < 32; ++i) {
    uint8_t c = bytes[i];
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out += char(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return out + (bytes.size() > 32 ? "\"..." : "\"");
}

/// Python's int() on what webdataset's writer stores (str(label)): ASCII
/// digits with an optional sign, surrounded by optional ASCII whitespace
/// (a trailing newline, say); the value must be in [0, 2^31).
bool parseLabel(const std::vector<uint8_t> &bytes, int32_t &label, std::string &why) {
  size_t begin = 0, end = bytes.size();
  while (begin < end && isSpace(bytes[begin]))
    ++begin;
  while (end > begin && isSpace(bytes[end - 1]))
    --end;
  bool negative = begin < end && bytes[begin] == '-';
  if (begin < end && (bytes[begin] == '-' || bytes[begin] == '+'))
    ++begin;
  int64_t value = 0; // saturates above INT32_MAX
  bool digits = begin < end;
  for (size_t i = begin; i < end && digits; ++i) {
    if (bytes[i] < '0' || bytes[i] > '9')
      digits = false;
    else
      value = std::min<int64_t>(value * 10 + (bytes[i] - '0'), int64_t(1) << 32);
  }
  if (!digits) {
    why = "label " + quoted(bytes) + " is not a decimal integer";
    return false;
  }
  if ((negative && value != 0) || value > INT32_MAX) {
    why = "label " + quoted(bytes) + " is outside 0 to 2147483647";
    return false;
  }
  label = int32_t(value);
  return true;
}

} // namespace

bool splitKey(const std::string &path, std::string &key, std::string &ext) {
  // The regex's greedy `.*/` tries the last '/' first, then earlier ones,
  // then none; `[^.]+[.]` must then reach a dot with no '/' after it.
  size_t start = path.size();
  for (;;) {
    size_t slash = start == 0 ? std::string::npos : path.rfind('/', start - 1);
    size_t segment = slash == std::string::npos ? 0 : slash + 1;
    size_t dot = path.find('.', segment);
    if (dot != std::string::npos && dot > segment &&
        path.find('/', dot) == std::string::npos) {
      key = path.substr(0, dot);
      ext = path.substr(dot + 1);
      return true;
    }
    if (segment == 0)
      return false;
    start = slash;
  }
}

bool ShardReader::open(const std::string &path, std::string &error) {
  shard = path;
  haveAhead = false;
  samples = 0;
  return tar.open(path, error);
}

bool ShardReader::readAhead(std::string &error) {
  for (;;) {
    bool end;
    if (!tar.next(ahead.name, ahead.bytes, end, error))
      return false;
    haveAhead = !end;
    if (end || sampleMember(ahead.name, ahead.key, ahead.ext))
      return true;
  }
}

void ShardReader::problem(ShardSample &sample, const std::string &what) const {
  if (sample.problem.empty())
    sample.problem = shard + ": sample " + sample.key + ": " + what;
}

void ShardReader::start(ShardSample &sample) {
  sample.key = ahead.key;
  sample.imageName.clear();
  sample.image.clear();
  sample.label = -1;
  sample.problem.clear();
  sample.member = samples++;
  extensions.clear();
  bestImage = kImageKinds;
}

void ShardReader::add(ShardSample &sample) {
  if (std::find(extensions.begin(), extensions.end(), ahead.ext) != extensions.end())
    return problem(sample, "member " + ahead.name + " repeats extension \"" + ahead.ext + "\"");
  extensions.push_back(ahead.ext);
  if (ahead.ext == "cls") {
    std::string why;
    if (!parseLabel(ahead.bytes, sample.label, why))
      problem(sample, "member " + ahead.name + ": " + why);
    return;
  }
  int rank = imageRank(ahead.ext);
  if (rank < bestImage) {
    bestImage = rank;
    sample.imageName = ahead.name;
    sample.image.swap(ahead.bytes); // the old buffer is reused for the next member
  }
}

void ShardReader::finish(ShardSample &sample) {
  if (bestImage == kImageKinds)
    problem(sample, "no .jpg, .jpeg, .png or .webp member");
  if (std::find(extensions.begin(), extensions.end(), "cls") == extensions.end())
    problem(sample, "no .cls member");
  if (!sample.problem.empty())
    sample.label = -1;
}

bool ShardReader::next(ShardSample &sample, bool &end, std::string &error) {
  end = false;
  if (!haveAhead && !readAhead(error))
    return false;
  if (!haveAhead) {
    end = true;
    return true;
  }
  start(sample);
  do {
    add(sample);
    if (!readAhead(error))
      return false;
  } while (haveAhead && ahead.key == sample.key);
  finish(sample);
  return true;
}

bool countSamples(const std::string &path, int64_t &count, std::string &error) {
  TarReader tar;
  if (!tar.open(path, error))
    return false;
  count = 0;
  std::string name, key, ext, last;
  for (;;) {
    bool end;
    if (!tar.skipNext(name, end, error))
      return false;
    if (end)
      return true;
    if (sampleMember(name, key, ext) && (count == 0 || key != last)) {
      ++count;
      last.swap(key);
    }
  }
}

bool expandShards(const std::string &pattern, std::vector<std::string> &paths,
                  std::string &error) {
  if (pattern.empty()) {
    error = "the shard pattern is empty";
    return false;
  }
  if (!braceExpand(pattern, paths, error))
    return false;
  size_t usable = 0;
  std::string firstBad;
  for (const std::string &path : paths) {
    namespace fs = std::filesystem;
    std::error_code code;
    fs::file_type type = fs::status(path, code).type();
    if (type == fs::file_type::regular)
      ++usable;
    else if (firstBad.empty())
      firstBad = path + (type == fs::file_type::not_found ? " does not exist"
                         : type == fs::file_type::none    ? ": " + code.message()
                                                          : " is not a regular file");
  }
  if (usable == paths.size())
    return true;
  error = "shards \"" + pattern + "\": " + firstBad + " (" + std::to_string(usable) +
          " of the " + std::to_string(paths.size()) + " files exist)";
  return false;
}

} // namespace kiln::data
