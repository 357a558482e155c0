// A small SVG line chart (memory against context) that opens in any browser.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace strata::cli {

struct ChartSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
};

// Writes a line chart with labelled axes; throws Error(Io) when the file cannot be written.
void write_line_chart_svg(const std::string& path, const std::string& title, const std::string& x_label,
                          const std::string& y_label, const std::vector<ChartSeries>& series);

}  // namespace strata::cli
