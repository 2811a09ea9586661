#include "fenix/entity.hpp"

#include <caf/all.hpp>

#include "fenix/entity/router.hpp"
#include "fenix/entity/shared.hpp"

namespace fenix {

namespace {

const auto entity_category = caf::atom("entity");

}  // namespace

// -- errors -------------------------------------------------------------------

std::string to_string(entity_error x) {
  switch (x) {
  case entity_error::unknown_kind:
    return "unknown_kind";
  case entity_error::overloaded:
    return "overloaded";
  case entity_error::unavailable:
    return "unavailable";
  case entity_error::stopped:
    return "stopped";
  }
  return "entity_error";
}

caf::error make_error(entity_error x) {
  return caf::error{static_cast<std::uint8_t>(x), entity_category};
}

bool is_entity_error(const caf::error& e, entity_error x) {
  return e.category() == entity_category
         && e.code() == static_cast<std::uint8_t>(x);
}

// -- entity -------------------------------------------------------------------

entity::entity(caf::actor_config& cfg, std::string key, fn_type fn,
               std::shared_ptr<detail::entity_shared> shared)
  : caf::event_based_actor(cfg),
    key_(std::move(key)),
    fn_(std::move(fn)),
    shared_(std::move(shared)) {}

bool entity::owned() const {
  return shared_->leased(std::chrono::steady_clock::now());
}

caf::behavior entity::make_behavior() {
  return fn_(this);
}

// -- entities -----------------------------------------------------------------

entities::entities(caf::actor_system& sys, entity_options opts)
  : opts_(std::move(opts)),
    shared_(std::make_shared<detail::entity_shared>()) {
  router_ = detail::spawn_entity_router(sys, opts_, shared_);
}

entities::~entities() {
  caf::anon_send_exit(router_, caf::exit_reason::user_shutdown);
}

void entities::kind(std::string pattern, entity_fn fn) {
  std::lock_guard<std::mutex> guard{shared_->mtx};
  shared_->kinds.emplace_back(std::move(pattern), std::move(fn));
}

std::uint64_t entities::activations() const {
  return shared_->activations.load();
}

std::uint64_t entities::active() const {
  return shared_->active.load();
}

}  // namespace fenix
