#include "fenix/supervisor.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <stdexcept>

#include <caf/all.hpp>

#include "fenix/log.hpp"

namespace fenix {

// The children, shared by the supervisor actor and the facade's callers.
struct supervisor::shared {
  struct child {
    child_spec spec;
    caf::actor handle;  // null once stopped or terminated
    std::uint64_t restarts = 0;
    bool terminated = false;  // terminate_child or temporary: no restart
  };

  std::string name;
  supervisor_options opts;
  mutable std::mutex mtx;
  std::deque<child> children;  // start order; a deque keeps references
  std::atomic<bool> escalated{false};

  // The index of the child whose handle is `addr`, or -1.
  int find(const caf::actor_addr& addr) const {
    for (std::size_t i = 0; i < children.size(); ++i)
      if (children[i].handle && children[i].handle.address() == addr)
        return static_cast<int>(i);
    return -1;
  }
};

namespace {

using sup_watch_atom = caf::atom_constant<caf::atom("sup_watch")>;
using sup_stop_atom = caf::atom_constant<caf::atom("sup_stop")>;
using sup_kill_atom = caf::atom_constant<caf::atom("sup_kill")>;

using clock = std::chrono::steady_clock;

struct sup_state {
  std::shared_ptr<supervisor::shared> sh;
  std::deque<clock::time_point> recent;  // restarts within the period
  bool stopping = false;
  int cursor = 0;  // stop(): the child being stopped (reverse order)
  std::uint64_t kill_gen = 0;
  std::vector<caf::response_promise> waiting;  // stop() callers
  std::string escalated_child, escalated_reason;
  static inline const char* name = "fenix.supervisor";
};

using sup_actor = caf::stateful_actor<sup_state>;

bool abnormal(const caf::error& reason) {
  return reason && reason != caf::exit_reason::user_shutdown;
}

void finish_stop(sup_actor* self) {
  auto& st = self->state;
  if (st.sh->escalated.load() && st.sh->opts.on_escalate)
    st.sh->opts.on_escalate(st.escalated_child, st.escalated_reason);
  for (auto& rp : st.waiting)
    rp.deliver(true);
  st.waiting.clear();
  self->quit();
}

// Stops the last running child before the cursor, or finishes.
void stop_next(sup_actor* self) {
  auto& st = self->state;
  caf::actor h;
  std::chrono::milliseconds grace{0};
  {
    std::lock_guard<std::mutex> guard{st.sh->mtx};
    while (--st.cursor >= 0) {
      auto& c = st.sh->children[static_cast<std::size_t>(st.cursor)];
      if (c.handle) {
        h = c.handle;
        grace = c.spec.shutdown;
        break;
      }
    }
  }
  if (!h) {
    finish_stop(self);
    return;
  }
  self->send_exit(h, caf::exit_reason::user_shutdown);
  self->delayed_send(self, grace, sup_kill_atom::value, st.cursor,
                     ++st.kill_gen);
}

void begin_stop(sup_actor* self) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  {
    std::lock_guard<std::mutex> guard{st.sh->mtx};
    st.cursor = static_cast<int>(st.sh->children.size());
  }
  stop_next(self);
}

void escalate(sup_actor* self, const std::string& child,
              const std::string& reason) {
  auto& st = self->state;
  auto& o = st.sh->opts;
  log::error("supervisor ", st.sh->name, ": ", child, " exceeded the restart",
             " intensity (more than ", o.max_restarts, " restarts in ",
             o.period.count(), " ms; last exit: ", reason,
             "): giving up, stopping every child");
  st.sh->escalated.store(true);
  st.escalated_child = child;
  st.escalated_reason = reason;
  begin_stop(self);
}

// Counts a restart; false (and escalation) past the intensity.
bool admit_restart(sup_actor* self, const std::string& child,
                   const std::string& reason) {
  auto& st = self->state;
  auto now = clock::now();
  st.recent.push_back(now);
  while (!st.recent.empty() && now - st.recent.front() > st.sh->opts.period)
    st.recent.pop_front();
  if (st.recent.size() <= st.sh->opts.max_restarts)
    return true;
  escalate(self, child, reason);
  return false;
}

void restart(sup_actor* self, std::size_t i, std::string reason) {
  auto& st = self->state;
  std::string name;
  std::function<caf::actor(caf::actor_system&)> start;
  std::function<void(const caf::actor&)> on_start;
  {
    std::lock_guard<std::mutex> guard{st.sh->mtx};
    auto& c = st.sh->children[i];
    c.handle = nullptr;
    name = c.spec.name;
    start = c.spec.start;
    on_start = c.spec.on_start;
  }
  for (;;) {
    if (!admit_restart(self, name, reason))
      return;
    log::warning("supervisor ", st.sh->name, ": restarting ", name, " after ",
                 reason);
    caf::actor h;
    try {
      h = start(self->system());
    } catch (const std::exception& e) {
      reason = std::string{"a failed start: "} + e.what();
      continue;
    }
    if (!h) {
      reason = "a failed start (no actor)";
      continue;
    }
    {
      std::lock_guard<std::mutex> guard{st.sh->mtx};
      auto& c = st.sh->children[i];
      c.handle = h;
      ++c.restarts;
    }
    self->monitor(h);
    if (on_start)
      on_start(h);
    return;
  }
}

void on_down(sup_actor* self, const caf::down_msg& dm) {
  auto& st = self->state;
  int i;
  restart_policy policy;
  bool terminated;
  {
    std::lock_guard<std::mutex> guard{st.sh->mtx};
    i = st.sh->find(dm.source);
    if (i < 0)
      return;  // an old handle
    auto& c = st.sh->children[static_cast<std::size_t>(i)];
    policy = c.spec.restart;
    terminated = c.terminated;
    if (st.stopping || terminated)
      c.handle = nullptr;
  }
  if (st.stopping) {
    if (i == st.cursor)
      stop_next(self);
    return;
  }
  if (terminated)
    return;
  bool again = policy == restart_policy::permanent
               || (policy == restart_policy::transient && abnormal(dm.reason));
  if (!again) {
    std::lock_guard<std::mutex> guard{st.sh->mtx};
    auto& c = st.sh->children[static_cast<std::size_t>(i)];
    c.handle = nullptr;
    c.terminated = policy == restart_policy::temporary;
    return;
  }
  restart(self, static_cast<std::size_t>(i), self->system().render(dm.reason));
}

caf::behavior supervisor_fn(sup_actor* self,
                            std::shared_ptr<supervisor::shared> sh) {
  self->state.sh = std::move(sh);
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  return {
    [=](sup_watch_atom, const caf::actor& h) {
      if (self->state.stopping)
        self->send_exit(h, caf::exit_reason::user_shutdown);
      self->monitor(h);
    },
    [=](sup_stop_atom) {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      st.waiting.push_back(rp);
      begin_stop(self);
      return rp;
    },
    [=](sup_kill_atom, int index, std::uint64_t gen) {
      auto& st = self->state;
      if (!st.stopping || index != st.cursor || gen != st.kill_gen)
        return;
      caf::actor h;
      std::string name;
      {
        std::lock_guard<std::mutex> guard{st.sh->mtx};
        auto& c = st.sh->children[static_cast<std::size_t>(index)];
        h = c.handle;
        name = c.spec.name;
      }
      if (!h)
        return;
      log::warning("supervisor ", st.sh->name, ": ", name,
                   " did not stop in time: killed");
      self->send_exit(h, caf::exit_reason::kill);
    },
  };
}

}  // namespace

