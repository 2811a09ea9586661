#include "fenix/cluster.hpp"

#include <fstream>
#include <stdexcept>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "fenix/mesh/node.hpp"
#include "fenix/mesh/protocol.hpp"
#include "fenix/endpoint.hpp"
#include "fenix/entity.hpp"
#include "fenix/detail/endpoint_context.hpp"

namespace fenix {

namespace mesh {

void openssl_error_queue_fix();  // mesh/openssl.cpp

}  // namespace mesh

namespace {

std::string advertised_host(const std::string& host) {
  if (host != "0.0.0.0" && host != "::" && !host.empty())
    return host;
  char name[256] = "localhost";
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

bool readable(const std::string& path) {
  std::ifstream in{path};
  return static_cast<bool>(in);
}

}  // namespace

// -- static helpers
// -------------------------------------------------------------

void cluster::check(const cluster_options& opts) {
  auto fail = [](const std::string& what) { throw std::runtime_error(what); };
  bool any_tls =
    !opts.certificate.empty() || !opts.key.empty() || !opts.ca.empty();
  if (any_tls
      && (opts.certificate.empty() || opts.key.empty() || opts.ca.empty()))
    fail("TLS needs a certificate, a key and a CA together");
  for (auto* path : {&opts.certificate, &opts.key, &opts.ca})
    if (!path->empty() && !readable(*path))
      fail("cannot read " + *path);
  if (!opts.tls() && !opts.insecure && !mesh::is_loopback(opts.host))
    fail("refusing to expose the cluster port on " + opts.host
         + " without TLS (give a certificate, key and CA, or allow it with"
           " --node-insecure / cluster_options::insecure)");
  for (auto& seed : opts.seeds)
    if (!mesh::split_address(seed))
      fail("bad seed address (HOST:PORT expected): " + seed);
  if (opts.heartbeat_interval.count() <= 0
      || opts.connection_timeout <= opts.heartbeat_interval)
    fail("the connection timeout must exceed the heartbeat interval");
  if (opts.gossip_period.count() <= 0 || opts.reconnect_min.count() <= 0
      || opts.reconnect_max < opts.reconnect_min)
    fail("bad gossip or reconnect period");
}

void cluster::configure(caf::actor_system_config& cfg,
                        const cluster_options& opts) {
  mesh::add_cluster_message_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval",
          caf::timespan{opts.heartbeat_interval});
  cfg.set("middleman.connection-timeout",
          caf::timespan{opts.connection_timeout});
  if (opts.tls()) {
    cfg.set("openssl.certificate", opts.certificate);
    cfg.set("openssl.key", opts.key);
    cfg.set("openssl.cafile", opts.ca);
    cfg.load<caf::openssl::manager>();
    mesh::openssl_error_queue_fix();
  }
}

std::string cluster::address_of(const cluster_options& opts) {
  if (!opts.advertise.empty())
    return opts.advertise;
  return advertised_host(opts.host) + ":" + std::to_string(opts.port);
}

// -- cluster
// --------------------------------------------------------------------

cluster::cluster(endpoint& ep, cluster_options opts)
  : ep_(ep),
    view_(std::make_shared<view>()) {
  check(opts);
  auto& sys = ep.system();
  if (!sys.has_middleman() || (opts.tls() && !sys.has_openssl_manager()))
    throw std::runtime_error(
      "the actor system lacks the middleman (call cluster::configure)");
  auto ctx = ep.context();
  mesh::node_info me;
  me.name = ctx->presence->replica().node;
  me.incarnation = ctx->presence->replica().incarnation;
  me.shards = static_cast<std::uint32_t>(ctx->presence->shards().size());
  auto seeds = opts.seeds;
  auto host = opts.host;
  auto port = opts.port;
  auto gossip = static_cast<std::uint64_t>(opts.gossip_period.count());
  auto permdown = static_cast<std::uint64_t>(opts.permdown_period.count());
  // With port 0 the address is only known once the port is bound: until
  // the actor learns it (cl_attach), it refuses hellos.
  if (port != 0)
    me.address = address_of(opts);
  actor_ = mesh::spawn_cluster_node(sys, opts, me, ctx, view_);
  // Forwarding and gossip are wired before anyone can connect.
  ctx->ps->attach_cluster(actor_);
  for (auto& shard : ctx->presence->shards())
    caf::anon_send(shard, cl_attach_atom::value, gossip, permdown);
  auto res = opts.tls()
               ? caf::openssl::publish(actor_, port, host.c_str(), true)
               : sys.middleman().publish(actor_, port, host.c_str(), true);
  if (!res) {
    caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
    throw std::runtime_error("cannot open the cluster port " + host + ":"
                             + std::to_string(port) + ": "
                             + sys.render(res.error()));
  }
  port_ = *res;
  opts.port = port_;
  address_ = address_of(opts);
  me.address = address_;
  caf::anon_send(actor_, cl_attach_atom::value, me);
  caf::anon_send(actor_, cl_join_atom::value, std::move(seeds));
}

cluster::~cluster() {
  leave();
}

std::size_t cluster::nodes() const {
  return 1 + view_->up.load();
}

std::vector<std::string> cluster::peers() const {
  std::lock_guard<std::mutex> guard{view_->mtx};
  return view_->peers;
}

void cluster::attach(entities& e) {
  caf::anon_send(actor_, en_attach_atom::value, e.router());
}

void cluster::leave() {
  if (left_)
    return;
  left_ = true;
  caf::scoped_actor self{ep_.system()};
  self->request(actor_, std::chrono::seconds{10}, cl_leave_atom::value)
    .receive([](cl_leave_atom) {}, [](caf::error&) {});
  // Gone before we return: the endpoint may shut PubSub and presence down
  // next, which the cluster actor uses.
  self->send_exit(actor_, caf::exit_reason::user_shutdown);
  self->wait_for(actor_);
}

}  // namespace fenix
