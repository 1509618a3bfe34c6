//===- ArenaUse.cpp - kiln inspect: what the arena holds, thunk by thunk ---===//
#include "ArenaUse.h"

#include "runtime/artifact/DurableFile.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace kiln {

std::map<int64_t, Lifetime> lifetimes(const CompiledModel &c, const Program &p) {
  std::map<int64_t, Lifetime> life;
  for (size_t i = 0; i < p.thunks.size(); ++i)
    p.thunks[i].eachUse([&](int64_t id, Access) {
      if (c.buffers[id].region != Region::Arena)
        return;
      auto [it, fresh] = life.try_emplace(id, Lifetime{i, i});
      it->second.last = i;
    });
  return life;
}

std::vector<int64_t> liveBytes(const CompiledModel &c, const Program &p,
                               const std::map<int64_t, Lifetime> &life) {
  // +bytes where a buffer starts, -bytes after it ends, then a running sum.
  std::vector<int64_t> live(p.thunks.size() + 1, 0);
  for (auto &[id, l] : life) {
    live[l.first] += c.buffers[id].bytes;
    live[l.last + 1] -= c.buffers[id].bytes;
  }
  for (size_t i = 1; i < live.size(); ++i)
    live[i] += live[i - 1];
  live.pop_back();
  return live;
}

namespace {

std::string escaped(const std::string &s) {
  std::string out;
  for (char ch : s)
    switch (ch) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    default: out += ch;
    }
  return out;
}

std::string megabytes(double bytes) {
  char s[32];
  std::snprintf(s, sizeof s, "%.3g MB", bytes / 1e6);
  return s;
}

} // namespace

bool writeMemoryPlot(const CompiledModel &c, const Program &p, const std::string &path,
                     std::string &error, size_t largest) {
  std::map<int64_t, Lifetime> life = lifetimes(c, p);
  std::vector<int64_t> live = liveBytes(c, p, life);
  size_t n = std::max<size_t>(live.size(), 1);
  size_t peak = live.empty() ? 0 : std::max_element(live.begin(), live.end()) - live.begin();
  int64_t peakBytes = live.empty() ? 0 : live[peak];
  double top = std::max<double>({1.0, (double)p.arenaBytes, (double)peakBytes});

  std::vector<int64_t> biggest;
  for (auto &[id, l] : life)
    biggest.push_back(id);
  std::stable_sort(biggest.begin(), biggest.end(),
                   [&](int64_t a, int64_t b) { return c.buffers[a].bytes > c.buffers[b].bytes; });
  biggest.resize(std::min(biggest.size(), largest));

  // Live bytes above (height H), one bar per large buffer below, both on
  // one thunk axis from x0 to x0 + W.
  const double x0 = 70, W = 860, y0 = 50, H = 300, barTop = y0 + H + 45, barH = 18;
  auto x = [&](double thunk) { return x0 + W * thunk / n; };
  auto y = [&](double bytes) { return y0 + H - H * bytes / top; };
  double height = barTop + biggest.size() * (barH + 4) + 20;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << x0 << "\" y=\"22\" font-size=\"15\">" << escaped(p.entry)
      << ": arena bytes live at each thunk (" << p.thunks.size() << " thunks)</text>\n";
  // The live curve as steps: flat over each thunk.
  svg << "<path class=\"live\" fill=\"#9ecae1\" stroke=\"#3182bd\" d=\"M" << x(0) << " " << y(0);
  for (size_t i = 0; i < live.size(); ++i)
    svg << " L" << x(i) << " " << y(live[i]) << " L" << x(i + 1) << " " << y(live[i]);
  svg << " L" << x(n) << " " << y(0) << " Z\">\n<title>peak " << peakBytes << " B at thunk "
      << peak << "</title></path>\n";
  svg << "<line class=\"arena\" x1=\"" << x0 << "\" x2=\"" << x0 + W << "\" y1=\"" << y(p.arenaBytes)
      << "\" y2=\"" << y(p.arenaBytes) << "\" stroke=\"#de2d26\" stroke-dasharray=\"6 4\"/>\n"
      << "<text x=\"" << x0 + W << "\" y=\"" << y(p.arenaBytes) - 4
      << "\" text-anchor=\"end\" fill=\"#de2d26\">arena " << megabytes(p.arenaBytes) << "</text>\n";
  svg << "<circle cx=\"" << x(peak + 0.5) << "\" cy=\"" << y(peakBytes) << "\" r=\"4\"/>\n"
      << "<text x=\"" << x(peak + 0.5) + 6 << "\" y=\"" << y(peakBytes) + 14 << "\">peak "
      << megabytes(peakBytes) << " at thunk " << peak << " ("
      << escaped(p.thunks.empty() ? "" : p.thunks[peak].label()) << ")</text>\n";
  // Axes: bytes (0, peak, arena) and thunks (0, peak, last).
  svg << "<path d=\"M" << x0 << " " << y0 << " V" << y0 + H << " H" << x0 + W
      << "\" fill=\"none\" stroke=\"black\"/>\n"
      << "<text x=\"" << x0 - 6 << "\" y=\"" << y(0) << "\" text-anchor=\"end\">0</text>\n"
      << "<text x=\"" << x0 - 6 << "\" y=\"" << y(top) + 10 << "\" text-anchor=\"end\">"
      << megabytes(top) << "</text>\n";
  for (size_t t : {size_t(0), peak, n})
    svg << "<text x=\"" << x(t) << "\" y=\"" << y0 + H + 16 << "\" text-anchor=\"middle\">" << t
        << "</text>\n";
  svg << "<text x=\"" << x0 + W / 2 << "\" y=\"" << y0 + H + 32
      << "\" text-anchor=\"middle\">thunk (kiln inspect --thunks lists them)</text>\n";
  for (size_t k = 0; k < biggest.size(); ++k) {
    const Buffer &b = c.buffers[biggest[k]];
    const Lifetime &l = life.at(biggest[k]);
    double row = barTop + k * (barH + 4);
    svg << "<g class=\"buffer\"><title>buffer " << biggest[k] << " " << escaped(b.name) << ": "
        << b.bytes << " B, thunks "
        << l.first << "-" << l.last << "</title><rect x=\"" << x(l.first) << "\" y=\"" << row
        << "\" width=\"" << std::max(1.0, x(l.last + 1) - x(l.first)) << "\" height=\"" << barH
        << "\" fill=\"#fdae6b\"/><text x=\"" << x(l.first) + 3 << "\" y=\"" << row + 13 << "\">"
        << escaped(b.name) << " (" << megabytes(b.bytes) << ")</text></g>\n";
  }
  svg << "</svg>\n";

  return writeFileAtomically(path, {svg.str()}, error);
}

} // namespace kiln
