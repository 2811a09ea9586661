// Helpers for the cluster tests: fenix-chat nodes as child processes (start,
// kill, stop, continue, restart), a tiny HTTP client for /api/session and
// /metrics, free ports, polling with deadlines, and a chat user that keeps
// the presence list of its room the way the JS Presence helper does.
//
//   nodes n;                                   // kills leftovers at exit
//   auto& a = n.start("a", {});                // fenix-chat --node-port ...
//   auto& b = n.start("b", {a.node_address()});
//   REQUIRE(poll_until([&] { return a.cluster_nodes() == 2; }, 10s));
//   chat_user alice{ctx, a, "alice"};
//   REQUIRE(alice.join("room:lobby"));
//   REQUIRE(alice.wait([&] { return alice.users() == set{"alice"}; }, 5s));
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "fenix/client.hpp"

extern char** environ;

namespace cluster_test {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace tr = fenix::client;
using clock_type = std::chrono::steady_clock;

/// Calls `pred` every 20 ms until it is true or `timeout` passed.
inline bool poll_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (clock_type::now() >= deadline)
      return false;
    std::this_thread::sleep_for(20ms);
  }
}

/// Checks `pred` every 20 ms for `duration`; false as soon as it fails
/// (for "stays so" checks, never for synchronisation).
inline bool holds_for(const std::function<bool()>& pred,
                      std::chrono::milliseconds duration) {
  auto end = clock_type::now() + duration;
  while (clock_type::now() < end) {
    if (!pred())
      return false;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

/// Directory of this test binary (build/bin): where fenix-chat lives.
inline std::string bin_dir() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return ".";
  std::string path{buf, static_cast<std::size_t>(n)};
  return path.substr(0, path.rfind('/'));
}

/// A fresh temporary directory, removed by the destructor.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/fenix-cluster-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
      throw std::runtime_error("mkdtemp");
    path = tmpl;
  }
  ~temp_dir() {
    std::string cmd = "rm -rf '" + path + "'";
    [[maybe_unused]] auto rc = std::system(cmd.c_str());
  }
};

/// A TCP port that was free a moment ago (bound to port 0, then closed).
inline std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct http_reply {
  int status = 0;  // 0: no answer
  std::string body;
};

/// One HTTP/1.1 request to 127.0.0.1:port (Connection: close), 5 s max.
inline http_reply http(std::uint16_t port, const std::string& method,
                       const std::string& path, const std::string& body = {}) {
  http_reply r;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return r;
  }
  std::ostringstream req;
  req << method << ' ' << path << " HTTP/1.1\r\nHost: 127.0.0.1:" << port
      << "\r\nConnection: close\r\nContent-Type: application/json\r\n"
      << "Content-Length: " << body.size() << "\r\n\r\n"
      << body;
  auto text = req.str();
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL)
      != static_cast<ssize_t>(text.size())) {
    ::close(fd);
    return r;
  }
  std::string in;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (in.rfind("HTTP/1.1 ", 0) != 0)
    return r;
  r.status = std::atoi(in.c_str() + 9);
  auto sep = in.find("\r\n\r\n");
  if (sep != std::string::npos)
    r.body = in.substr(sep + 4);
  return r;
}

/// A fenix-chat process clustered on 127.0.0.1.
class node {
public:
  node(std::string name, std::string dir, std::uint16_t node_port)
    : name_(std::move(name)),
      dir_(std::move(dir)),
      node_port_(node_port) {}

  ~node() { kill(SIGKILL); }

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The program in build/bin to start (default fenix-chat); it must take
  /// the arguments below.
  void program(std::string name) { program_ = std::move(name); }

