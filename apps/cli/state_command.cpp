// `statebus state`: list, read and write the bus's state cells.
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "statebus/state/cell.hpp"

namespace statebus::cli {
namespace {

struct StateArgs {
  std::string name;
  bool json = false;
  std::vector<std::string> assignments;
};

int list() {
  auto cells = list_cells();
  if (!cells) return report("state", cells.error());
  if (cells->empty()) {
    std::printf("no cells on this bus yet (a process creates one with Cell<T>::open)\n");
    return 0;
  }
  std::printf("%-32s %-24s %8s %10s  %s\n", "NAME", "TYPE", "SIZE", "VERSION", "LAST WRITER");
  for (const CellInfo& cell : *cells) {
    const std::string writer = cell.last_writer.pid == 0 ? "-"
                               : std::to_string(cell.last_writer.pid) + (is_alive(cell.last_writer) ? "" : " (gone)");
    std::printf("%-32s %-24s %8zu %10llu  %s\n", cell.name.c_str(), cell.type_name.c_str(), cell.size,
                static_cast<unsigned long long>(cell.version), writer.c_str());
  }
  return 0;
}

int get(const StateArgs& args) {
  auto cell = UntypedCell::open(args.name);
  if (!cell) return report("state", cell.error());
  std::vector<unsigned char> value(cell->size());
  cell->load(value.data());
  const std::string text =
      args.json ? cell->schema().render_json(value.data()) : cell->schema().render_text(value.data());
  std::printf("%s\n", text.c_str());
  return 0;
}

int set(const StateArgs& args) {
  auto cell = UntypedCell::open(args.name);
  if (!cell) return report("state", cell.error());
  std::vector<std::pair<std::string, std::string>> changes;
  for (const std::string& assignment : args.assignments) {
    const auto equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      return usage_error("state", "'" + assignment + "' is not FIELD=VALUE (for example celsius=21.5)");
    }
    changes.emplace_back(assignment.substr(0, equals), assignment.substr(equals + 1));
  }
  // All fields in one read-modify-write: every change applies, or none.
  std::optional<Error> refused;
  std::vector<unsigned char> stored(cell->size());
  auto done = cell->update([&](void* value) {
    for (const auto& [field, text] : changes) {
      if (auto assigned = cell->schema().assign(value, field, text); !assigned) {
        refused = assigned.error();
        return false;
      }
    }
    std::memcpy(stored.data(), value, stored.size());
    return true;
  });
  if (refused) return report("state", Error(refused->code(), refused->message() + "; nothing stored"));
  if (!done) return report("state", done.error());  // the cell's own checks (ranges) or its lock
  std::printf("%s\n", cell->schema().render_text(stored.data()).c_str());
  return 0;
}

}  // namespace

void add_state_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<StateArgs>();
  CLI::App* command = app.add_subcommand("state", "List, read and write the bus's state cells");
  CLI::App* get_command = command->add_subcommand("get", "Print a cell's value field by field");
  get_command->add_option("NAME", args->name, "The cell, like home/setpoint")->required();
  get_command->add_flag("--json", args->json, "Print the value as one JSON object");
  get_command->callback([args, &exit_code] { exit_code = get(*args); });
  CLI::App* set_command = command->add_subcommand("set", "Change fields of a cell: FIELD=VALUE …, all or none");
  set_command->add_option("NAME", args->name, "The cell, like home/setpoint")->required();
  set_command->add_option("FIELD=VALUE", args->assignments, "celsius=21.5, limits.low=5, values[2]=7, mode=eco")
      ->required();
  set_command->callback([args, &exit_code] { exit_code = set(*args); });
  command->callback([command, &exit_code] {
    if (command->get_subcommands().empty()) exit_code = list();
  });
}

}  // namespace statebus::cli
