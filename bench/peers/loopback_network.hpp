#pragma once
// A private network namespace whose one interface is `lo`, with a multicast
// route on it: LCM's UDP multicast (and everything else of peers_bench) can
// then reach nothing but this machine's loopback, whatever the machine's
// network. Call before any thread (and before the bus's daemon starts), after
// statebus::testkit::isolate_bus(): its user namespace grants the rights.

#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace statebus::bench::peers {

/// Moves this process (and the children it starts later) into a fresh
/// network namespace, brings `lo` up and routes 224.0.0.0/4 to it. False,
/// with the reason in `why`, when the system refuses.
inline bool enter_loopback_network(std::string& why) {
  if (::unshare(CLONE_NEWNET) != 0) {
    why = std::string("no private network namespace (unshare: ") + std::strerror(errno) + ")";
    return false;
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  ifreq lo{};
  std::strncpy(lo.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &lo) == 0;
  if (ok) {
    lo.ifr_flags = static_cast<short>(lo.ifr_flags | IFF_UP | IFF_RUNNING);
    ok = ::ioctl(fd, SIOCSIFFLAGS, &lo) == 0;
  }
  if (!ok) why = std::string("bringing lo up: ") + std::strerror(errno);
  if (ok) {
    rtentry route{};
    sockaddr_in destination{};
    destination.sin_family = AF_INET;
    destination.sin_addr.s_addr = htonl(0xe0000000u);  // 224.0.0.0
    sockaddr_in mask{};
    mask.sin_family = AF_INET;
    mask.sin_addr.s_addr = htonl(0xf0000000u);  // /4
    sockaddr_in gateway{};
    gateway.sin_family = AF_INET;
    std::memcpy(&route.rt_dst, &destination, sizeof destination);
    std::memcpy(&route.rt_genmask, &mask, sizeof mask);
    std::memcpy(&route.rt_gateway, &gateway, sizeof gateway);
    route.rt_flags = RTF_UP;
    char device[] = "lo";
    route.rt_dev = device;
    ok = ::ioctl(fd, SIOCADDRT, &route) == 0;
    if (!ok) why = std::string("adding the multicast route on lo: ") + std::strerror(errno);
  }
  ::close(fd);
  return ok;
}

}  // namespace statebus::bench::peers
