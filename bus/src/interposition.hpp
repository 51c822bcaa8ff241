#pragma once
// statebus takes the place of a few iceoryx functions (port locks, how
// iceoryx opens and binds files, whose groups RouDi sees): definitions in
// statebus's objects that the dynamic linker binds before the iceoryx
// library's own. Whether it did is checked, never assumed. Internal to bus/src.

#include <initializer_list>
#include <string>

namespace statebus::detail {

/// True if the dynamic linker binds each of `symbols` (mangled names) to
/// the object (executable or library) that holds `anchor`.
bool bound_to_object_of(const void* anchor, std::initializer_list<const char*> symbols) noexcept;

/// The error to give when they are not: this program does `what` through
/// the iceoryx library instead (`risk`: what could go wrong), and the fix.
std::string not_interposed(const std::string& what, const std::string& risk);

}  // namespace statebus::detail
