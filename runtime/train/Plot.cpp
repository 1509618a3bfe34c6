//===- Plot.cpp - SVG line charts of a run's curves -----------------------===//
#include "runtime/train/Plot.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace kiln {
namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

} // namespace

std::string plotSvg(const std::string &title, const std::vector<Series> &panels) {
  const double W = 420, H = 300, left = 60, right = 20, top = 40, bottom = 45;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W * panels.size()
    << "\" height=\"" << H + 30 << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"10\" y=\"20\" font-size=\"15\">" << title << "</text>\n";
  for (size_t p = 0; p < panels.size(); ++p) {
    const Series &series = panels[p];
    double x0 = p * W + left, y0 = 30 + top, pw = W - left - right, ph = H - top - bottom;
    s << "<text x=\"" << x0 << "\" y=\"" << y0 - 8 << "\">" << series.title << "</text>\n"
      << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << pw << "\" height=\"" << ph
      << "\" fill=\"none\" stroke=\"#888\"/>\n"
      << "<text x=\"" << x0 + pw / 2 << "\" y=\"" << y0 + ph + 35
      << "\" text-anchor=\"middle\">" << series.xLabel << "</text>\n";
    if (series.points.empty())
      continue;
    double xmin = series.points.front().first, xmax = xmin, ymin = series.points.front().second,
           ymax = ymin;
    for (auto [x, y] : series.points) {
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
    if (xmax == xmin)
      xmax = xmin + 1;
    if (ymax == ymin)
      ymax = ymin + 1;
    auto px = [&](double x) { return x0 + (x - xmin) / (xmax - xmin) * pw; };
    auto py = [&](double y) { return y0 + ph - (y - ymin) / (ymax - ymin) * ph; };
    s << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
    for (auto [x, y] : series.points)
      s << px(x) << "," << py(y) << " ";
    s << "\"/>\n";
    if (series.points.size() < 30)
      for (auto [x, y] : series.points)
        s << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"3\" fill=\"#1f77b4\"/>\n";
    s << "<text x=\"" << x0 - 5 << "\" y=\"" << y0 + 10 << "\" text-anchor=\"end\">" << fmt(ymax)
      << "</text>\n<text x=\"" << x0 - 5 << "\" y=\"" << y0 + ph << "\" text-anchor=\"end\">"
      << fmt(ymin) << "</text>\n<text x=\"" << x0 << "\" y=\"" << y0 + ph + 16 << "\">"
      << fmt(xmin) << "</text>\n<text x=\"" << x0 + pw << "\" y=\"" << y0 + ph + 16
      << "\" text-anchor=\"end\">" << fmt(xmax) << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

} // namespace kiln
