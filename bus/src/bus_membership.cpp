#include "bus_membership.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "statebus/base/process.hpp"
#include "statebus/internal/paths.hpp"
#include "statebus/internal/process_slot.hpp"
#include "statebus/internal/registry_protocol.hpp"
#include "statebus/internal/unique_fd.hpp"

namespace statebus::detail {
namespace {

std::atomic<int> g_connection{-1};
// A forked child is another process: its parent's membership is not its
// own (and a connection it kept open would hide its parent's end).
const int g_fork_hook = ::pthread_atfork(nullptr, nullptr, [] {
  const int fd = g_connection.exchange(-1);
  if (fd >= 0) ::close(fd);
});

Error connect_error(int error) {
  const std::string where = std::string(" (") + kRegistrySocket + ")";
  switch (error) {
    case ENOENT:
    case ECONNREFUSED:
      return Error(Errc::no_daemon, "no statebus daemon accepts processes on this machine" + where +
                                        ": start one with `statebus daemon`");
    case EACCES:
    case EPERM:
      return Error(Errc::not_permitted, "permission denied joining the bus" + where +
                                            ": this user is not in the group of the daemon's bus");
    case EAGAIN:
      return Error(Errc::no_daemon, "the statebus daemon has too many processes waiting to join" + where +
                                        "; try again, or look at the daemon's log");
    default: return Error(Errc::system_error, "cannot reach the statebus daemon" + where + ": " + errno_text(error));
  }
}

Result<void> send_request(int socket, const JoinRequest& request, int pidfd) {
  iovec data{const_cast<JoinRequest*>(&request), sizeof request};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* rights = CMSG_FIRSTHDR(&message);
  rights->cmsg_level = SOL_SOCKET;
  rights->cmsg_type = SCM_RIGHTS;
  rights->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(rights), &pidfd, sizeof pidfd);
  if (::sendmsg(socket, &message, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof request)) {
    return fail(Errc::no_daemon, std::string("the statebus daemon closed its registry (") + kRegistrySocket +
                                     ") while this process joined: " + errno_text(errno) +
                                     "; is it stopping? start it again with `statebus daemon`");
  }
  return {};
}

}  // namespace

Result<std::uint32_t> join_bus(std::string_view node, std::chrono::milliseconds timeout) {
  (void)g_fork_hook;
  UniqueFd socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (socket.get() < 0) return fail(Errc::system_error, "cannot make a socket to join the bus: " + errno_text(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, kRegistrySocket, sizeof address.sun_path - 1);
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return tl::make_unexpected(connect_error(errno));
  }
  // A pidfd of this process: the daemon learns of its death from the
  // kernel, whatever PID namespace either of them is in.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  if (pidfd.get() < 0) {
    const int error = errno;
    return fail(Errc::system_error,
                "cannot make a pidfd of this process (" + errno_text(error) + ")" +
                    (error == ENOSYS ? ": statebus needs Linux 5.3 or later, which tells the daemon when a process ends"
                                     : ": the daemon could not tell when this process ends"));
  }
  JoinRequest request;
  const ProcessId self = this_process();
  request.pid = self.pid;
  request.start_time = self.start_time;
  std::strncpy(request.node, std::string(node).c_str(), sizeof request.node - 1);
  // A daemon that refuses at once (it is out of descriptors) may have
  // answered and closed before the request went out: its answer says why.
  const auto sent = send_request(socket.get(), request, pidfd.get());

  pollfd answer{socket.get(), POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&answer, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    return fail(Errc::no_daemon, "the statebus daemon did not let this process join within " +
                                     std::to_string(timeout.count()) +
                                     " ms (is it stopped, or out of file descriptors? its log says)");
  }
  JoinReply reply;
  const ssize_t got = ::recv(socket.get(), &reply, sizeof reply, MSG_DONTWAIT);
  if (got != static_cast<ssize_t>(sizeof reply) || reply.magic != kRegistryMagic) {
    if (!sent) return tl::make_unexpected(sent.error());
    return fail(Errc::no_daemon, std::string("the statebus daemon ended the connection to its registry (") +
                                     kRegistrySocket + ") without an answer; is it stopping?");
  }
  reply.message[sizeof reply.message - 1] = '\0';
  if (reply.status != JoinStatus::joined) return fail(static_cast<Errc>(reply.code), reply.message);
  g_connection.store(socket.release(), std::memory_order_release);
  set_process_slot(reply.slot);
  return reply.slot;
}

bool daemon_left() noexcept {
  const int fd = g_connection.load(std::memory_order_acquire);
  if (fd < 0) return false;
  pollfd end{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&end, 1, 0) <= 0) return false;
  return (end.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}

}  // namespace statebus::detail