supervisor::supervisor(caf::actor_system& sys, supervisor_options opts,
                       std::string name)
  : sys_(sys),
    sh_(std::make_shared<shared>()) {
  sh_->name = std::move(name);
  sh_->opts = std::move(opts);
  actor_ = sys.spawn(supervisor_fn, sh_);
}

supervisor::~supervisor() {
  stop();
}

caf::actor supervisor::start_child(child_spec spec) {
  {
    std::lock_guard<std::mutex> guard{sh_->mtx};
    for (auto& c : sh_->children)
      if (c.spec.name == spec.name)
        throw std::invalid_argument("supervisor " + sh_->name
                                    + ": a child named " + spec.name
                                    + " exists already");
  }
  auto h = spec.start(sys_);
  if (!h)
    throw std::runtime_error("supervisor " + sh_->name + ": " + spec.name
                             + " did not start");
  auto on_start = spec.on_start;
  {
    std::lock_guard<std::mutex> guard{sh_->mtx};
    sh_->children.push_back(shared::child{std::move(spec), h, 0, false});
  }
  if (on_start)
    on_start(h);
  if (actor_)
    caf::anon_send(actor_, sup_watch_atom::value, h);
  else
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);  // stopped
  return h;
}

void supervisor::terminate_child(const std::string& name) {
  caf::actor h;
  {
    std::lock_guard<std::mutex> guard{sh_->mtx};
    for (auto& c : sh_->children)
      if (c.spec.name == name && !c.terminated) {
        c.terminated = true;
        h = c.handle;
      }
  }
  if (h)
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

caf::actor supervisor::which(const std::string& name) const {
  std::lock_guard<std::mutex> guard{sh_->mtx};
  for (auto& c : sh_->children)
    if (c.spec.name == name)
      return c.handle;
  return nullptr;
}

std::vector<std::string> supervisor::children() const {
  std::lock_guard<std::mutex> guard{sh_->mtx};
  std::vector<std::string> out;
  for (auto& c : sh_->children)
    out.push_back(c.spec.name);
  return out;
}

std::vector<std::pair<std::string, std::uint64_t>>
supervisor::restarts() const {
  std::lock_guard<std::mutex> guard{sh_->mtx};
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (auto& c : sh_->children)
    out.emplace_back(c.spec.name, c.restarts);
  return out;
}

std::uint64_t supervisor::restarts(const std::string& name) const {
  std::lock_guard<std::mutex> guard{sh_->mtx};
  for (auto& c : sh_->children)
    if (c.spec.name == name)
      return c.restarts;
  return 0;
}

bool supervisor::escalated() const {
  return sh_->escalated.load();
}

const std::string& supervisor::name() const {
  return sh_->name;
}

void supervisor::stop() {
  if (!actor_)
    return;
  caf::scoped_actor self{sys_};
  self->request(actor_, caf::infinite, sup_stop_atom::value)
    .receive([](bool) {}, [](caf::error&) {});
  self->wait_for(actor_);
  actor_ = nullptr;
}

}  // namespace fenix
