// rpcbench: iceoryx 2.0.3 round trip, native client/server vs. two pub/sub channels.
//
// One binary, several roles:
//   rpcbench bench  [--server-cpu N] [--client-cpu M] [--yield] [--tag T] [--quick]
//   rpcbench killtest cs|ps
//   rpcbench dupserver
// The top-level process makes itself a private mount namespace (fresh tmpfs on /tmp and /dev/shm,
// so /tmp/roudi, the lock files and /dev/shm/iceoryx_mgmt are its own), embeds RouDi, then
// fork+execs itself as "server" and "client" children and waits for them.
#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_hoofs/posix_wrapper/posix_access_rights.hpp"
#include "iceoryx_posh/iceoryx_posh_config.hpp"
#include "iceoryx_posh/internal/roudi/roudi.hpp"
#include "iceoryx_posh/popo/rpc_header.hpp"
#include "iceoryx_posh/popo/untyped_client.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_server.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/roudi/iceoryx_roudi_components.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {
constexpr uint64_t QUEUE_CAPACITY = 16U;
constexpr uint32_t SIZES[] = {64U, 4096U, 1024U * 1024U};

enum Mode : uint32_t { BUSY = 0, BLOCK = 1, QUIT = 2, HANG = 3 };

struct Msg  // at the start of every request and response payload
{
  uint64_t seq;
  uint32_t mode;
  uint32_t size;
};

bool g_yield = false;
inline void spinPause() {
  if (g_yield) {
    sched_yield();
  }
}

void die(const char* what) {
  perror(what);
  std::exit(2);
}

void pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) die("sched_setaffinity");
}

void quietLogs() { iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn); }

// ---- the ports, identical options for both transports -------------------------------------------
const iox::capro::ServiceDescription CS_SERVICE{"Bench", "Rpc", "ClientServer"};
const iox::capro::ServiceDescription REQ_TOPIC{"Bench", "Rpc", "Request"};
const iox::capro::ServiceDescription RSP_TOPIC{"Bench", "Rpc", "Response"};

iox::popo::ClientOptions clientOptions() {
  iox::popo::ClientOptions o;
  o.responseQueueCapacity = QUEUE_CAPACITY;
  o.responseQueueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  o.serverTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return o;
}
iox::popo::ServerOptions serverOptions() {
  iox::popo::ServerOptions o;
  o.requestQueueCapacity = QUEUE_CAPACITY;
  o.requestQueueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  o.clientTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return o;
}
iox::popo::PublisherOptions publisherOptions() {
  iox::popo::PublisherOptions o;
  o.historyCapacity = 0U;
  o.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return o;
}
iox::popo::SubscriberOptions subscriberOptions() {
  iox::popo::SubscriberOptions o;
  o.queueCapacity = QUEUE_CAPACITY;
  o.historyRequest = 0U;
  o.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  return o;
}

