#pragma once
// Interfaces shared by the object tests and their child processes: the
// blog's shared state object (SyncManager's favourite) and a relay whose
// calls a test records.

#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "statebus/base/describe.hpp"
#include "statebus/service/interface.hpp"
#include "statebus/service/reply.hpp"
#include "test_messages.hpp"

namespace statebus::test {

struct Entry {
  char key[32];
  double value;
};
STATEBUS_MESSAGE(Entry, "test/Entry", key, value);

struct Key {
  char key[32];
};
STATEBUS_MESSAGE(Key, "test/Key", key);

struct Found {
  double value;
  bool found;
  std::int32_t server_pid;
};
STATEBUS_MESSAGE(Found, "test/Found", value, found, server_pid);

struct Count {
  std::uint64_t entries;
};
STATEBUS_MESSAGE(Count, "test/Count", entries);

/// Every key, '\n'-separated, written in place.
struct Keys {
  char text[1024];
};
STATEBUS_MESSAGE(Keys, "test/Keys", text);

STATEBUS_INTERFACE(SharedStateApi, (set, Entry, Nothing),  // Reply<Nothing> set(const Entry&): refuses an empty key
                   (get, Key, Found),                      // Found get(const Key&)
                   (size, Nothing, Count),                 // Count size(): no argument
                   (keys, Nothing, Keys),                  // void keys(const Nothing&, Keys&): in place
                   (clear, Nothing, Nothing));             // void clear()

/// Another request type for `get`: a proxy of it is refused.
STATEBUS_INTERFACE(WrongStateApi, (get, Entry, Found));

/// The blog's shared state: a plain object, no base class, no macro.
struct SharedState {
  std::map<std::string, double> values;
  std::int32_t pid = 0;

  Reply<Nothing> set(const Entry& entry) {
    const std::string key(entry.key, strnlen(entry.key, sizeof entry.key));
    if (key.empty()) return refuse("a key is needed");
    if (key == "throw") throw std::runtime_error("asked to throw");
    values[key] = entry.value;
    return Nothing{};
  }
  Found get(const Key& key) const {
    const auto it = values.find(std::string(key.key, strnlen(key.key, sizeof key.key)));
    return it == values.end() ? Found{0.0, false, pid} : Found{it->second, true, pid};
  }
  Count size() const { return Count{values.size()}; }
  void keys(const Nothing& /*none*/, Keys& out) const {
    std::string text;
    for (const auto& [key, value] : values) text += key + "\n";
    std::strncpy(out.text, text.c_str(), sizeof out.text - 1);
  }
  void clear() { values.clear(); }
};

/// A method whose response (5 MiB) is over the bus's largest payload.
STATEBUS_INTERFACE(HugeApi, (size, Nothing, Count), (dump, Nothing, Huge));

struct Switch {
  bool on;
  std::uint32_t step;
};
STATEBUS_MESSAGE(Switch, "test/Switch", on, step);

/// A hardware layer: the code under test switches a relay through it.
STATEBUS_INTERFACE(RelayApi, (set, Switch, Nothing));

}  // namespace statebus::test
