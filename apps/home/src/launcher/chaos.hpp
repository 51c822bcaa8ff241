#pragma once
// --chaos: SIGKILLs the sensor, the heating or the web process at random
// moments (exponentially distributed, a mean gap apart, in real time); each
// is restarted, and no other process may notice.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "programs.hpp"

namespace home::launcher {

class Chaos {
 public:
  /// Off when `mean_gap` is zero or `targets` is empty.
  Chaos(std::chrono::nanoseconds mean_gap, std::vector<std::string> targets);

  [[nodiscard]] bool on() const noexcept { return on_; }
  /// Kills one of the targets among `programs` if its moment has come.
  void strike_if_due(std::vector<Program>& programs);
  /// True once: `pid` was killed on purpose (its end is no error).
  bool was_victim(pid_t pid) { return victims_.erase(pid) != 0; }
  /// SIGKILLs per program name.
  [[nodiscard]] const std::map<std::string, int>& kills() const noexcept { return kills_; }
  [[nodiscard]] int kills_of(const std::string& name) const;
  [[nodiscard]] int total_kills() const;

 private:
  void plan_next();
  bool on_;
  std::vector<std::string> targets_;
  std::mt19937_64 random_{std::random_device{}()};
  std::exponential_distribution<double> gap_;
  std::chrono::steady_clock::time_point next_;
  std::map<std::string, int> kills_;
  std::set<pid_t> victims_;
};

}  // namespace home::launcher
