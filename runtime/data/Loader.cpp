//===- Loader.cpp - batches of augmented views, built ahead ---------------===//
#include "runtime/data/Loader.h"

#include "runtime/data/Dataset.h"
#include "runtime/data/Decode.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace kiln::data {
namespace {

/// Decodes `s` (when it is a file) once, at the smallest JPEG scale that
/// every copy still shrinks from, and writes every copy.
bool render(Sample &s, std::vector<ViewCopy> &copies, std::string &error) {
  int64_t h = s.image.height, w = s.image.width;
  if (!s.bytes.empty()) {
    ImageInfo info;
    if (!probeImage(s.bytes.data(), s.bytes.size(), s.name, info, error))
      return false;
    h = info.height;
    w = info.width;
  }
  double shrink = 1e300;
  int64_t channels = 1;
  for (ViewCopy &c : copies) {
    if (!fitsView(*c.view, h, w, error)) {
      error = s.name + ": " + error;
      return false;
    }
    if (c.view->pil)
      c.draw = drawView(*c.view, h, w, c.rng);
    shrink = std::min(shrink, c.view->pil ? c.draw.shrink : 1.0);
    channels = std::max(channels, c.view->channels);
  }
  if (!s.bytes.empty()) {
    int64_t d = chooseJpegScale(w, h, shrink);
    if (!decodeImage(s.bytes.data(), s.bytes.size(), s.name, channels, d, s.image, error))
      return false;
    for (ViewCopy &c : copies) // only JPEGs shrink in decoding
      c.draw.reduction = s.image.width < w ? d : 1;
  }
  for (ViewCopy &c : copies)
    applyView(*c.view, c.draw, s.image, c.rng, c.out);
  return true;
}

} // namespace

Loader::Loader(std::shared_ptr<const Source> source, std::map<std::string, ViewSpec> views,
               int64_t batch, LoaderOptions options)
    : source(std::move(source)), views(std::move(views)), batch(batch), options(options),
      pool(std::max(1, options.threads)) {}

Loader::Loader(std::shared_ptr<ShardStream> stream, int64_t epochSteps,
               std::map<std::string, ViewSpec> views, int64_t batch, LoaderOptions options)
    : stream(std::move(stream)), epochSteps(epochSteps), views(std::move(views)), batch(batch),
      options(options), pool(std::max(1, options.threads)) {}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(queueMutex);
    stopping = true;
  }
  queueChanged.notify_all();
  if (producer.joinable())
    producer.join();
}

int64_t Loader::stepsPerEpoch() const {
  if (stream)
    return options.evaluation ? INT64_MAX / 2 : epochSteps;
  int64_t global = batch * options.ranks;
  return options.evaluation ? (source->size() + global - 1) / global : source->size() / global;
}

int64_t Loader::skipped() const {
  std::lock_guard<std::mutex> lock(badMutex);
  return replaced;
}

const std::vector<int64_t> &Loader::order(int64_t epoch) {
  std::lock_guard<std::mutex> lock(ordersMutex);
  auto it = orders.find(epoch);
  if (it != orders.end())
    return it->second;
  std::vector<int64_t> perm(source->size());
  std::iota(perm.begin(), perm.end(), 0);
  if (!options.evaluation) {
    Random r(options.seed, 0x5348554646ull /* "SHUFF" */, epoch);
    for (int64_t i = source->size() - 1; i > 0; --i)
      std::swap(perm[i], perm[r.next() % (i + 1)]);
  }
  orders.erase(orders.begin(), orders.lower_bound(epoch - 1));
  return orders[epoch] = std::move(perm);
}

void Loader::fill(Batch &b, int64_t epoch, int64_t position, int64_t row) {
  const std::vector<int64_t> &perm = order(epoch);
  int64_t n = source->size();
  Sample s;
  for (int64_t k = 0; k < n; ++k) {
    int64_t sample = perm[(position + k) % n];
    {
      std::lock_guard<std::mutex> lock(badMutex);
      if (bad.count(sample))
        continue;
    }
    std::vector<ViewCopy> copies = copiesOf(b, epoch, sample, row);
    std::string error;
    if (source->fetch(sample, s, error) && render(s, copies, error)) {
      b.labels[row] = s.label;
      return;
    }
    skip(sample, error);
  }
}

void Loader::skip(int64_t key, const std::string &why) {
  std::lock_guard<std::mutex> lock(badMutex);
  if (bad.insert(key).second) {
    std::fprintf(stderr, "kiln: warning: %s (skipped: the next image takes its place)\n",
                 why.c_str());
    ++replaced;
  }
}

Batch Loader::emptyBatch() const {
  Batch b;
  b.labels.assign(batch, 0);
  for (auto &[name, view] : views)
    b.views[name].assign(view.count * batch * view.floats(), 0.0f);
  return b;
}

