/// Every atom fenix defines, in one place (CAF 0.17: at most 10 characters).
///
/// User-facing atoms appear in channel behaviors:
///   [=](fenix::join_atom, const std::string& topic, const fenix::payload& p)
///   [=](fenix::in_atom, const std::string& event, const fenix::payload& p)
///   [=](fenix::out_atom, const std::string& event, const fenix::payload& p)
///   [=](fenix::terminate_atom, fenix::close_reason why)
#pragma once

#include <caf/atom.hpp>

namespace fenix {

// -- user-facing ---------------------------------------------------------------
using join_atom = caf::atom_constant<caf::atom("join")>;
using in_atom = caf::atom_constant<caf::atom("in")>;
using out_atom = caf::atom_constant<caf::atom("out")>;
using terminate_atom = caf::atom_constant<caf::atom("terminate")>;
using broadcast_atom = caf::atom_constant<caf::atom("broadcast")>;
using presence_atom = caf::atom_constant<caf::atom("presence")>;

// -- internal (socket <-> channel <-> pubsub <-> tracker) -----------------------
using sys_join_atom = caf::atom_constant<caf::atom("sys_join")>;
using sys_in_atom = caf::atom_constant<caf::atom("sys_in")>;
using sys_leave_atom = caf::atom_constant<caf::atom("sys_leave")>;
using sys_close_atom = caf::atom_constant<caf::atom("sys_close")>;
using sys_out_atom = caf::atom_constant<caf::atom("sys_out")>;
using open_atom = caf::atom_constant<caf::atom("open")>;
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsub_atom = caf::atom_constant<caf::atom("unsub")>;
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using track_atom = caf::atom_constant<caf::atom("track")>;
using update_atom = caf::atom_constant<caf::atom("update")>;
using untrack_atom = caf::atom_constant<caf::atom("untrack")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using reply_atom = caf::atom_constant<caf::atom("reply")>;
using push_atom = caf::atom_constant<caf::atom("push")>;

// -- cluster (node <-> node, node <-> local pubsub and presence) ---------------
using cl_hello_atom = caf::atom_constant<caf::atom("cl_hello")>;
using cl_members_atom = caf::atom_constant<caf::atom("cl_members")>;
using cl_bye_atom = caf::atom_constant<caf::atom("cl_bye")>;
using cl_deliver_atom = caf::atom_constant<caf::atom("cl_deliver")>;
using cl_forward_atom = caf::atom_constant<caf::atom("cl_forward")>;
using cl_presence_atom = caf::atom_constant<caf::atom("cl_pres")>;
using cl_attach_atom = caf::atom_constant<caf::atom("cl_attach")>;
using cl_peer_up_atom = caf::atom_constant<caf::atom("cl_peerup")>;
using cl_peer_down_atom = caf::atom_constant<caf::atom("cl_peerdn")>;
using cl_peer_gone_atom = caf::atom_constant<caf::atom("cl_peergo")>;
using cl_tick_atom = caf::atom_constant<caf::atom("cl_tick")>;
using cl_retry_atom = caf::atom_constant<caf::atom("cl_retry")>;
using cl_permdown_atom = caf::atom_constant<caf::atom("cl_permdn")>;
using cl_leave_atom = caf::atom_constant<caf::atom("cl_leave")>;
using cl_join_atom = caf::atom_constant<caf::atom("cl_join")>;

// -- entities (caller <-> router <-> router, cluster actor <-> router) -------
using en_fwd_atom = caf::atom_constant<caf::atom("en_fwd")>;
using en_remote_atom = caf::atom_constant<caf::atom("en_remote")>;
using en_claim_atom = caf::atom_constant<caf::atom("en_claim")>;
using en_ping_atom = caf::atom_constant<caf::atom("en_ping")>;
using en_tick_atom = caf::atom_constant<caf::atom("en_tick")>;
using en_members_atom = caf::atom_constant<caf::atom("en_members")>;
using en_attach_atom = caf::atom_constant<caf::atom("en_attach")>;

}  // namespace fenix
