#include "apps/timer/user_timers.hpp"

#include <iostream>
#include <map>
#include <set>

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "apps/common/app.hpp"
#include "apps/timer/timer_store.hpp"

namespace fenix::apps::timer {

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using save_atom = caf::atom_constant<caf::atom("save")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;

// -- store actor: SQLite writes on their own thread ------------------------------

caf::behavior store_fn(caf::event_based_actor* self,
                       std::shared_ptr<timer_store> store) {
  auto guarded = [](auto&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      std::cerr << "fenix-timer: storage failed: " << e.what() << '\n';
    }
  };
  static_cast<void>(self);
  return {
    [=](save_atom, const payload& p) {
      guarded([&] {
        auto& o = p.object();
        timer t;
        t.id = json::value_to<std::string>(o.at("id"));
        t.user = json::value_to<std::string>(o.at("user"));
        t.label = json::value_to<std::string>(o.at("label"));
        t.duration = json::value_to<int>(o.at("duration"));
        t.remaining = json::value_to<int>(o.at("remaining"));
        t.status = json::value_to<std::string>(o.at("status"));
        t.updated_at_ms = json::value_to<std::int64_t>(o.at("updated_at"));
        store->save(t);
      });
    },
    [=](remove_atom, const std::string& id) {
      guarded([&] { store->remove(id); });
    },
  };
}

payload row(const timer& t) {
  return payload{json::object{{"id", t.id},
                              {"user", t.user},
                              {"label", t.label},
                              {"duration", t.duration},
                              {"remaining", t.remaining},
                              {"status", t.status},
                              {"updated_at", t.updated_at_ms}}};
}

// -- one user's timers --------------------------------------------------------------

struct live_timer {
  timer t;
  std::int64_t deadline_ms = 0;   // when running
  std::int64_t next_tick_ms = 0;  // when running: the next tick is due
};

struct user_state {
  std::string user;
  std::string topic;
  const pubsub* ps = nullptr;
  caf::actor store;
  std::map<std::string, live_timer> timers;  // active only
  std::vector<std::string> order;            // creation order
  std::set<std::int64_t> wakeups;            // grid slots with a wake-up
  static inline const char* name = "fenix.timer.user";
};

using user_actor = caf::stateful_actor<user_state>;

json::object error(const char* reason) {
  return json::object{{"reason", reason}};
}

void persist(user_actor* self, const timer& t) {
  self->send(self->state.store, save_atom::value, row(t));
}

// Each running timer ticks on its own phase: when its remaining whole
// seconds drop by one, i.e. at deadline - (remaining - 1) s. The actor wakes
// up on a grid shared by every user, though: once per slot for all of its
// timers due in it, and CAF's clock thread once per slot for every user
// (10,000 timers cost about 50 wake-ups a second, not 10,000). A tick is at
// most one grid step late.
constexpr std::int64_t tick_grid_ms = 20;

void wake_at(user_actor* self, std::int64_t at_ms) {
  auto slot = (at_ms + tick_grid_ms - 1) / tick_grid_ms * tick_grid_ms;
  if (!self->state.wakeups.insert(slot).second)
    return;  // that slot's wake-up is already on its way
  auto wait = std::max<std::int64_t>(0, slot - now_ms());
  self->delayed_send(self, std::chrono::milliseconds(wait), tick_atom::value,
                     slot);
}

void schedule_tick(user_actor* self, live_timer& lt) {
  auto now = now_ms();
  auto left = lt.deadline_ms - now;
  auto secs = std::max<std::int64_t>(0, (left + 999) / 1000);
  lt.next_tick_ms = secs <= 0 ? now : lt.deadline_ms - (secs - 1) * 1000;
  wake_at(self, lt.next_tick_ms);
}

void drop(user_actor* self, std::string id) {  // by value: erase frees it
  auto& st = self->state;
  st.timers.erase(id);
  st.order.erase(std::remove(st.order.begin(), st.order.end(), id),
                 st.order.end());
}