std::vector<ViewCopy> Loader::copiesOf(Batch &b, int64_t epoch, uint64_t id, int64_t row) {
  std::vector<ViewCopy> copies;
  uint64_t viewIndex = 0;
  for (auto &[name, view] : views) {
    for (int64_t c = 0; c < view.count; ++c)
      // Copy c of this sample's view: row c·batch + i (view-major).
      copies.push_back({&view, Random(options.seed, (epoch << 16) | (viewIndex << 8) | c, id),
                        &b.views.at(name)[(c * batch + row) * view.floats()], {}});
    ++viewIndex;
  }
  return copies;
}

Batch Loader::buildFromStream(int64_t epoch, int64_t step) {
  Batch b = emptyBatch();
  std::vector<StreamSample> got(batch);
  std::string error;
  bool end = false;
  if (options.evaluation) {
    // In order, one lane; this rank's batches are every ranks-th.
    int64_t first = (step * options.ranks + options.rank) * batch;
    if (streamAt > first) {
      stream->restart();
      streamAt = 0;
    }
    StreamSample skipped;
    bool ok = true;
    for (; ok && streamAt < first && !end; ++streamAt)
      ok = stream->next(0, skipped, end, error);
    while (ok && !end && b.count < batch) {
      ok = stream->next(0, got[b.count], end, error);
      b.count += ok && !end;
      ++streamAt;
    }
    if (!ok) {
      b.error = error;
      return b;
    }
  } else {
    // Rank r reads lanes [r·K/W, (r+1)·K/W), G/K samples from each.
    int64_t g = epoch * epochSteps + step, lanes = stream->lanes() / options.ranks;
    int64_t perLane = batch / lanes, firstLane = options.rank * lanes;
    std::mutex failed;
    auto read = [&](int64_t l, bool keep) {
      StreamSample s;
      bool e;
      std::string err;
      for (int64_t j = 0; j < perLane; ++j)
        if (!stream->next(firstLane + l, keep ? got[l * perLane + j] : s, e, err)) {
          std::lock_guard<std::mutex> lock(failed);
          b.error = err;
          return;
        }
    };
    if (streamAt != g) { // a jump: read the stream again up to step g
      stream->restart();
      for (streamAt = 0; streamAt < g && b.error.empty(); ++streamAt)
        pool.run(lanes, [&](int64_t l) { read(l, false); });
    }
    pool.run(lanes, [&](int64_t l) { read(l, true); });
    if (!b.error.empty())
      return b;
    b.count = batch;
    ++streamAt;
  }
  // A sample that does not decode takes the place of the next one of its
  // lane in this step (the same at every world size).
  int64_t block = options.evaluation ? std::max<int64_t>(b.count, 1)
                                     : batch * options.ranks / stream->lanes();
  pool.run(b.count, [&](int64_t i) {
    int64_t first = i / block * block, size = std::min(block, b.count - first);
    for (int64_t k = 0; k < size; ++k) {
      StreamSample s = got[first + (i - first + k) % size];
      std::vector<ViewCopy> copies = copiesOf(b, s.pass, s.id, i);
      std::string why;
      if (render(s.sample, copies, why)) {
        b.labels[i] = s.sample.label;
        return;
      }
      skip(static_cast<int64_t>(s.id), why);
    }
  });
  return b;
}

Batch Loader::build(int64_t epoch, int64_t step) {
  if (stream)
    return buildFromStream(epoch, step);
  Batch b = emptyBatch();
  int64_t first = (step * options.ranks + options.rank) * batch;
  b.count = std::clamp<int64_t>(source->size() - first, 0, batch);
  pool.run(b.count, [&](int64_t i) { fill(b, epoch, first + i, i); });
  return b;
}

void Loader::produce() {
  std::unique_lock<std::mutex> lock(queueMutex);
  while (true) {
    // Evaluation reads its split once: nothing is built past its last batch.
    queueChanged.wait(lock, [&] {
      return stopping || (next >= 0 && static_cast<int>(ready.size()) < options.depth &&
                          !(options.evaluation && next >= stepsPerEpoch()));
    });
    if (stopping)
      return;
    int64_t g = next++, gen = generation, perEpoch = stepsPerEpoch();
    lock.unlock();
    Batch b = build(g / perEpoch, g % perEpoch);
    lock.lock();
    if (gen == generation)
      ready.emplace_back(g, std::move(b));
    queueChanged.notify_all();
  }
}

