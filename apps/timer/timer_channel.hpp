/// The timer app's channel, "timers:USER": only USER may join; the join
/// reply lists the user's active timers; commands go to the user's timer
/// actor, which broadcasts every change to all of the user's devices.
#pragma once

#include <caf/actor.hpp>
#include <caf/behavior.hpp>

#include "fenix/channel.hpp"

namespace fenix::apps::timer {

/// A timers channel's state: the user's timer actor, once joined.
struct timer_channel_state {
  caf::actor owner;
};

/// A timers channel actor.
using timer_channel_actor = fenix::stateful_channel<timer_channel_state>;

/// The behavior of one timers channel; `registry` finds user actors.
caf::behavior timer_channel(timer_channel_actor* self, caf::actor registry);

}  // namespace fenix::apps::timer
