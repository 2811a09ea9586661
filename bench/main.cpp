// fenix-bench: a load generator that speaks Phoenix V2 (see usage()).
//
//   fenix-bench fanout --port 4000 --server-pid 1234 --clients 10000
//     --rate 2 --duration 20 --json fanout.json   (one command line)

#include <signal.h>

#include <fstream>
#include <iostream>

#include <boost/json/serialize.hpp>

#include "bench/options.hpp"
#include "bench/runner.hpp"
#include "bench/smoke.hpp"

int main(int argc, char** argv) {
  using namespace fenix::bench;
  ::signal(SIGPIPE, SIG_IGN);  // a worker that died must not kill us
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << usage();
    return args.empty() ? 2 : 0;
  }
  try {
    auto opts = parse_options(args);
    if (opts.scenario == "smoke")
      return run_smoke(opts);
    if (opts.is_worker())
      return run_worker(opts);
    auto r = run_scenario(opts);
    std::cout << format_table(r) << std::flush;
    if (!opts.json_file.empty()) {
      auto text = boost::json::serialize(r.to_json());
      if (opts.json_file == "-") {
        std::cout << text << '\n';
      } else {
        std::ofstream out{opts.json_file};
        out << text << '\n';
        if (!out)
          throw std::runtime_error("cannot write " + opts.json_file);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fenix-bench: " << e.what() << '\n';
    return 2;
  }
}
