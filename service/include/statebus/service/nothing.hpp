#pragma once
/// Nothing: the request of a method that takes no argument, or the
/// response of one whose only answer is "done".

namespace statebus {

/// An empty message (one byte on the wire): `(get, Nothing, Reading)` is a
/// method called without an argument, `(set, Entry, Nothing)` one that
/// answers only that it was done. A member returning void answers Nothing.
struct Nothing {};

// Described by hand: STATEBUS_MESSAGE needs at least one field.
[[maybe_unused]] inline const char* statebus_type_name(const Nothing*) { return "statebus/Nothing"; }
template <class Visitor>
void statebus_visit_fields(const Nothing*, Visitor&& /*visit*/) {}

}  // namespace statebus
