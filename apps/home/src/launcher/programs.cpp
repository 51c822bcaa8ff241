#include "programs.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <spdlog/spdlog.h>

namespace home::launcher {

using namespace std::chrono_literals;

std::string program_dir() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string self(path, static_cast<std::size_t>(n));
  return self.substr(0, self.rfind('/'));
}

bool start(Program& p, const std::string& out_dir) {
  auto started = Supervised::start(p.argv, out_dir + "/" + p.name + ".log");
  if (!started) {
    spdlog::error("cannot start {}: {}", p.name, started.error().message());
    return false;
  }
  p.process.emplace(std::move(*started));
  for (;;) {
    auto line = p.process->read_line(10s);
    if (!line) {
      spdlog::error("{} did not start (see {}/{}.log)", p.name, out_dir, p.name);
      return false;
    }
    if (*line == "ready") return true;
    if (line->rfind("listening on ", 0) == 0) std::printf("%s: %s\n", p.name.c_str(), line->c_str());
  }
}

void resume_sensor_args(Program& sensor, const HeatingStatus& last, std::chrono::nanoseconds since_start) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_start).count() % 86400;
  sensor.argv.resize(1);
  if (last.decisions > 0) sensor.argv.insert(sensor.argv.end(), {"--initial", std::to_string(last.celsius)});
  sensor.argv.insert(sensor.argv.end(), {"--time-of-day", std::to_string(seconds) + "s"});
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

}  // namespace home::launcher
