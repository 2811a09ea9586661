#include "fenix/fault_injection.hpp"

#include <caf/all.hpp>

#include "fenix/log.hpp"
#include "fenix/supervisor.hpp"

namespace fenix {

bool fault_injector::crash(const std::string& name) {
  auto h = sup_.which(name);
  if (!h)
    return false;
  log::warning("fault injection: crashing ", name);
  // anon_send_exit with an error as the reason (it only takes exit_reason).
  h->enqueue(
    nullptr, caf::make_message_id(),
    caf::make_message(caf::exit_msg{
      h.address(), caf::make_error(caf::sec::runtime_error, "fault injected")}),
    nullptr);
  return true;
}

void fault_injector::drop(const std::string& name, std::size_t count) {
  std::lock_guard<std::mutex> guard{mtx_};
  rules_[name].drops = count;
  active_.store(true);
  log::warning("fault injection: dropping messages to ", name);
}

void fault_injector::delay(const std::string& name,
                           std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> guard{mtx_};
  rules_[name].delay = d;
  active_.store(true);
  log::warning("fault injection: delaying messages to ", name, " by ",
               d.count(), " ms");
}

void fault_injector::clear(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  rules_.erase(name);
  active_.store(!rules_.empty());
}

std::optional<fault_injector::verdict>
fault_injector::take(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = rules_.find(name);
  if (i == rules_.end())
    return std::nullopt;
  auto& r = i->second;
  verdict v;
  if (r.drops > 0) {
    --r.drops;
    v.drop = true;
  }
  v.delay = r.delay;
  if (r.drops == 0 && r.delay.count() == 0) {
    rules_.erase(i);
    active_.store(!rules_.empty());
  }
  return v;
}

}  // namespace fenix
