#include "bench/server_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json/parse.hpp>

namespace fenix::bench {

namespace json = boost::json;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

std::optional<std::int64_t> rss_kib(int pid) {
  if (pid <= 0)
    return std::nullopt;
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoll(line.substr(6));  // "VmRSS:   1234 kB"
  return std::nullopt;
}

std::optional<double> cpu_seconds(int pid) {
  if (pid <= 0)
    return std::nullopt;
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  // The command name may hold spaces: fields are counted after its ')'.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream fields{text.substr(close + 2)};
  std::string field;
  long long utime = 0;
  long long stime = 0;
  // Field 3 (state) is the first after ')'; utime is 14, stime 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14)
      utime = std::stoll(field);
    if (i == 15)
      stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime)
         / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::optional<std::int64_t> context_switches(int pid) {
  if (pid <= 0)
    return std::nullopt;
  std::error_code ec;
  auto dir = "/proc/" + std::to_string(pid) + "/task";
  std::int64_t total = 0;
  bool any = false;
  for (auto& task : std::filesystem::directory_iterator{dir, ec}) {
    std::ifstream in{task.path() / "status"};
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0
          || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        total += std::stoll(line.substr(line.find(':') + 1));
        any = true;
      }
  }
  return any ? std::optional<std::int64_t>{total} : std::nullopt;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

http_answer http_call(const std::string& host, std::uint16_t port,
                      const std::string& method, const std::string& path,
                      const std::string& body, int timeout_s) {
  http_answer out;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return out;
  timeval tv{timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  std::string text;
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1
      && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    auto req = method + " " + path + " HTTP/1.1\r\nHost: " + host
               + "\r\nConnection: close\r\n";
    if (!body.empty() || method == "POST")
      req += "Content-Type: application/json\r\nContent-Length: "
             + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL)
        == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (text.rfind("HTTP/1.1 ", 0) != 0 || text.size() < 12)
    return out;
  out.status = std::atoi(text.c_str() + 9);
  if (auto start = text.find("\r\n\r\n"); start != std::string::npos)
    out.body = text.substr(start + 4);
  return out;
}

std::optional<json::object> fetch_json(const std::string& host,
                                       std::uint16_t port,
                                       const std::string& path) {
  auto a = http_call(host, port, "GET", path, {}, 2);
  if (a.status != 200)
    return std::nullopt;
  json::error_code ec;
  auto v = json::parse(a.body, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  return v.get_object();
}

std::pair<double, double> machine_busy_jiffies() {
  std::ifstream in{"/proc/stat"};
  std::string cpu;
  double v[8] = {};
  in >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7];
  double total = 0;
  for (double x : v)
    total += x;
  return {total - v[3] - v[4], total};  // minus idle and iowait
}

double busy_cores_between(const std::pair<double, double>& from,
                          const std::pair<double, double>& to) {
  double total = to.second - from.second;
  if (total <= 0)
    return -1;
  return (to.first - from.first) / total * std::thread::hardware_concurrency();
}

server_probe::server_probe(std::string host, std::uint16_t port, int pid)
  : host_(std::move(host)),
    port_(port),
    pid_(pid) {}

server_snapshot server_probe::take(const std::string& phase) {
  server_snapshot s;
  s.phase = phase;
  s.t_ns = now_ns();
  s.rss_kib = rss_kib(pid_).value_or(-1);
  s.cpu_s = cpu_seconds(pid_).value_or(-1);
  s.ctx_switches = context_switches(pid_).value_or(-1);
  if (has_stats_) {
    if (auto st = fetch_json(host_, port_, "/stats"))
      s.stats = std::move(*st);
    else
      has_stats_ = false;
  }
  return s;
}

}  // namespace fenix::bench
