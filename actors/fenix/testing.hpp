/// The testing umbrella (link fenix::testing): the channel test kit.
///
///   #include <fenix/testing.hpp>
///
///   fenix::testing::channel_case tc{sys};
///   tc.channel("room:*", room);
///   auto sock = tc.connect();
///   REQUIRE(sock->join("room:lobby").status == "ok");
#pragma once

#include "fenix/testing/channel_test_kit.hpp"
