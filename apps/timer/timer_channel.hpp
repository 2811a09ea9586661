/// The timer app's channel, "timers:USER": only USER may join; the join
/// reply lists the user's active timers; commands go to the user's timer
/// actor, which broadcasts every change to all of the user's devices.
#pragma once

#include <caf/actor.hpp>
#include <caf/behavior.hpp>

#include "fenix/channel.hpp"

namespace fenix::apps::timer {

/// The behavior of one timers channel; `registry` finds user actors.
caf::behavior timer_channel(fenix::channel* self, caf::actor registry);

}  // namespace fenix::apps::timer
