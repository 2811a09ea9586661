// channel::subscribe / unsubscribe: a channel listening to other topics
// (Phoenix "subscribing to external topics"). The channel subscribes as a
// plain PubSub actor (no connection): the shard sends it
// (broadcast_atom, broadcast_ptr), which the framework hands to the user's
// behavior as (broadcast_atom, topic, event, payload). The shard monitors
// the channel, so the subscriptions end with it.

#include "fenix/channel.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/detail/endpoint_context.hpp"
#include "fenix/log.hpp"

namespace fenix {

void channel::subscribe(const std::string& t) {
  if (t == topic()) {
    log::limited(log_level::warning, "channel subscribe own topic", "channel ",
                 topic(), " cannot subscribe to its own topic");
    return;
  }
  if (std::find(subscriptions_.begin(), subscriptions_.end(), t)
      != subscriptions_.end())
    return;
  subscriptions_.push_back(t);
  // Sent from this actor: it precedes, in the shard's mailbox, anything
  // this channel publishes afterwards and anything published by others
  // once they saw this channel's next frame.
  auto& ps = *init_->ctx->ps;
  send(ps.shard(t), subscribe_atom::value, t,
       fenix::subscriber{caf::actor_cast<caf::actor>(this), nullptr, nullptr,
                         nullptr, true});
}

void channel::unsubscribe(const std::string& t) {
  auto i = std::find(subscriptions_.begin(), subscriptions_.end(), t);
  if (i == subscriptions_.end())
    return;  // never subscribed (or its own topic: left alone)
  subscriptions_.erase(i);
  auto& ps = *init_->ctx->ps;
  send(ps.shard(t), unsub_atom::value, t, address());
}

void channel::handle_subscribed(const broadcast_ptr& b) {
  // A broadcast already on its way when unsubscribe() ran is dropped.
  if (std::find(subscriptions_.begin(), subscriptions_.end(), b->topic)
      == subscriptions_.end())
    return;
  auto msg =
    caf::make_message(broadcast_atom::value, b->topic, b->event, b->payload);
  if (!user_(msg))
    log::limited(log_level::warning, "channel unhandled broadcast", "channel ",
                 topic(), " has no (broadcast_atom, topic, event, payload) ",
                 "handler for ", b->event, " on ", b->topic);
}

}  // namespace fenix
