#include "home/chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace home {
namespace {

// Formats up to four numbers; every format here is a literal of this file.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
std::string fmt(const char* format, double a, double b = 0, double c = 0, double d = 0) {
  char text[160];
  std::snprintf(text, sizeof text, format, a, b, c, d);
  return text;
}
#pragma GCC diagnostic pop

}  // namespace

std::string render_chart_svg(const std::vector<ChartPoint>& points, const std::string& title, int width, int height) {
  const double left = 56, right = 16, top = 36, bottom = 60;
  const double plot_w = width - left - right;
  const double plot_h = height - top - bottom;
  std::string svg = fmt("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                        "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
                        width, height, width, height);
  svg += fmt("<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", width, height);
  svg += "<text x=\"" + std::to_string(static_cast<int>(left)) + "\" y=\"22\" font-size=\"15\" font-weight=\"bold\">" +
         escape(title) + "</text>\n";
  if (points.empty()) {
    svg += fmt("<text x=\"%.0f\" y=\"%.0f\">no readings yet</text>\n</svg>\n", left + 10, top + plot_h / 2);
    return svg;
  }
  double lo = 1e9, hi = -1e9;
  for (const ChartPoint& p : points) {
    lo = std::min({lo, p.celsius, p.outside_celsius, p.setpoint - p.band});
    hi = std::max({hi, p.celsius, p.outside_celsius, p.setpoint + p.band});
  }
  lo = std::floor(lo - 0.5);
  hi = std::ceil(hi + 0.5);
  const double t0 = points.front().hours;
  const double span = std::max(points.back().hours - t0, 1.0 / 60.0);
  auto x = [&](double hours) { return left + (hours - t0) / span * plot_w; };
  auto y = [&](double celsius) { return top + (hi - celsius) / (hi - lo) * plot_h; };

  // Heater on: shaded columns.
  for (std::size_t i = 0; i < points.size();) {
    if (!points[i].heater_on) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j + 1 < points.size() && points[j + 1].heater_on) ++j;
    const double x0 = x(points[i].hours);
    const double x1 = j + 1 < points.size() ? x(points[j + 1].hours) : x(points[j].hours);
    svg += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#f4b183\" fill-opacity=\"0.35\"/>\n",
               x0, top, std::max(x1 - x0, 0.5), plot_h);
    i = j + 1;
  }
  // Grid and axes.
  const double step = (hi - lo) > 16 ? 5 : (hi - lo) > 6 ? 2 : 1;
  for (double c = std::ceil(lo / step) * step; c <= hi; c += step) {
    svg += fmt("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, left + plot_w, y(c),
               y(c));
    svg += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", left - 6, y(c) + 4, c);
  }
  const double hour_step = span > 12 ? 3 : span > 4 ? 1 : span > 1 ? 0.25 : 1.0 / 12;
  for (double h = std::ceil(t0 / hour_step) * hour_step; h <= t0 + span + 1e-9; h += hour_step) {
    svg +=
        fmt("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", x(h), x(h), top, top + plot_h);
    const int minutes = static_cast<int>(std::lround(h * 60));
    svg += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x(h), top + plot_h + 16) +
           fmt("%02.0f:", std::floor(minutes / 60.0)) + fmt("%02.0f</text>\n", minutes % 60);
  }
  svg += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n", left, top,
             plot_w, plot_h);
  svg += fmt("<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">°C</text>\n",
             top + plot_h / 2, top + plot_h / 2);

  auto polyline = [&](auto value, const char* color, const char* extra) {
    std::string line = std::string("<polyline fill=\"none\" stroke=\"") + color + "\" " + extra + " points=\"";
    for (const ChartPoint& p : points) line += fmt("%.1f,%.1f ", x(p.hours), y(value(p)));
    return line + "\"/>\n";
  };
  svg += polyline([](const ChartPoint& p) { return p.setpoint + p.band; }, "#2e7d32", "stroke-dasharray=\"4 3\"");
  svg += polyline([](const ChartPoint& p) { return p.setpoint - p.band; }, "#2e7d32", "stroke-dasharray=\"4 3\"");
  svg += polyline([](const ChartPoint& p) { return p.setpoint; }, "#2e7d32", "stroke-width=\"1\"");
  svg += polyline([](const ChartPoint& p) { return p.outside_celsius; }, "#1565c0", "stroke-width=\"1.5\"");
  svg += polyline([](const ChartPoint& p) { return p.celsius; }, "#c62828", "stroke-width=\"2\"");

  // Legend.
  const double ly = height - 18;
  const struct {
    const char* color;
    const char* label;
  } legend[] = {{"#c62828", "room"}, {"#1565c0", "outside"}, {"#2e7d32", "setpoint ± band"}, {"#f4b183", "heater on"}};
  double lx = left;
  for (const auto& item : legend) {
    svg += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"", lx, ly - 9) + item.color + "\"/>";
    svg += fmt("<text x=\"%.1f\" y=\"%.1f\">", lx + 18, ly) + item.label + "</text>\n";
    lx += 130;
  }
  svg += "</svg>\n";
  return svg;
}

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace home
