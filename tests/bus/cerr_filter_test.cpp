// iceoryx's reports of failed POSIX calls go straight to std::cerr; the
// daemon drops them (they concern clients killed a moment before) and keeps
// every other line.
#include "statebus/internal/cerr_filter.hpp"  // bus/internal

#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

namespace statebus::detail {
namespace {

TEST(CerrFilter, DropsIceoryxsPosixCallReportsAndKeepsEverythingElseInOrder) {
  std::ostringstream seen;
  std::streambuf* const original = std::cerr.rdbuf(seen.rdbuf());
  filter_iceoryx_posix_errors();
  std::cerr << "first line\n";
  std::cerr << "./iceoryx_hoofs/source/posix_wrapper/unix_domain_socket.cpp:238 { iox::cxx::expected<> "
               "iox::posix::UnixDomainSocket::timedSend() const -> iox_setsockopt }  :::  [ 9 ]  Bad file descriptor"
            << std::endl;
  std::cerr << "invalid file descriptor for unix domain socket \"\"" << std::endl;
  std::cerr << "internal logic error in unix domain socket \"/tmp/sb.victim\" occurred" << std::endl;
  std::cerr << "a user's line with -> and { braces }" << std::flush;
  std::cerr << ", ended later\n";
  std::cerr.flush();
  std::cerr.rdbuf(original);  // the filter stays installed on nothing that outlives `seen`
  EXPECT_EQ(seen.str(), "first line\na user's line with -> and { braces }, ended later\n");
}

}  // namespace
}  // namespace statebus::detail
