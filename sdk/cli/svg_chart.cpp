#include "sdk/cli/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/core/error.h"

namespace strata::cli {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char buf[32];
  if (v >= 1000 && std::fmod(v, 1024) == 0)
    std::snprintf(buf, sizeof buf, "%gk", v / 1024);
  else
    std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

void write_line_chart_svg(const std::string& path, const std::string& title, const std::string& x_label,
                          const std::string& y_label, const std::vector<ChartSeries>& series) {
  const double W = 760, H = 460, left = 80, right = 170, top = 50, bottom = 60;
  double x_max = 0, y_max = 0;
  for (const auto& s : series)
    for (auto [x, y] : s.points) x_max = std::max(x_max, x), y_max = std::max(y_max, y);
  if (x_max <= 0) x_max = 1;
  // A round y range: 1, 2 or 5 times a power of ten.
  const double raw_step = std::max(y_max, 1e-9) / 5;
  const double mag = std::pow(10, std::floor(std::log10(raw_step)));
  const double step = raw_step <= mag ? mag : raw_step <= 2 * mag ? 2 * mag : raw_step <= 5 * mag ? 5 * mag : 10 * mag;
  const double y_top = step * std::ceil(y_max / step);
  const auto px = [&](double x) { return left + (W - left - right) * x / x_max; };
  const auto py = [&](double y) { return H - bottom - (H - top - bottom) * y / y_top; };
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" << escape(title) << "</text>\n";
  for (double y = 0; y <= y_top + step / 2; y += step) {
    o << "<line x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << py(y) << "\" y2=\"" << py(y)
      << "\" stroke=\"#ddd\"/>\n<text x=\"" << left - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">"
      << number(y) << "</text>\n";
  }
  std::vector<double> xs;
  for (const auto& s : series)
    for (auto [x, y] : s.points) xs.push_back(x);
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  for (double x : xs)
    o << "<text x=\"" << px(x) << "\" y=\"" << H - bottom + 18 << "\" text-anchor=\"middle\">" << number(x) << "</text>\n";
  o << "<line x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << H - bottom << "\" y2=\"" << H - bottom
    << "\" stroke=\"black\"/>\n<line x1=\"" << left << "\" x2=\"" << left << "\" y1=\"" << top << "\" y2=\"" << H - bottom
    << "\" stroke=\"black\"/>\n";
  o << "<text x=\"" << (left + W - right) / 2 << "\" y=\"" << H - 18 << "\" text-anchor=\"middle\">" << escape(x_label)
    << "</text>\n<text transform=\"translate(20," << (top + H - bottom) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << escape(y_label) << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const char* c = colors[i % 6];
    o << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\" points=\"";
    for (auto [x, y] : series[i].points) o << px(x) << "," << py(y) << " ";
    o << "\"/>\n";
    for (auto [x, y] : series[i].points) o << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"3\" fill=\"" << c << "\"/>\n";
    const double ly = top + 20 + 20 * i;
    o << "<line x1=\"" << W - right + 15 << "\" x2=\"" << W - right + 40 << "\" y1=\"" << ly << "\" y2=\"" << ly
      << "\" stroke=\"" << c << "\" stroke-width=\"2\"/>\n<text x=\"" << W - right + 46 << "\" y=\"" << ly + 4 << "\">"
      << escape(series[i].label) << "</text>\n";
  }
  o << "</svg>\n";
  std::ofstream f(path);
  f << o.str();
  if (!f) throw Error(ErrorKind::Io, path + ": cannot write the chart");
}

}  // namespace strata::cli
