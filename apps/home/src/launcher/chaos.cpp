#include "chaos.hpp"

#include <signal.h>

#include <algorithm>

#include <spdlog/spdlog.h>

namespace home::launcher {

Chaos::Chaos(std::chrono::nanoseconds mean_gap, std::vector<std::string> targets)
    : on_(mean_gap.count() > 0 && !targets.empty()),
      targets_(std::move(targets)),
      gap_(on_ ? 1.0 / std::chrono::duration<double>(mean_gap).count() : 1.0) {
  plan_next();
}

void Chaos::plan_next() {
  next_ = std::chrono::steady_clock::now() +
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(gap_(random_)));
}

void Chaos::strike_if_due(std::vector<Program>& programs) {
  if (!on_ || std::chrono::steady_clock::now() < next_) return;
  std::vector<Program*> targets;
  for (Program& p : programs) {
    if (std::find(targets_.begin(), targets_.end(), p.name) != targets_.end()) targets.push_back(&p);
  }
  if (targets.empty()) targets.push_back(&programs.front());  // unreachable: targets are checked at start
  Program& victim = *targets[std::uniform_int_distribution<std::size_t>(0, targets.size() - 1)(random_)];
  spdlog::warn("chaos: SIGKILL to {} (pid {})", victim.name, victim.process->pid());
  ::kill(victim.process->pid(), SIGKILL);
  victims_.insert(victim.process->pid());
  ++kills_[victim.name];
  plan_next();
}

int Chaos::kills_of(const std::string& name) const {
  const auto found = kills_.find(name);
  return found == kills_.end() ? 0 : found->second;
}

int Chaos::total_kills() const {
  int total = 0;
  for (const auto& entry : kills_) total += entry.second;
  return total;
}

}  // namespace home::launcher
