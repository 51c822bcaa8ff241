#include "process_registry.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "statebus/bus/names.hpp"
#include "statebus/internal/bus_access.hpp"
#include "statebus/internal/member_groups.hpp"
#include "statebus/internal/paths.hpp"
#include "statebus/internal/registry_protocol.hpp"

namespace statebus::detail {
namespace {

// What an epoll event is about: the kind in the top byte, an index below.
enum Kind : std::uint64_t { kListener = 1, kWake = 2, kPending = 3, kPidfd = 4 };
constexpr std::uint64_t tag(Kind kind, std::uint64_t index) noexcept { return (std::uint64_t{kind} << 56) | index; }
constexpr Kind kind_of(std::uint64_t tag) noexcept { return static_cast<Kind>(tag >> 56); }
constexpr std::uint64_t index_of(std::uint64_t tag) noexcept { return tag & ((std::uint64_t{1} << 56) - 1); }

// Connections that asked nothing yet; beyond this many, new ones are closed.
constexpr std::size_t kMaxPending = 256;

bool watch(int epoll, int fd, std::uint64_t what) noexcept {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = what;
  return ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0;
}

void unwatch(int epoll, int fd) noexcept { ::epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nullptr); }

void send_reply(int connection, const JoinReply& reply) noexcept {
  // A process that died meanwhile misses its answer; its pidfd says so.
  (void)::send(connection, &reply, sizeof reply, MSG_NOSIGNAL | MSG_DONTWAIT);
}

// The other end of a connection has closed it.
bool hung_up(const UniqueFd& connection) noexcept {
  pollfd end{connection.get(), POLLRDHUP, 0};
  return ::poll(&end, 1, 0) == 1 && (end.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

// A pidfd is readable once its process has exited.
bool readable(const UniqueFd& pidfd) noexcept {
  pollfd exited{pidfd.get(), POLLIN, 0};
  return pidfd.valid() && ::poll(&exited, 1, 0) == 1;
}

std::string node_of(const std::string& runtime) {
  const std::string prefix = runtime_name("");
  return runtime.rfind(prefix, 0) == 0 ? runtime.substr(prefix.size()) : std::string();
}

}  // namespace

Result<std::unique_ptr<ProcessRegistry>> ProcessRegistry::open(std::shared_ptr<spdlog::logger> log) {
  set_process_slot(kDaemonSlot);
  // The caller holds the daemon lock: a socket file here is a dead daemon's.
  ::unlink(kRegistrySocket);
  UniqueFd listener(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener.valid()) return fail(Errc::system_error, "cannot make the registry's socket: " + errno_text(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, kRegistrySocket, sizeof address.sun_path - 1);
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::chmod(kRegistrySocket, kBusFileMode) != 0 || ::listen(listener.get(), 128) != 0) {
    return fail(errno == EACCES ? Errc::not_permitted : Errc::system_error,
                std::string("cannot open the registry's socket ") + kRegistrySocket + ": " + errno_text(errno));
  }
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epoll.valid() || !wake.valid() || !watch(epoll.get(), listener.get(), tag(kListener, 0)) ||
      !watch(epoll.get(), wake.get(), tag(kWake, 0))) {
    return fail(Errc::system_error, "cannot watch the registry's socket: " + errno_text(errno));
  }
  return std::unique_ptr<ProcessRegistry>(
      new ProcessRegistry(std::move(log), std::move(listener), std::move(epoll), std::move(wake)));
}

ProcessRegistry::ProcessRegistry(std::shared_ptr<spdlog::logger> log, UniqueFd listener, UniqueFd epoll, UniqueFd wake)
    : log_(std::move(log)), listener_(std::move(listener)), epoll_(std::move(epoll)), wake_(std::move(wake)) {
  reserve();
}

bool ProcessRegistry::reserve() noexcept {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return false;
  reserve_[0].reset(ends[0]);
  reserve_[1].reset(ends[1]);
  return true;
}

ProcessRegistry::~ProcessRegistry() {
  close_all();
  ::unlink(kRegistrySocket);
}

std::vector<ProcessRegistry::Death> ProcessRegistry::wait(std::chrono::milliseconds timeout) {
  if (!listening_) {
    // Out of descriptors a while ago: listen again once one is spare.
    if (reserve()) listening_ = watch(epoll_.get(), listener_.get(), tag(kListener, 0));
  }
  std::array<epoll_event, 32> events{};
  const int ready =
      ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), static_cast<int>(timeout.count()));
  std::vector<Death> deaths;
  for (int i = 0; i < ready; ++i) {
    const std::uint64_t what = events[static_cast<std::size_t>(i)].data.u64;
    switch (kind_of(what)) {
      case kListener: accept_all(); break;
      case kWake: {
        std::uint64_t count = 0;
        (void)!::read(wake_.get(), &count, sizeof count);
        break;
      }
      case kPending: read_request(index_of(what)); break;
      case kPidfd: {
        std::lock_guard<std::mutex> guard(mutex_);
        Slot& slot = slots_[index_of(what)];
        if (slot.state != Slot::State::alive) break;
        // The kernel's word: every thread of that process has exited.
        slot.state = Slot::State::dead;
        unwatch(epoll_.get(), slot.pidfd.get());
        deaths.push_back({static_cast<std::uint32_t>(index_of(what)), slot.node, slot.pid, Clock::now()});
        deaths_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
    }
  }
  answer_parked();
  return deaths;
}

