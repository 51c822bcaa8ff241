#pragma once
// The day as a picture: room and outside temperature, setpoint band and
// heater, as an SVG document (no scripts, opens in any browser).

#include <string>
#include <vector>

namespace home {

struct ChartPoint {
  double hours = 0.0;  ///< since the start of the chart
  double celsius = 0.0;
  double outside_celsius = 0.0;
  double setpoint = 0.0;
  double band = 0.0;
  bool heater_on = false;
};

/// An SVG of `width` × `height` pixels. Points in time order; empty gives an
/// empty chart that says so.
std::string render_chart_svg(const std::vector<ChartPoint>& points, const std::string& title, int width = 960,
                             int height = 420);

/// `text` with <, > and & escaped, for HTML and SVG.
std::string escape(const std::string& text);

}  // namespace home