// ---- server role --------------------------------------------------------------------------------
int runServer(int cpu) {
  pin(cpu);
  quietLogs();
  iox::runtime::PoshRuntime::initRuntime("rpcbench-server");
  iox::popo::UntypedServer server(CS_SERVICE, serverOptions());
  iox::popo::UntypedSubscriber reqSub(REQ_TOPIC, subscriberOptions());
  iox::popo::UntypedPublisher rspPub(RSP_TOPIC, publisherOptions());
  iox::popo::WaitSet<> ws;
  ws.attachState(server, iox::popo::ServerState::HAS_REQUEST).or_else([](auto) { die("attach server"); });
  ws.attachState(reqSub, iox::popo::SubscriberState::HAS_DATA).or_else([](auto) { die("attach sub"); });

  uint32_t mode = BLOCK;
  bool quit = false;
  auto handleCs = [&]() -> bool {
    bool got = false;
    server.take().and_then([&](const void* req) {
      got = true;
      const Msg in = *static_cast<const Msg*>(req);
      if (in.mode == HANG) {
        fprintf(stderr, "server: got HANG request, sleeping forever (pid %d)\n", getpid());
        for (;;) pause();
      }
      auto* hdr = iox::popo::RequestHeader::fromPayload(req);
      server.loan(hdr, in.size, alignof(Msg))
          .and_then([&](void* rsp) {
            *static_cast<Msg*>(rsp) = in;
            server.send(rsp).or_else([](auto) { fprintf(stderr, "server: send failed\n"); });
          })
          .or_else([](auto) { fprintf(stderr, "server: loan failed\n"); });
      server.releaseRequest(req);
      if (in.mode == QUIT)
        quit = true;
      else
        mode = in.mode;
    });
    return got;
  };
  auto handlePs = [&]() -> bool {
    bool got = false;
    reqSub.take().and_then([&](const void* req) {
      got = true;
      const Msg in = *static_cast<const Msg*>(req);
      if (in.mode == HANG) {
        fprintf(stderr, "server: got HANG message, sleeping forever (pid %d)\n", getpid());
        for (;;) pause();
      }
      rspPub.loan(in.size, alignof(Msg))
          .and_then([&](void* rsp) {
            *static_cast<Msg*>(rsp) = in;
            rspPub.publish(rsp);
          })
          .or_else([](auto) { fprintf(stderr, "server: pub loan failed\n"); });
      reqSub.release(req);
      if (in.mode == QUIT)
        quit = true;
      else
        mode = in.mode;
    });
    return got;
  };

  while (!quit) {
    if (mode == BLOCK) {
      ws.wait();
      while (handleCs() || handlePs()) {
      }
    } else {
      if (!(handleCs() | handlePs())) spinPause();
    }
  }
  return 0;
}

// ---- client side helpers ------------------------------------------------------------------------
struct ClientSide {
  iox::popo::UntypedClient client{CS_SERVICE, clientOptions()};
  iox::popo::UntypedPublisher reqPub{REQ_TOPIC, publisherOptions()};
  iox::popo::UntypedSubscriber rspSub{RSP_TOPIC, subscriberOptions()};
  iox::popo::WaitSet<> ws;
  uint64_t seq = 0;

  ClientSide() {
    // attach BEFORE the first request is sent (iceoryx #1855)
    ws.attachState(client, iox::popo::ClientState::HAS_RESPONSE).or_else([](auto) { die("attach client"); });
    ws.attachState(rspSub, iox::popo::SubscriberState::HAS_DATA).or_else([](auto) { die("attach sub"); });
  }

