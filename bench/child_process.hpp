/// A child process with pipes to its stdin and stdout, read by lines:
/// the coordinator's workers and the smoke run's test server.
///
///   auto server = child_process::spawn({path, "--port", "0"});
///   auto line = server.read_line(5s);     // "listening on http://..."
///   server.signal(SIGTERM);
///   int status = server.wait();           // exit code, or 128 + signal
///
/// The child's stderr is inherited. A child still running when its
/// handle is destroyed gets SIGKILL and is reaped.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace fenix::bench {

class child_process {
public:
  /// Starts `argv[0]` (a path) with the arguments; throws
  /// std::system_error if it cannot.
  static child_process spawn(const std::vector<std::string>& argv);

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&&) = delete;
  ~child_process();

  int pid() const { return pid_; }

  /// The next line of the child's stdout (without '\n'); nullopt on EOF
  /// or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  /// Writes `line` and '\n' to the child's stdin; false if it is gone.
  bool write_line(const std::string& line);

  void signal(int sig);

  /// Waits for the child to exit: its exit code, or 128 + signal.
  int wait();

private:
  child_process() = default;

  int pid_ = -1;
  int in_fd_ = -1;   // the child's stdin
  int out_fd_ = -1;  // the child's stdout
  std::string buffer_;
};

/// The path of the running executable (/proc/self/exe).
std::string self_exe();

}  // namespace fenix::bench