void complete(user_actor* self, live_timer& lt) {
  auto& st = self->state;
  lt.t.remaining = 0;
  lt.t.status = std::string{status_completed};
  lt.t.updated_at_ms = now_ms();
  st.ps->broadcast(st.topic, "timers:completed", to_json(lt.t));
  self->send(st.store, remove_atom::value, lt.t.id);
  drop(self, lt.t.id);
}

void tick(user_actor* self, live_timer& lt) {
  auto& st = self->state;
  auto left = lt.deadline_ms - now_ms();
  int secs = static_cast<int>(std::max<std::int64_t>(0, (left + 999) / 1000));
  if (secs <= 0)
    return complete(self, lt);
  lt.t.remaining = secs;
  st.ps->broadcast(st.topic, "timers:tick",
                   json::object{{"id", lt.t.id}, {"remaining_time", secs}});
  schedule_tick(self, lt);
}

// A grid slot came: tick every running timer that is due.
void on_wakeup(user_actor* self, std::int64_t slot) {
  auto& st = self->state;
  st.wakeups.erase(slot);
  auto now = now_ms();
  if (now < slot)
    wake_at(self, slot);  // early (clock adjustment): come back for the rest
  std::vector<std::string> due;
  for (auto& id : st.order) {
    auto& lt = st.timers.at(id);
    if (lt.t.status == status_running && lt.next_tick_ms <= now)
      due.push_back(id);
  }
  for (auto& id : due)
    if (auto i = st.timers.find(id); i != st.timers.end())
      tick(self, i->second);  // may complete and drop the timer
}

fenix::reply command(user_actor* self, const std::string& event,
                     const payload& p) {
  auto& st = self->state;
  const json::object empty;
  const json::object& o = p.json().is_object() ? p.object() : empty;
  if (event == "timers:start") {
    auto duration = parse_duration(o.if_contains("duration"));
    if (!duration)
      return fenix::reply::error(error("invalid duration"));
    auto label = parse_label(o.if_contains("label"));
    if (!label)
      return fenix::reply::error(error("invalid label"));
    if (st.timers.size() >= max_active_timers)
      return fenix::reply::error(error("too many timers"));
    live_timer lt;
    lt.t.id = new_timer_id();
    lt.t.user = st.user;
    lt.t.label = *label;
    lt.t.duration = *duration;
    lt.t.remaining = *duration;
    lt.t.status = std::string{status_running};
    lt.t.updated_at_ms = now_ms();
    lt.deadline_ms = lt.t.updated_at_ms + 1000LL * *duration;
    persist(self, lt.t);
    st.ps->broadcast(st.topic, "timers:started", to_json(lt.t));
    auto id = lt.t.id;
    st.order.push_back(id);
    auto& stored = st.timers.emplace(id, std::move(lt)).first->second;
    schedule_tick(self, stored);
    return fenix::reply::ok(json::object{{"id", id}});
  }
  auto* idv = o.if_contains("id");
  if (event != "timers:pause" && event != "timers:resume"
      && event != "timers:stop")
    return fenix::reply::error(error("unknown event"));
  if (!idv || !idv->is_string())
    return fenix::reply::error(error("not found"));
  auto i = st.timers.find(std::string{idv->get_string()});
  if (i == st.timers.end())
    return fenix::reply::error(error("not found"));
  auto& lt = i->second;
  auto now = now_ms();
  if (event == "timers:pause") {
    if (lt.t.status != status_running)
      return fenix::reply::error(error("invalid state"));
    lt.t.remaining = static_cast<int>(
      std::max<std::int64_t>(0, (lt.deadline_ms - now + 999) / 1000));
    lt.t.status = std::string{status_paused};
    lt.t.updated_at_ms = now;
    persist(self, lt.t);
    st.ps->broadcast(st.topic, "timers:paused", to_json(lt.t));
  } else if (event == "timers:resume") {
    if (lt.t.status != status_paused)
      return fenix::reply::error(error("invalid state"));
    lt.t.status = std::string{status_running};
    lt.t.updated_at_ms = now;
    lt.deadline_ms = now + 1000LL * lt.t.remaining;
    persist(self, lt.t);
    st.ps->broadcast(st.topic, "timers:resumed", to_json(lt.t));
    schedule_tick(self, lt);
  } else {
    lt.t.status = std::string{status_stopped};
    lt.t.updated_at_ms = now;
    st.ps->broadcast(st.topic, "timers:stopped", to_json(lt.t));
    self->send(st.store, remove_atom::value, lt.t.id);
    drop(self, lt.t.id);
  }
  return fenix::reply::ok();
}