void ProcessRegistry::wake() noexcept {
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void ProcessRegistry::accept_all() {
  for (;;) {
    UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!connection.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        refuse_for_want_of_descriptors();
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log_->warn("cannot let a process join the bus: {}", errno_text(errno));
      }
      return;
    }
    said_out_of_fds_ = false;
    std::lock_guard<std::mutex> guard(mutex_);
    if (pending_.size() >= kMaxPending) {
      log_->warn("{} processes connected to the registry without asking to join; closing a new one", pending_.size());
      continue;
    }
    const std::uint64_t id = next_pending_++;
    if (!watch(epoll_.get(), connection.get(), tag(kPending, id))) continue;
    pending_.emplace(id, std::move(connection));
  }
}

// Out of descriptors: the spare one makes room to accept the newcomer and
// tell it why it cannot join (instead of leaving it to wait in vain).
void ProcessRegistry::refuse_for_want_of_descriptors() {
  reserve_[0].reset();
  reserve_[1].reset();
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  const std::string why =
      "the statebus daemon is out of file descriptors (its limit is " + std::to_string(limit.rlim_cur) +
      "): it cannot watch one more process; raise its limit (ulimit -n) or end processes on the bus";
  if (!said_out_of_fds_) log_->warn("a process could not join the bus: {}", why);
  said_out_of_fds_ = true;
  UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (connection.valid()) {
    refuse(connection.get(), Errc::out_of_resources, why);
    // Its request read first (the pidfd it carries cannot be taken): closed
    // with a message unread, the connection would hide the answer behind a reset.
    JoinRequest request;
    (void)::recv(connection.get(), &request, sizeof request, MSG_DONTWAIT);
  }
  connection.reset();
  if (!reserve()) {
    // Nothing spare: stop listening (the newcomers wait) until descriptors are free again.
    unwatch(epoll_.get(), listener_.get());
    listening_ = false;
  }
}

