// libFuzzer: the schema decoder (JSON a publisher offers on the bus) and, for
// every schema it accepts, rendering and parsing values of it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "statebus/base/schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto schema = statebus::Schema::from_json(text);
  if (!schema || schema->size > (1u << 20)) return 0;
  std::vector<unsigned char> value(schema->size, 0);
  const std::string json = schema->render_json(value.data());
  (void)schema->render_text(value.data());
  (void)schema->parse_json(json, value.data());
  (void)schema->parse_json(text, value.data());
  (void)schema->assign(value.data(), "a.b[1]", "7");
  return 0;
}