caf::behavior user_fn(user_actor* self, std::string user, const pubsub* ps,
                      caf::actor store, std::vector<timer> loaded) {
  auto& st = self->state;
  st.user = user;
  st.topic = "timers:" + user;
  st.ps = ps;
  st.store = std::move(store);
  auto now = now_ms();
  for (auto& t : loaded) {
    if (t.status == status_running && t.remaining <= 0) {
      // It ran out while the server was down: completed, not listed.
      self->send(st.store, remove_atom::value, t.id);
      continue;
    }
    live_timer lt{t, now + 1000LL * t.remaining, 0};  // ticks from here
    st.order.push_back(t.id);
    auto& stored = st.timers.emplace(t.id, std::move(lt)).first->second;
    if (t.status == status_running)
      schedule_tick(self, stored);
  }
  return {
    [=](list_atom) -> payload {
      json::array out;
      for (auto& id : self->state.order)
        out.push_back(to_json(self->state.timers.at(id).t));
      return payload{json::object{{"timers", std::move(out)}}};
    },
    [=](command_atom, const std::string& event, const payload& p) {
      return command(self, event, p);
    },
    [=](tick_atom, std::int64_t slot) { on_wakeup(self, slot); },
  };
}

// -- registry ---------------------------------------------------------------------------

struct registry_state {
  std::map<std::string, caf::actor> users;
  caf::actor store;
  static inline const char* name = "fenix.timer.registry";
};

caf::behavior registry_fn(caf::stateful_actor<registry_state>* self,
                          const pubsub* ps, std::shared_ptr<timer_store> db) {
  auto& st = self->state;
  st.store = self->spawn<caf::detached + caf::linked>(store_fn, db);
  // A user actor that fails is forgotten (and respawned on next use); it
  // must not take the registry and every other user down with it.
  self->set_exit_handler([self](caf::exit_msg& em) {
    auto& users = self->state.users;
    for (auto i = users.begin(); i != users.end(); ++i)
      if (i->second.address() == em.source) {
        users.erase(i);
        return;
      }
    if (em.reason)
      self->quit(em.reason);  // the store failed, or we are told to stop
    else if (em.source != self->state.store.address())
      self->quit();
  });
  std::map<std::string, std::vector<timer>> by_user;
  for (auto& t : db->load_active(now_ms()))
    by_user[t.user].push_back(t);
  for (auto& [user, timers] : by_user)
    st.users[user] =
      self->spawn<caf::linked>(user_fn, user, ps, st.store, std::move(timers));
  return {
    [=](get_atom, const std::string& user) -> caf::actor {
      auto& st = self->state;
      auto& a = st.users[user];
      if (!a)
        a = self->spawn<caf::linked>(user_fn, user, ps, st.store,
                                     std::vector<timer>{});
      return a;
    },
  };
}

}  // namespace

caf::actor spawn_timer_registry(caf::actor_system& sys, const pubsub& ps,
                                const std::string& db_path) {
  auto db = std::make_shared<timer_store>(db_path);
  return sys.spawn(registry_fn, &ps, db);
}

}  // namespace fenix::apps::timer