  /// Starts `fenix-chat --port 0 --node-port P [extra...]` and waits for its
  /// "listening on" line. Returns false on failure (see log()).
  bool start(const std::vector<std::string>& extra) {
    kill(SIGKILL);
    std::vector<std::string> args{bin_dir() + "/" + program_,
                                  "--port",
                                  "0",
                                  "--db",
                                  ":memory:",
                                  "--secret",
                                  "cluster-test-secret",
                                  "--node-port",
                                  std::to_string(node_port_)};
    args.insert(args.end(), extra.begin(), extra.end());
    int out[2];
    if (::pipe(out) != 0)
      return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, out[1]);
    auto log = log_path();
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    auto rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      pid_ = -1;
      return false;
    }
    out_ = out[0];
    http_port_ = read_port(10s);
    return http_port_ != 0;
  }

  /// Sends `sig`; SIGKILL also reaps the process.
  void kill(int sig) {
    if (pid_ <= 0)
      return;
    ::kill(pid_, sig);
    if (sig == SIGKILL)
      reap(5s);
  }

  /// Waits for the process to exit; its exit code, or -1 on timeout/signal.
  int reap(std::chrono::milliseconds timeout) {
    if (pid_ <= 0)
      return exit_code_;
    auto deadline = clock_type::now() + timeout;
    for (;;) {
      int status = 0;
      auto r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = -1;
        if (out_ >= 0)
          ::close(out_);
        out_ = -1;
        return exit_code_;
      }
      if (clock_type::now() >= deadline)
        return -1;
      std::this_thread::sleep_for(10ms);
    }
  }

  bool running() const { return pid_ > 0; }
  std::uint16_t http_port() const { return http_port_; }
  std::uint16_t node_port() const { return node_port_; }
  std::string node_address() const {
    return "127.0.0.1:" + std::to_string(node_port_);
  }
  const std::string& name() const { return name_; }
  std::string log_path() const { return dir_ + "/" + name_ + ".log"; }

  /// The node's stderr so far.
  std::string log() const {
    std::ifstream in{log_path()};
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  /// fenix_cluster_nodes from /metrics (0 if unavailable).
  int cluster_nodes() const {
    auto r = http(http_port_, "GET", "/metrics");
    auto key = std::string{"\nfenix_cluster_nodes "};
    auto i = r.body.find(key);
    return i == std::string::npos ? 0
                                  : std::atoi(r.body.c_str() + i + key.size());
  }

  /// A session token for `user` (POST /api/session).
  std::string token(const std::string& user) const {
    auto r = http(http_port_, "POST", "/api/session",
                  json::serialize(json::object{{"username", user}}));
    if (r.status != 200)
      return {};
    return std::string{json::parse(r.body).as_object().at("token").as_string()};
  }

private:
  std::uint16_t read_port(std::chrono::milliseconds timeout) {
    std::string line;
    auto deadline = clock_type::now() + timeout;
    while (line.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock_type::now());
      if (left.count() <= 0)
        return 0;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return 0;
      char c[256];
      auto n = ::read(out_, c, sizeof(c));
      if (n <= 0)
        return 0;
      line.append(c, static_cast<std::size_t>(n));
    }
    auto colon = line.rfind(':');
    return colon == std::string::npos
             ? 0
             : static_cast<std::uint16_t>(std::atoi(line.c_str() + colon + 1));
  }

  std::string name_;
  std::string dir_;
  std::uint16_t node_port_;
  std::string program_ = "fenix-chat";
  pid_t pid_ = -1;
  int out_ = -1;
  int exit_code_ = -1;
  std::uint16_t http_port_ = 0;
};

using user_set = std::set<std::string>;

/// A chat client on one node: joins a room and follows its presence list
/// (presence_state, then presence_diff by phx_ref, as presence.js) and the
/// new_msg bodies it receives.
class chat_user {
public:
  chat_user(tr::client_context& ctx, const node& n, std::string name)
    : name_(std::move(name)) {
    auto token = n.token(name_);
    if (token.empty())
      return;
    tr::client_options o;
    o.port = n.http_port();
    o.query = "vsn=2.0.0&token=" + token;
    auto r = tr::connect(ctx, o);
    client_ = std::move(r.client);
  }

