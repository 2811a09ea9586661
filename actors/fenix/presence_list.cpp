// Presence lists (Phoenix Presence.list/1) from a channel and from the
// endpoint, and the endpoint's fetch hook registration. The tracker shard
// answers (list_atom, topic) with the map, its fetch hook applied
// (presence_tracker.cpp); nothing here blocks an actor.

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/channel.hpp"
#include "fenix/detail/endpoint_context.hpp"
#include "fenix/endpoint.hpp"
#include "fenix/log.hpp"

namespace fenix {

namespace {

// The tracker answers a JSON object payload; anything else is empty.
json::object as_map(payload& p) {
  if (p.is_binary() || !p.json().is_object())
    return {};
  return std::move(p.json().as_object());
}

void list_failed(const std::string& topic, const caf::error& err) {
  log::limited(log_level::warning, "presence list", "presence: list of ", topic,
               " failed: ", caf::to_string(err));
}

}  // namespace

void channel::presence_list(const std::string& t,
                            std::function<void(json::object)> cb,
                            std::chrono::milliseconds timeout) {
  auto fail = [t, cb](caf::error& err) {
    list_failed(t, err);
    cb({});
  };
  request(init_->ctx->presence->shard(t), timeout, list_atom::value, t)
    .then([cb](payload& p) { cb(as_map(p)); }, std::move(fail));
}

void endpoint::presence_fetch(std::string pattern, presence_fetch_fn fn) {
  ctx_->presence->fetch(std::move(pattern), std::move(fn));
}

caf::actor endpoint::presence_shard(const std::string& topic) const {
  return ctx_->presence->shard(topic);
}

void endpoint::presence_list(const std::string& topic,
                             std::function<void(json::object)> cb,
                             std::chrono::milliseconds timeout) const {
  // A one-shot actor asks and runs the callback; it ends with the answer.
  ctx_->sys.spawn([shard = presence_shard(topic), topic, cb = std::move(cb),
                   timeout](caf::event_based_actor* self) {
    self->request(shard, timeout, list_atom::value, topic)
      .then([cb](payload& p) { cb(as_map(p)); },
            [topic, cb](caf::error& err) {
              list_failed(topic, err);
              cb({});
            });
  });
}

}  // namespace fenix
