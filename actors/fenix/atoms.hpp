/// Every atom fenix defines, in one place. Each `fenix::X_atom` type has a
/// constant `fenix::X_atom_v` (CAF_ADD_ATOM; `X_atom::value` still works).
/// CAF 0.17 limits the atom's text (what to_string prints) to 10
/// characters; the C++ names are what code reads.
///
/// User-facing atoms appear in channel behaviors:
///   [=](fenix::join_atom, const std::string& topic, const fenix::payload& p)
///   [=](fenix::in_atom, const std::string& event, const fenix::payload& p)
///   [=](fenix::out_atom, const std::string& event, const fenix::payload& p)
///   [=](fenix::terminate_atom, fenix::close_reason why)
#pragma once

#include <caf/atom.hpp>
#include <caf/type_id.hpp>

// -- user-facing ---------------------------------------------------------------
CAF_ADD_ATOM(fenix, fenix, join_atom, "join")
CAF_ADD_ATOM(fenix, fenix, in_atom, "in")
CAF_ADD_ATOM(fenix, fenix, out_atom, "out")
CAF_ADD_ATOM(fenix, fenix, terminate_atom, "terminate")
CAF_ADD_ATOM(fenix, fenix, broadcast_atom, "broadcast")
CAF_ADD_ATOM(fenix, fenix, presence_atom, "presence")

// -- internal (socket <-> channel <-> pubsub <-> tracker) -----------------------
CAF_ADD_ATOM(fenix, fenix, sys_join_atom, "sys_join")
CAF_ADD_ATOM(fenix, fenix, sys_in_atom, "sys_in")
CAF_ADD_ATOM(fenix, fenix, sys_leave_atom, "sys_leave")
CAF_ADD_ATOM(fenix, fenix, sys_close_atom, "sys_close")
CAF_ADD_ATOM(fenix, fenix, sys_out_atom, "sys_out")
CAF_ADD_ATOM(fenix, fenix, open_atom, "open")
CAF_ADD_ATOM(fenix, fenix, frame_atom, "frame")
CAF_ADD_ATOM(fenix, fenix, closed_atom, "closed")
CAF_ADD_ATOM(fenix, fenix, subscribe_atom, "subscribe")
CAF_ADD_ATOM(fenix, fenix, unsub_atom, "unsub")
CAF_ADD_ATOM(fenix, fenix, publish_atom, "publish")
CAF_ADD_ATOM(fenix, fenix, track_atom, "track")
CAF_ADD_ATOM(fenix, fenix, update_atom, "update")
CAF_ADD_ATOM(fenix, fenix, untrack_atom, "untrack")
CAF_ADD_ATOM(fenix, fenix, list_atom, "list")
CAF_ADD_ATOM(fenix, fenix, flush_atom, "flush")
CAF_ADD_ATOM(fenix, fenix, reply_atom, "reply")
CAF_ADD_ATOM(fenix, fenix, push_atom, "push")

// -- cluster (node <-> node, node <-> local pubsub and presence) ---------------
CAF_ADD_ATOM(fenix, fenix, cl_hello_atom, "cl_hello")
CAF_ADD_ATOM(fenix, fenix, cl_members_atom, "cl_members")
CAF_ADD_ATOM(fenix, fenix, cl_bye_atom, "cl_bye")
CAF_ADD_ATOM(fenix, fenix, cl_deliver_atom, "cl_deliver")
CAF_ADD_ATOM(fenix, fenix, cl_forward_atom, "cl_forward")
CAF_ADD_ATOM(fenix, fenix, cl_presence_atom, "cl_pres")
CAF_ADD_ATOM(fenix, fenix, cl_attach_atom, "cl_attach")
CAF_ADD_ATOM(fenix, fenix, cl_peer_up_atom, "cl_peerup")
CAF_ADD_ATOM(fenix, fenix, cl_peer_down_atom, "cl_peerdn")
CAF_ADD_ATOM(fenix, fenix, cl_peer_gone_atom, "cl_peergo")
CAF_ADD_ATOM(fenix, fenix, cl_tick_atom, "cl_tick")
CAF_ADD_ATOM(fenix, fenix, cl_retry_atom, "cl_retry")
CAF_ADD_ATOM(fenix, fenix, cl_permdown_atom, "cl_permdn")
CAF_ADD_ATOM(fenix, fenix, cl_leave_atom, "cl_leave")
CAF_ADD_ATOM(fenix, fenix, cl_join_atom, "cl_join")

// -- entities (caller <-> router <-> router, cluster actor <-> router) -------
CAF_ADD_ATOM(fenix, fenix, en_fwd_atom, "en_fwd")
CAF_ADD_ATOM(fenix, fenix, en_remote_atom, "en_remote")
CAF_ADD_ATOM(fenix, fenix, en_claim_atom, "en_claim")
CAF_ADD_ATOM(fenix, fenix, en_ping_atom, "en_ping")
CAF_ADD_ATOM(fenix, fenix, en_tick_atom, "en_tick")
CAF_ADD_ATOM(fenix, fenix, en_members_atom, "en_members")
CAF_ADD_ATOM(fenix, fenix, en_attach_atom, "en_attach")
