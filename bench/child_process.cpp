#include "bench/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>

namespace fenix::bench {

namespace {

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

child_process child_process::spawn(const std::vector<std::string>& argv) {
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0)
    throw_errno("pipe");
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw_errno("pipe");
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0)
    throw_errno("fork");
  if (pid == 0) {  // child: only async-signal-safe calls from here
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  child_process c;
  c.pid_ = pid;
  c.in_fd_ = in[1];
  c.out_fd_ = out[0];
  return c;
}

child_process::child_process(child_process&& other) noexcept
  : pid_(other.pid_),
    in_fd_(other.in_fd_),
    out_fd_(other.out_fd_),
    buffer_(std::move(other.buffer_)) {
  other.pid_ = -1;
  other.in_fd_ = -1;
  other.out_fd_ = -1;
}

child_process::~child_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (in_fd_ >= 0)
    ::close(in_fd_);
  if (out_fd_ >= 0)
    ::close(out_fd_);
}

std::optional<std::string>
child_process::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (out_fd_ < 0)
      return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return std::nullopt;
    pollfd p{out_fd_, POLLIN, 0};
    int n = ::poll(
      &p, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return std::nullopt;
    char buf[65536];
    auto got = ::read(out_fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {  // EOF: the child closed stdout (or died)
      ::close(out_fd_);
      out_fd_ = -1;
      continue;  // a last line without '\n' is dropped
    }
    buffer_.append(buf, static_cast<std::size_t>(got));
  }
}

bool child_process::write_line(const std::string& line) {
  if (in_fd_ < 0)
    return false;
  auto data = line + '\n';
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(in_fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void child_process::signal(int sig) {
  if (pid_ > 0)
    ::kill(pid_, sig);
}

int child_process::wait() {
  if (pid_ <= 0)
    return -1;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

std::string self_exe() {
  char buf[PATH_MAX];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    throw_errno("readlink /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace fenix::bench
