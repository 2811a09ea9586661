#include "apps/pointing/rooms.hpp"

#include <cmath>
#include <iostream>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>

namespace fenix::apps::pointing {

namespace {

using save_atom = caf::atom_constant<caf::atom("save")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;

constexpr const char* voting = "voting";
constexpr const char* voted = "voted";

json::object error(const char* reason) {
  return json::object{{"reason", reason}};
}

// -- one room -----------------------------------------------------------------

struct member {
  std::string user;
  caf::actor channel;
};

struct room_state {
  room_record rec;
  caf::actor registry;
  std::unordered_map<caf::actor_addr, member> members;  // by channel
  std::map<std::string, int> present;                   // user -> channels
  std::uint64_t entered = 0;  // enters handled (the registry counts too)
  bool frozen = false;        // shutting down: members leaving change nothing
  static inline const char* name = "fenix.pointing.room";
};

using room_actor = caf::stateful_actor<room_state>;

void persist(room_actor* self) {
  self->send(self->state.registry, save_atom::value, self->state.rec);
}

void push_all(room_actor* self, const std::string& event,
              const json::object& p) {
  for (auto& [addr, m] : self->state.members)
    self->send(m.channel, push_atom::value, event, payload{p});
}

// Every channel of `user` sets its presence meta's state.
void set_state(room_actor* self, const std::string& user, const char* st) {
  for (auto& [addr, m] : self->state.members)
    if (m.user == user)
      self->send(m.channel, state_atom::value, std::string{st});
}

json::object revealed_payload(const room_record& r) {
  json::object votes;
  for (auto& [user, points] : r.votes)
    votes[user] = points;
  return json::object{{"votes", std::move(votes)},
                      {"summary", summarize(r.votes)}};
}

void reveal(room_actor* self) {
  auto& rec = self->state.rec;
  if (!rec.revealed) {
    rec.revealed = true;
    persist(self);
  }
  push_all(self, "votes_revealed", revealed_payload(rec));
}

// Reveals when every member present has voted (and someone is present).
void maybe_reveal(room_actor* self) {
  auto& st = self->state;
  if (st.rec.revealed || st.present.empty() || st.rec.votes.empty())
    return;
  for (auto& [user, n] : st.present)
    if (st.rec.votes.count(user) == 0)
      return;
  reveal(self);
}

json::object enter(room_actor* self, const std::string& user) {
  auto& st = self->state;
  auto ch = caf::actor_cast<caf::actor>(self->current_sender());
  if (ch && st.members.count(ch.address()) == 0) {
    self->monitor(ch);
    st.members.emplace(ch.address(), member{user, ch});
    ++st.present[user];
  }
  ++st.entered;
  json::value t = nullptr;
  if (st.rec.current)
    t = json::object{{"title", st.rec.current->title},
                     {"by", st.rec.current->by}};
  json::array who;
  for (auto& [u, points] : st.rec.votes)
    who.push_back(json::string{u});
  json::value rev = nullptr;
  if (st.rec.revealed && !st.rec.votes.empty())
    rev = revealed_payload(st.rec);
  return json::object{{"reply", json::object{{"ticket", std::move(t)},
                                             {"voted", std::move(who)}}},
                      {"state", st.rec.votes.count(user) ? voted : voting},
                      {"revealed", std::move(rev)}};
}

void leave(room_actor* self, const caf::actor_addr& who) {
  auto& st = self->state;
  auto i = st.members.find(who);
  if (i == st.members.end())
    return;
  auto user = std::move(i->second.user);
  st.members.erase(i);
  if (--st.present[user] > 0 || st.frozen)
    return;
  st.present.erase(user);
  if (st.rec.votes.erase(user) > 0)
    persist(self);
  maybe_reveal(self);
  if (st.members.empty())  // its state is stored: it may go
    self->send(st.registry, idle_atom::value, st.rec.name, st.entered);
}

void set_ticket(room_actor* self, const std::string& user, std::string title,
                caf::response_promise rp) {
  auto& rec = self->state.rec;
  auto had = std::move(rec.votes);
  rec.votes.clear();
  rec.current = ticket{std::move(title), user};
  rec.revealed = false;
  persist(self);
  rp.deliver(fenix::reply::ok());
  push_all(self, "ticket",
           json::object{{"title", rec.current->title}, {"by", user}});
  for (auto& [u, points] : had)
    set_state(self, u, voting);
}

void vote(room_actor* self, const std::string& user, int points,
          caf::response_promise rp) {
  auto& rec = self->state.rec;
  if (!rec.current) {
    rp.deliver(fenix::reply::error(error("no ticket")));
    return;
  }
  auto [it, first] = rec.votes.insert_or_assign(user, points);
  static_cast<void>(it);
  persist(self);
  rp.deliver(fenix::reply::ok());
  if (first)
    set_state(self, user, voted);
  if (rec.revealed)
    reveal(self);  // already public: show the change
  else
    maybe_reveal(self);
}

// Events the channel validated: set_ticket {"title"}, vote {"points"},
// reveal. The reply is delivered before members hear of the change.
void command(room_actor* self, const std::string& event, const payload& p) {
  auto& st = self->state;
  // Before the promise: making it takes the sender from the message.
  auto m =
    st.members.find(caf::actor_cast<caf::actor_addr>(self->current_sender()));
  auto rp = self->make_response_promise();
  if (m == st.members.end()) {
    rp.deliver(fenix::reply::error(error("not joined")));
    return;
  }
  auto user = m->second.user;
  if (event == "set_ticket") {
    set_ticket(self, user, std::string{p.object().at("title").as_string()}, rp);
  } else if (event == "vote") {
    vote(self, user, static_cast<int>(p.object().at("points").as_int64()), rp);
  } else if (event == "reveal") {
    if (st.rec.votes.empty()) {
      rp.deliver(fenix::reply::error(error("no votes")));
      return;
    }
    rp.deliver(fenix::reply::ok());
    reveal(self);
  } else {
    rp.deliver(fenix::reply::error(error("unknown event")));
  }
}

caf::behavior room_fn(room_actor* self, caf::actor registry, room_record rec) {
  self->state.registry = std::move(registry);
  self->state.rec = std::move(rec);
  self->set_down_handler([self](caf::down_msg& dm) { leave(self, dm.source); });
  return {
    [=](enter_atom, const std::string& user) {
      auto r = payload{enter(self, user)};
      return caf::make_message(caf::actor_cast<caf::actor>(self), std::move(r));
    },
    [=](command_atom, const std::string& event, const payload& p) {
      command(self, event, p);
    },
    [=](freeze_atom) { self->state.frozen = true; },
    [=](idle_atom) { self->quit(); },  // the registry forgot us
  };
}

// -- registry -------------------------------------------------------------------

struct live_room {
  caf::actor actor;
  std::uint64_t forwarded = 0;  // enters sent to it
};

struct registry_state {
  std::unique_ptr<room_store> db;
  std::map<std::string, live_room> rooms;
  bool frozen = false;
  static inline const char* name = "fenix.pointing.registry";
};

using registry_actor = caf::stateful_actor<registry_state>;

room_record load(registry_actor* self, const std::string& name) {
  try {
    return self->state.db->load(name);
  } catch (const std::exception& e) {
    std::cerr << "fenix-pointing: loading room " << name
              << " failed: " << e.what() << '\n';
    room_record r;
    r.name = name;
    return r;
  }
}

caf::behavior registry_fn(registry_actor* self, std::string path) {
  self->state.db = std::make_unique<room_store>(path);
  // A room that fails is forgotten (and reloaded from the store on next
  // use); it must not take the registry and every other room with it.
  self->set_exit_handler([self](caf::exit_msg& em) {
    auto& rooms = self->state.rooms;
    for (auto i = rooms.begin(); i != rooms.end(); ++i)
      if (i->second.actor.address() == em.source) {
        rooms.erase(i);
        return;
      }
    if (em.reason)  // not an idle room that went
      self->quit(em.reason);
  });
  return {
    [=](enter_atom, const std::string& name, const std::string& user) {
      auto& st = self->state;
      auto& r = st.rooms[name];
      if (!r.actor) {
        r.actor =
          self->spawn<caf::linked>(room_fn, caf::actor{self}, load(self, name));
        if (st.frozen)
          self->send(r.actor, freeze_atom::value);
      }
      ++r.forwarded;
      return self->delegate(r.actor, enter_atom::value, user);
    },
    // A room with no members goes, unless an enter is on its way to it
    // (every enter passes here, so the counts tell).
    [=](idle_atom, const std::string& name, std::uint64_t entered) {
      auto i = self->state.rooms.find(name);
      if (i == self->state.rooms.end() || i->second.forwarded != entered)
        return;
      self->send(i->second.actor, idle_atom::value);  // it quits
      self->state.rooms.erase(i);
    },
    [=](save_atom, const room_record& r) {
      try {
        self->state.db->save(r);
      } catch (const std::exception& e) {
        std::cerr << "fenix-pointing: saving room " << r.name
                  << " failed: " << e.what() << '\n';
      }
    },
    [=](freeze_atom) {
      self->state.frozen = true;
      for (auto& [name, room] : self->state.rooms)
        self->send(room.actor, freeze_atom::value);
      return true;
    },
    [=](sync_atom) { return true; },
  };
}

}  // namespace

json::object summarize(const std::map<std::string, int>& votes) {
  int lo = votes.begin()->second;
  int hi = lo;
  long long sum = 0;
  for (auto& [user, points] : votes) {
    lo = std::min(lo, points);
    hi = std::max(hi, points);
    sum += points;
  }
  double avg = static_cast<double>(sum) / static_cast<double>(votes.size());
  avg = std::round(avg * 100.0) / 100.0;
  json::value average = avg;
  if (avg == std::floor(avg))
    average = static_cast<std::int64_t>(avg);  // 5, not 5.0
  return json::object{{"min", lo},
                      {"max", hi},
                      {"average", std::move(average)},
                      {"consensus", lo == hi}};
}

caf::actor spawn_room_registry(caf::actor_system& sys, const std::string& db) {
  { room_store probe{db}; }  // a bad path fails here, with a clear error
  return sys.spawn<caf::detached>(registry_fn, db);
}

}  // namespace fenix::apps::pointing