Batch Loader::get(int64_t epoch, int64_t step) {
  int64_t g = epoch * stepsPerEpoch() + step;
  std::unique_lock<std::mutex> lock(queueMutex);
  if (!producer.joinable())
    producer = std::thread([this] { produce(); });
  bool coming = ready.empty() ? next == g + 1 : ready.front().first == g;
  if (!coming) { // a jump (the first call, a resume): start over from g
    ready.clear();
    next = g;
    ++generation;
    queueChanged.notify_all();
  }
  queueChanged.wait(lock, [&] { return !ready.empty() && ready.front().first == g; });
  Batch b = std::move(ready.front().second);
  ready.pop_front();
  queueChanged.notify_all();
  // A label the graph cannot encode would train on a row of zeros.
  for (int64_t i = 0; i < b.count && options.classes > 0 && b.error.empty(); ++i)
    if (b.labels[i] < 0 || b.labels[i] >= options.classes)
      b.error = (source ? source->where : std::string("the training shards")) + ": label " +
                std::to_string(b.labels[i]) + " is outside the graph's " +
                std::to_string(options.classes) + " classes [0, " +
                std::to_string(options.classes) + ")";
  return b;
}

bool fixedSizeFitsViews(const Source &source, const std::map<std::string, ViewSpec> &views,
                        std::string &error) {
  auto *array = dynamic_cast<const ArraySource *>(&source);
  if (!array)
    return true;
  for (auto &[name, v] : views)
    if (v.resize == 0 && v.scale[1] == 0 && !v.centerCrop &&
        (array->height != v.size || array->width != v.size)) {
      error = source.where + ": the images are " + std::to_string(array->width) + "x" +
              std::to_string(array->height) + ", but input '" + name + "' takes " +
              std::to_string(v.size) + "x" + std::to_string(v.size) +
              " images and its view does not resize them (give the view a \"resize\" or "
              "\"scale\", \"crop\": \"center\" for a centre crop, or data of its size)";
      return false;
    }
  return true;
}

std::unique_ptr<Loader> makeTrainLoader(const Dataset &d, std::map<std::string, ViewSpec> views,
                                        int64_t batch, LoaderOptions options, std::string &error) {
  auto atLeastOneBatch = [&](std::unique_ptr<Loader> loader) {
    if (loader->stepsPerEpoch() >= 1)
      return loader;
    error = "the training set (" + std::to_string(d.trainSize()) +
            " images) is smaller than one global batch of " +
            std::to_string(batch * options.ranks);
    return std::unique_ptr<Loader>();
  };
  if (d.train && !fixedSizeFitsViews(*d.train, views, error))
    return nullptr;
  if (d.train && options.classes > 0 && d.train->classes() > options.classes) {
    error = d.train->where + ": labels up to " + std::to_string(d.train->classes() - 1) +
            ", but the graph has " + std::to_string(options.classes) + " classes [0, " +
            std::to_string(options.classes) + ")";
    return nullptr;
  }
  if (d.train)
    return atLeastOneBatch(std::make_unique<Loader>(d.train, std::move(views), batch, options));
  int64_t global = batch * options.ranks, shards = static_cast<int64_t>(d.trainShards.size());
  int64_t lanes = d.spec.lanes;
  for (int64_t k = 16; lanes == 0 && k >= 1; k /= 2)
    if (k <= shards && global % k == 0 && k % options.ranks == 0)
      lanes = k;
  if (lanes == 0 || lanes > shards || global % lanes || lanes % options.ranks) {
    error = "the " + std::to_string(shards) + " training shards cannot be read as " +
            (lanes ? std::to_string(lanes) : std::string("any number of")) +
            " lanes: lanes must be at most the shards, divide the global batch (" +
            std::to_string(global) + ") and be a multiple of the ranks (" +
            std::to_string(options.ranks) + "); set data.source.lanes, or write more shards";
    return nullptr;
  }
  int64_t epochSteps = d.spec.epochSteps ? d.spec.epochSteps : d.trainSamples / global;
  auto stream = std::make_shared<ShardStream>(d.trainShards, lanes, d.spec.shuffleBuffer,
                                              options.seed, /*shuffle=*/true);
  return atLeastOneBatch(
      std::make_unique<Loader>(stream, epochSteps, std::move(views), batch, options));
}

std::unique_ptr<Loader> makeEvalLoader(const Dataset &d, bool test,
                                       std::map<std::string, ViewSpec> views, int64_t batch,
                                       LoaderOptions options) {
  options.evaluation = true;
  const std::shared_ptr<const Source> &source = test ? d.test : d.train;
  if (source)
    return std::make_unique<Loader>(source, std::move(views), batch, options);
  auto stream = std::make_shared<ShardStream>(test ? d.testShards : d.trainShards, 1, 0,
                                              options.seed, /*shuffle=*/false);
  return std::make_unique<Loader>(stream, 0, std::move(views), batch, options);
}

} // namespace kiln::data
