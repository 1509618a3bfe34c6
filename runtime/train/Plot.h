//===- Plot.h - SVG line charts of a run's curves ------------------*- C++ -*-===//
#ifndef KILN_RUNTIME_TRAIN_PLOT_H
#define KILN_RUNTIME_TRAIN_PLOT_H

#include <string>
#include <utility>
#include <vector>

namespace kiln {

struct Series {
  std::string title, xLabel;
  std::vector<std::pair<double, double>> points;
};

/// One SVG with a panel per series (side by side), axes with min/max
/// ticks, for a run directory's plot.svg.
std::string plotSvg(const std::string &title, const std::vector<Series> &panels);

} // namespace kiln

#endif // KILN_RUNTIME_TRAIN_PLOT_H