void ProcessRegistry::read_request(std::uint64_t id) {
  std::unique_lock<std::mutex> guard(mutex_);
  auto found = pending_.find(id);
  if (found == pending_.end()) return;
  JoinRequest request;
  iovec data{&request, sizeof request};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  const ssize_t got = ::recvmsg(found->second.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  UniqueFd connection = std::move(found->second);
  pending_.erase(found);
  unwatch(epoll_.get(), connection.get());
  std::vector<UniqueFd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  if (got <= 0) return;  // it left before asking
  if (got != static_cast<ssize_t>(sizeof request) || request.magic != kRegistryMagic) {
    return refuse(connection.get(), Errc::invalid_argument,
                  "this is not a statebus daemon's registry request; only statebus processes join the bus");
  }
  if (request.version != kRegistryVersion) {
    return refuse(connection.get(), Errc::invalid_argument,
                  "this process speaks registry version " + std::to_string(request.version) +
                      " and the daemon version " + std::to_string(kRegistryVersion) +
                      ": run the daemon and the process from the same statebus version");
  }
  if ((message.msg_flags & MSG_CTRUNC) != 0 && fds.empty()) {
    return refuse(connection.get(), Errc::out_of_resources,
                  "the statebus daemon is out of file descriptors: it could not take this process's pidfd; raise "
                  "its limit (ulimit -n) or end processes on the bus");
  }
  if (fds.size() != 1 || (message.msg_flags & MSG_CTRUNC) != 0) {
    return refuse(connection.get(), Errc::invalid_argument,
                  "a process must hand the daemon one pidfd of itself to join the bus");
  }
  request.node[sizeof request.node - 1] = '\0';
  if (auto valid = validate_node_name(request.node); !valid) {
    return refuse(connection.get(), Errc::invalid_argument, valid.error().message());
  }
  ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(connection.get(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) peer.pid = 0;
  const bool in_bus_group = peer_in_group(connection.get(), ::getegid());
  admit_or_park(std::move(connection), std::move(fds.front()), request, peer.pid, in_bus_group);
}

// Called with mutex_ held.
void ProcessRegistry::admit_or_park(UniqueFd connection, UniqueFd pidfd, const JoinRequest& request, pid_t peer,
                                    bool in_bus_group) {
  const std::string node = request.node;
  // A process that gave up waiting (its join timed out) has closed its end:
  // it is not given a place it would never use.
  if (hung_up(connection)) return;
  // A process of the same name that died a moment ago (its pidfd is
  // readable, or its removal from RouDi is under way) goes first.
  const bool predecessor_dying =
      removing_.count(node) != 0 || std::any_of(slots_.begin(), slots_.end(), [&](const Slot& s) {
        return s.state != Slot::State::free && s.node == node && (s.state == Slot::State::dead || readable(s.pidfd));
      });
  if (predecessor_dying) {
    parked_.push_back({std::move(connection), std::move(pidfd), node, request.pid, peer, in_bus_group});
    return;
  }
  auto taken = [&](const std::string& name) {
    if (std::find(own_nodes_.begin(), own_nodes_.end(), name) != own_nodes_.end()) return true;
    return std::any_of(slots_.begin(), slots_.end(),
                       [&](const Slot& s) { return s.state != Slot::State::free && s.node == name; });
  };
  if (taken(node)) {
    return refuse(connection.get(), Errc::name_in_use,
                  "another process is on the bus as '" + node + "'; choose another name");
  }
  JoinReply reply;
  reply.status = JoinStatus::joined;
  if (peer == ::getpid()) {
    // A node of the daemon's own process: it shares the daemon's place,
    // which outlives every repair.
    own_nodes_.push_back(node);
    reply.slot = kDaemonSlot;
    send_reply(connection.get(), reply);
    slots_[kDaemonSlot].connection = std::move(connection);
    return;
  }
  const std::uint32_t index = free_slot();
  if (index == kNoSlot) {
    return refuse(connection.get(), Errc::out_of_resources,
                  "all " + std::to_string(kProcessSlots - 2) +
                      " places of the bus are taken by live processes: end some of them first");
  }
  if (!watch(epoll_.get(), pidfd.get(), tag(kPidfd, index))) {
    return refuse(connection.get(), Errc::out_of_resources,
                  "the daemon cannot watch one more process: " + errno_text(errno));
  }
  Slot& slot = slots_[index];
  slot.state = Slot::State::alive;
  slot.node = node;
  slot.pid = request.pid;
  slot.in_bus_group = in_bus_group;
  slot.pidfd = std::move(pidfd);
  reply.slot = index;
  send_reply(connection.get(), reply);
  slot.connection = std::move(connection);
}

void ProcessRegistry::answer_parked() {
  std::lock_guard<std::mutex> guard(mutex_);
  if (!parked_ready_) return;
  parked_ready_ = false;
  std::vector<Parked> parked = std::move(parked_);
  parked_.clear();
  for (Parked& p : parked) {
    JoinRequest request;
    request.pid = p.pid;
    std::strncpy(request.node, p.node.c_str(), sizeof request.node - 1);
    admit_or_park(std::move(p.connection), std::move(p.pidfd), request, p.peer, p.in_bus_group);
  }
}

void ProcessRegistry::refuse(int connection, Errc code, const std::string& message) {
  JoinReply reply;
  reply.status = JoinStatus::refused;
  reply.code = static_cast<std::uint32_t>(code);
  std::strncpy(reply.message, message.c_str(), sizeof reply.message - 1);
  send_reply(connection, reply);
}

std::uint32_t ProcessRegistry::free_slot() const {
  for (std::uint32_t i = kDaemonSlot + 1; i < kProcessSlots; ++i) {
    if (slots_[i].state == Slot::State::free) return i;
  }
  return kNoSlot;
}

void ProcessRegistry::repaired(const Death& death) {
  std::lock_guard<std::mutex> guard(mutex_);
  Slot& slot = slots_[death.slot];
  slot.pidfd.reset();
  slot.connection.reset();
  slot.state = Slot::State::free;
  ++removing_[slot.node];
  removals_.push_back(runtime_name(slot.node));
  slot.node.clear();
  removals_due_.notify_all();
}

void ProcessRegistry::close_all() noexcept {
  std::lock_guard<std::mutex> guard(mutex_);
  for (Slot& slot : slots_) slot.connection.reset();
  pending_.clear();
  parked_.clear();
}

bool ProcessRegistry::admit(const std::string& runtime, pid_t pid) {
  const std::string node = node_of(runtime);
  std::lock_guard<std::mutex> guard(mutex_);
  // The node must have joined, and the registration come from its process
  // (as its own PID namespace numbers it): a registration in another
  // process's name would make RouDi remove that live process's ports.
  const bool joined =
      !node.empty() &&
      ((pid == ::getpid() && std::find(own_nodes_.begin(), own_nodes_.end(), node) != own_nodes_.end()) ||
       std::any_of(slots_.begin(), slots_.end(),
                   [&](const Slot& s) { return s.state == Slot::State::alive && s.node == node && s.pid == pid; }));
  if (!joined) {
    if (!refused_.insert(runtime).second) return false;  // said once per runtime
    log_->warn("refused the iceoryx runtime '{}': it did not join the bus through the daemon's registry ({}), so "
               "its death could never be proven; only statebus nodes (Node::connect) may use this bus",
               runtime, kRegistrySocket);
    return false;
  }
  ++registering_[runtime];
  return true;
}

void ProcessRegistry::admitted(const std::string& runtime) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto found = registering_.find(runtime);
  if (found != registering_.end() && --found->second == 0) registering_.erase(found);
}

bool ProcessRegistry::in_bus_group(const std::string& runtime) const {
  const std::string node = node_of(runtime);
  std::lock_guard<std::mutex> guard(mutex_);
  if (std::find(own_nodes_.begin(), own_nodes_.end(), node) != own_nodes_.end()) return true;
  return std::any_of(slots_.begin(), slots_.end(),
                     [&](const Slot& s) { return s.state == Slot::State::alive && s.node == node && s.in_bus_group; });
}

std::vector<std::string> ProcessRegistry::wait_for_removals() {
  std::unique_lock<std::mutex> guard(mutex_);
  const auto timeout = retries_.empty() ? std::chrono::milliseconds(100) : std::chrono::milliseconds(10);
  removals_due_.wait_for(guard, timeout, [&] { return !removals_.empty(); });
  std::vector<std::string> due(removals_.begin(), removals_.end());
  removals_.clear();
  due.insert(due.end(), retries_.begin(), retries_.end());
  retries_.clear();
  return due;
}

void ProcessRegistry::wake_removals() noexcept { removals_due_.notify_all(); }

void ProcessRegistry::removed(const std::string& runtime, bool found) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    // Not registered yet, but its registration is under way: remove it once done.
    if (!found && registering_.count(runtime) != 0) {
      retries_.push_back(runtime);
      return;
    }
    const std::string node = node_of(runtime);
    auto removing = removing_.find(node);
    if (removing != removing_.end() && --removing->second == 0) removing_.erase(removing);
    parked_ready_ = true;
  }
  wake();
}

std::vector<ProcessRegistry::Member> ProcessRegistry::members() const {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<Member> members;
  for (const std::string& node : own_nodes_) members.push_back({kDaemonSlot, node, ::getpid()});
  for (std::uint32_t i = kDaemonSlot + 1; i < kProcessSlots; ++i) {
    if (slots_[i].state == Slot::State::alive) members.push_back({i, slots_[i].node, slots_[i].pid});
  }
  return members;
}

}  // namespace statebus::detail
