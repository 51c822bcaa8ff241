#include "interposition.hpp"

#include <dlfcn.h>

#include <cstring>

namespace statebus::detail {

bool bound_to_object_of(const void* anchor, std::initializer_list<const char*> symbols) noexcept {
  Dl_info self{};
  if (::dladdr(anchor, &self) == 0 || self.dli_fname == nullptr) return false;
  for (const char* symbol : symbols) {
    void* address = ::dlsym(RTLD_DEFAULT, symbol);
    Dl_info info{};
    if (address == nullptr || ::dladdr(address, &info) == 0 || info.dli_fname == nullptr ||
        std::strcmp(info.dli_fname, self.dli_fname) != 0) {
      return false;
    }
  }
  return true;
}

std::string not_interposed(const std::string& what, const std::string& risk) {
  return "this program " + what + " through the iceoryx library, not the statebus way: the dynamic linker bound "
         "them to another definition, and " + risk + ". Link statebus's libraries into the program itself (the "
         "default static build) or load them before iceoryx's";
}

}  // namespace statebus::detail