  bool waitConnected(double seconds) {
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      if (client.getConnectionState() == iox::ConnectionState::CONNECTED && reqPub.hasSubscribers() &&
          rspSub.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  bool sendCs(uint32_t mode, uint32_t size) {
    bool ok = false;
    client.loan(size, alignof(Msg))
        .and_then([&](void* p) {
          iox::popo::RequestHeader::fromPayload(p)->setSequenceId(static_cast<int64_t>(seq));
          *static_cast<Msg*>(p) = Msg{seq, mode, size};
          client.send(p).and_then([&] { ok = true; }).or_else([](auto e) {
            fprintf(stderr, "client: send error %s\n", iox::popo::asStringLiteral(e));
          });
        })
        .or_else([](auto) { fprintf(stderr, "client: loan failed\n"); });
    return ok;
  }
  bool sendPs(uint32_t mode, uint32_t size) {
    bool ok = false;
    reqPub.loan(size, alignof(Msg))
        .and_then([&](void* p) {
          *static_cast<Msg*>(p) = Msg{seq, mode, size};
          reqPub.publish(p);
          ok = true;
        })
        .or_else([](auto) { fprintf(stderr, "client: pub loan failed\n"); });
    return ok;
  }
  // returns true when the response with sequence number `seq` was taken
  bool tryTakeCs() {
    bool match = false;
    while (!match) {
      auto r = client.take();
      if (r.has_error()) break;
      const void* p = r.value();
      auto* hdr = iox::popo::ResponseHeader::fromPayload(p);
      match = (hdr->getSequenceId() == static_cast<int64_t>(seq)) && static_cast<const Msg*>(p)->seq == seq;
      client.releaseResponse(p);
    }
    return match;
  }
  bool tryTakePs() {
    bool match = false;
    while (!match) {
      auto r = rspSub.take();
      if (r.has_error()) break;
      const void* p = r.value();
      match = static_cast<const Msg*>(p)->seq == seq;
      rspSub.release(p);
    }
    return match;
  }

  // one call; returns latency in ns
  uint64_t call(bool cs, uint32_t mode, uint32_t size) {
    ++seq;
    auto t0 = Clock::now();
    if (!(cs ? sendCs(mode, size) : sendPs(mode, size))) std::exit(3);
    if (mode == BLOCK) {
      for (;;) {
        if (cs ? tryTakeCs() : tryTakePs()) break;
        ws.wait();
      }
    } else {
      while (!(cs ? tryTakeCs() : tryTakePs())) spinPause();
    }
    auto t1 = Clock::now();
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
};

double pct(std::vector<uint64_t>& v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[i]) / 1000.0;
}

int runClient(int cpu, const std::string& tag, bool quick) {
  pin(cpu);
  quietLogs();
  iox::runtime::PoshRuntime::initRuntime("rpcbench-client");
  ClientSide c;
  if (!c.waitConnected(10.0)) {
    fprintf(stderr, "client: not connected\n");
    return 4;
  }
  const uint32_t styles[] = {BUSY, BLOCK};
  for (uint32_t style : styles) {
    for (uint32_t size : SIZES) {
      const uint32_t n = quick ? 1000U : (size >= 1024U * 1024U ? 2000U : 20000U);
      const uint32_t chunks = 10U;
      const uint32_t perChunk = n / chunks;
      for (int w = 0; w < 500; ++w) {
        c.call(true, style, size);
        c.call(false, style, size);
      }
      std::vector<uint64_t> lat[2];
      double elapsed[2] = {0, 0};
      for (uint32_t k = 0; k < chunks; ++k) {
        for (int j = 0; j < 2; ++j) {
          // ABBA: chunk k even -> CS then PS, odd -> PS then CS
          const int t = (k % 2 == 0) ? j : 1 - j;  // t==0: client/server, t==1: pub/sub
          auto t0 = Clock::now();
          for (uint32_t i = 0; i < perChunk; ++i) lat[t].push_back(c.call(t == 0, style, size));
          elapsed[t] += std::chrono::duration<double>(Clock::now() - t0).count();
        }
      }
      for (int t = 0; t < 2; ++t) {
        const double mean = static_cast<double>(n) / elapsed[t];
        const double p50 = pct(lat[t], 0.50), p99 = pct(lat[t], 0.99), p999 = pct(lat[t], 0.999);
        const double mx = static_cast<double>(lat[t].back()) / 1000.0;
        printf("RESULT,%s,%s,%u,%s,%u,%.2f,%.2f,%.2f,%.1f,%.0f\n", tag.c_str(),
               style == BUSY ? (g_yield ? "busy+yield" : "busy") : "waitset", size,
               t == 0 ? "client/server" : "pub/sub", n, p50, p99, p999, mx, mean);
        fflush(stdout);
      }
    }
  }
  // tell the server to quit (it answers first)
  c.call(true, QUIT, 64);
  return 0;
}

// ---- kill test client ---------------------------------------------------------------------------
const char* connName(iox::ConnectionState s) {
  switch (s) {
    case iox::ConnectionState::NOT_CONNECTED: return "NOT_CONNECTED";
    case iox::ConnectionState::CONNECT_REQUESTED: return "CONNECT_REQUESTED";
    case iox::ConnectionState::CONNECTED: return "CONNECTED";
    case iox::ConnectionState::DISCONNECT_REQUESTED: return "DISCONNECT_REQUESTED";
    case iox::ConnectionState::WAIT_FOR_OFFER: return "WAIT_FOR_OFFER";
  }
  return "?";
}
const char* subName(iox::SubscribeState s) {
  switch (s) {
    case iox::SubscribeState::NOT_SUBSCRIBED: return "NOT_SUBSCRIBED";
    case iox::SubscribeState::SUBSCRIBE_REQUESTED: return "SUBSCRIBE_REQUESTED";
    case iox::SubscribeState::SUBSCRIBED: return "SUBSCRIBED";
    case iox::SubscribeState::UNSUBSCRIBE_REQUESTED: return "UNSUBSCRIBE_REQUESTED";
    case iox::SubscribeState::WAIT_FOR_OFFER: return "WAIT_FOR_OFFER";
  }
  return "?";
}

int runKillClient(bool cs, pid_t serverPid) {
  quietLogs();
  iox::runtime::PoshRuntime::initRuntime("rpcbench-killclient");
  ClientSide c;
  if (!c.waitConnected(10.0)) return 4;
  for (int i = 0; i < 10; ++i) c.call(cs, BLOCK, 64);
  printf("KILL[%s]: 10 normal calls done; sending a request the server will never answer\n", cs ? "cs" : "ps");
  ++c.seq;
  cs ? c.sendCs(HANG, 64) : c.sendPs(HANG, 64);
  auto n0 = c.ws.timedWait(iox::units::Duration::fromMilliseconds(300));
  printf("KILL: before kill, timedWait(300ms) -> %zu notifications\n", n0.size());
  auto tk = Clock::now();
  kill(serverPid, SIGKILL);
  printf("KILL: SIGKILLed server pid %d\n", serverPid);
  for (int i = 0; i < 8; ++i) {
    auto tw = Clock::now();
    auto v = c.ws.timedWait(iox::units::Duration::fromMilliseconds(500));
    double waited = std::chrono::duration<double, std::milli>(Clock::now() - tw).count();
    double since = std::chrono::duration<double, std::milli>(Clock::now() - tk).count();
    bool resp = cs ? c.tryTakeCs() : c.tryTakePs();
    printf("KILL: t=+%6.0f ms timedWait -> %zu notif (waited %.0f ms); response=%d; client conn=%s "
           "reqPub.hasSubscribers=%d rspSub=%s server-side-state-visible: hasMissedResponses=%d\n",
           since, v.size(), waited, resp, connName(c.client.getConnectionState()), c.reqPub.hasSubscribers(),
           subName(c.rspSub.getSubscriptionState()), c.client.hasMissedResponses());
  }
  // can we still send?
  ++c.seq;
  bool okCs = c.sendCs(BLOCK, 64);
  ++c.seq;
  bool okPs = c.sendPs(BLOCK, 64);
  printf("KILL: after ~4 s: client.send -> %s, reqPub.publish -> %s (publish returns void)\n", okCs ? "ok" : "error",
         okPs ? "no error reported" : "loan error");
  return 0;
}

int runDupServer() {
  quietLogs();
  iox::runtime::PoshRuntime::initRuntime("rpcbench-dupserver");
  printf("DUP: creating a second server for the same service...\n");
  fflush(stdout);
  iox::popo::UntypedServer server(CS_SERVICE, serverOptions());
  printf("DUP: constructor returned; isOffered=%d\n", server.isOffered());
  fflush(stdout);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  printf("DUP: still alive after 300 ms\n");
  return 0;
}

// ---- top level: private namespace + embedded RouDi + children -----------------------------------
void privateNamespace() {
  if (unshare(CLONE_NEWNS) != 0) die("unshare(CLONE_NEWNS)");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("mount private /");
  if (mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777") != 0) die("mount /tmp");
  if (mount("tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777") != 0) die("mount /dev/shm");
}

pid_t spawn(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  return pid;
}

int waitFor(pid_t pid, double timeoutS, const char* name) {
  auto end = Clock::now() + std::chrono::duration<double>(timeoutS);
  int st = 0;
  while (true) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (r < 0) return -1;
    if (Clock::now() > end) {
      fprintf(stderr, "%s: timeout, SIGTERM\n", name);
      kill(pid, SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      if (waitpid(pid, &st, WNOHANG) != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(st))
    fprintf(stderr, "[%s pid %d exited with status %d]\n", name, pid, WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    fprintf(stderr, "[%s pid %d killed by signal %d]\n", name, pid, WTERMSIG(st));
  return st;
}

int top(int argc, char** argv) {
  const std::string cmd = argv[1];
  int serverCpu = -1, clientCpu = -1;
  std::string tag = "run";
  bool quick = false;
  std::string kt = "cs";
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--server-cpu")
      serverCpu = atoi(argv[++i]);
    else if (a == "--client-cpu")
      clientCpu = atoi(argv[++i]);
    else if (a == "--yield")
      g_yield = true;
    else if (a == "--tag")
      tag = argv[++i];
    else if (a == "--quick")
      quick = true;
    else if (a == "cs" || a == "ps")
      kt = a;
  }

  privateNamespace();  // still single-threaded here
  quietLogs();

  iox::RouDiConfig_t config;
  iox::mepoo::MePooConfig m;
  m.addMemPool({256U, 2000U});
  m.addMemPool({8U * 1024U, 200U});
  m.addMemPool({1024U * 1024U + 4096U, 24U});
  const auto group = iox::posix::PosixGroup::getGroupOfCurrentProcess().getName();
  config.m_sharedMemorySegments.push_back({group, group, m});
  auto components = std::make_unique<iox::roudi::IceOryxRouDiComponents>(config);
  auto roudi = std::make_unique<iox::roudi::RouDi>(
      components->rouDiMemoryManager, components->portManager,
      iox::roudi::RouDi::RoudiStartupParameters{
          iox::roudi::MonitoringMode::ON, true, iox::roudi::RouDi::RuntimeMessagesThreadStart::IMMEDIATE,
          iox::version::CompatibilityCheckLevel::PATCH, iox::units::Duration::fromMilliseconds(500)});

  const std::string y = g_yield ? "--yield" : "";
  int rc = 0;
  if (cmd == "bench") {
    pid_t s = spawn({"rpcbench", "server", std::to_string(serverCpu), y});
    pid_t c = spawn({"rpcbench", "client", std::to_string(clientCpu), tag, quick ? "1" : "0", y});
    int cst = waitFor(c, 900.0, "client");
    waitFor(s, 5.0, "server");
    rc = (WIFEXITED(cst) && WEXITSTATUS(cst) == 0) ? 0 : 1;
  } else if (cmd == "killtest") {
    pid_t s = spawn({"rpcbench", "server", "-1"});
    pid_t c = spawn({"rpcbench", "killclient", kt, std::to_string(s)});
    waitFor(s, 60.0, "server");
    waitFor(c, 60.0, "killclient");
  } else if (cmd == "dupserver") {
    pid_t s = spawn({"rpcbench", "server", "-1"});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    pid_t d = spawn({"rpcbench", "dup"});
    waitFor(d, 20.0, "second server");
    kill(s, SIGTERM);
    waitFor(s, 5.0, "server");
    // let RouDi's monitor drop the dead processes; otherwise its destructor's SIGTERM gets ESRCH and asserts
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  }
  roudi.reset();
  components.reset();
  return rc;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s bench|killtest cs|ps|dupserver [options]\n", argv[0]);
    return 1;
  }
  const std::string role = argv[1];
  if (role == "server") {
    g_yield = (argc > 3 && std::string(argv[3]) == "--yield");
    return runServer(atoi(argv[2]));
  }
  if (role == "client") {
    g_yield = (argc > 5 && std::string(argv[5]) == "--yield");
    return runClient(atoi(argv[2]), argv[3], std::string(argv[4]) == "1");
  }
  if (role == "killclient") return runKillClient(std::string(argv[2]) == "cs", static_cast<pid_t>(atoi(argv[3])));
  if (role == "dup") return runDupServer();
  return top(argc, argv);
}