  bool connected() const { return client_ != nullptr; }
  tr::ws_client& client() { return *client_; }
  const std::string& name() const { return name_; }

  /// Joins `topic` and waits for the ok reply and presence_state.
  bool join(const std::string& topic) {
    if (!client_)
      return false;
    topic_ = topic;
    auto ref = client_->join(topic);
    auto reply = client_->wait_reply(ref, 5s);
    if (!reply || tr::status_of(*reply) != "ok")
      return false;
    return wait([this] { return has_state_; }, 5s);
  }

  /// Pushes new_msg and waits for the ok reply.
  bool say(const std::string& body) {
    auto ref = client_->push(topic_, "new_msg", json::object{{"body", body}});
    auto reply = client_->wait_reply(ref, 5s);
    return reply && tr::status_of(*reply) == "ok";
  }

  /// Processes frames until `pred` holds or `timeout` passed.
  bool wait(const std::function<bool()>& pred,
            std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    for (;;) {
      pump(0ms);
      if (pred())
        return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock_type::now());
      if (left.count() <= 0)
        return false;
      pump(std::min(left, std::chrono::milliseconds{50}));
      if (pred())
        return true;
    }
  }

  /// Keys of the presence list.
  user_set users() const {
    user_set out;
    for (auto& kv : presence_)
      out.insert(kv.first);
    return out;
  }

  const std::vector<std::string>& bodies() const { return bodies_; }

  /// Takes every queued frame; waits up to `first` for the first one.
  void pump(std::chrono::milliseconds first) {
    if (!client_)
      return;
    auto m = client_->next(first);
    while (m) {
      apply(*m);
      m = client_->next(0ms);
    }
  }

private:
  static std::set<std::string> refs_of(const json::value& entry) {
    std::set<std::string> out;
    for (auto& meta : entry.as_object().at("metas").as_array())
      out.insert(std::string{meta.as_object().at("phx_ref").as_string()});
    return out;
  }

  void apply(const fenix::message& m) {
    if (m.topic != topic_ || m.payload.is_binary())
      return;
    if (m.event == "presence_state") {
      presence_.clear();
      for (auto& [k, v] : m.payload.object())
        presence_[std::string{k}] = refs_of(v);
      has_state_ = true;
    } else if (m.event == "presence_diff") {
      auto& d = m.payload.object();
      for (auto& [k, v] : d.at("joins").as_object())
        for (auto& ref : refs_of(v))
          presence_[std::string{k}].insert(ref);
      for (auto& [k, v] : d.at("leaves").as_object()) {
        auto i = presence_.find(std::string{k});
        if (i == presence_.end())
          continue;
        for (auto& ref : refs_of(v))
          i->second.erase(ref);
        if (i->second.empty())
          presence_.erase(i);
      }
    } else if (m.event == "new_msg") {
      auto& o = m.payload.object();
      if (auto* b = o.if_contains("body"))
        bodies_.push_back(std::string{b->as_string()});
    }
  }

  std::string name_;
  std::string topic_;
  std::unique_ptr<tr::ws_client> client_;
  std::map<std::string, std::set<std::string>> presence_;
  bool has_state_ = false;
  std::vector<std::string> bodies_;
};

/// Waits until every user sees exactly `expected` in its room, all at once.
inline bool converge(const std::vector<chat_user*>& users,
                     const user_set& expected,
                     std::chrono::milliseconds timeout) {
  return poll_until(
    [&] {
      bool all = true;
      for (auto* u : users) {
        u->pump(0ms);
        all = all && u->users() == expected;
      }
      return all;
    },
    timeout);
}

/// "a, b, c" for failure messages.
inline std::string show(const user_set& s) {
  std::string out;
  for (auto& x : s)
    out += (out.empty() ? "" : ", ") + x;
  return "{" + out + "}";
}

}  // namespace cluster_test
