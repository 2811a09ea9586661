#include "fenix/presence/state.hpp"

#include <algorithm>
#include <iterator>

namespace fenix::presence {

state::state(replica_id self) : self_(std::move(self)) {
  // Nothing else: a fresh replica knows no event, not even its own.
}

// -- local operations --------------------------------------------------------

std::optional<changes> state::track(const std::string& topic,
                                    const std::string& key, std::uint64_t owner,
                                    boost::json::object meta) {
  if (find_local(topic, key, owner) != nullptr)
    return std::nullopt;
  changes out;
  auto c = next_event();
  add(dot{self_, c}, stored{topic, key, owner, std::move(meta)}, out);
  return out;
}

std::optional<changes> state::update(const std::string& topic,
                                     const std::string& key,
                                     std::uint64_t owner,
                                     boost::json::object meta) {
  if (find_local(topic, key, owner) == nullptr)
    return std::nullopt;
  // A removal event then an add event: both always travel in the same delta
  // (deltas are cut between operations), so peers apply them together.
  auto out = remove_local(owner, local_key{topic, key});
  auto c = next_event();
  add(dot{self_, c}, stored{topic, key, owner, std::move(meta)}, out);
  return out;
}

changes state::untrack(const std::string& topic, const std::string& key,
                       std::uint64_t owner) {
  if (find_local(topic, key, owner) == nullptr)
    return {};
  return remove_local(owner, local_key{topic, key});
}

changes state::untrack_all(std::uint64_t owner) {
  changes out;
  auto o = local_.find(owner);
  if (o == local_.end())
    return out;
  std::vector<local_key> keys;
  for (auto& kv : o->second)
    keys.push_back(kv.first);
  for (auto& k : keys) {
    auto part = remove_local(owner, k);
    std::move(part.begin(), part.end(), std::back_inserter(out));
  }
  return out;
}

const boost::json::object* state::find_local(const std::string& topic,
                                             const std::string& key,
                                             std::uint64_t owner) const {
  auto o = local_.find(owner);
  if (o == local_.end())
    return nullptr;
  auto k = o->second.find(local_key{topic, key});
  if (k == o->second.end())
    return nullptr;
  return &entries_.at(dot{self_, k->second}).meta;
}

// -- queries -----------------------------------------------------------------

std::vector<entry> state::list(const std::string& topic) const {
  std::vector<entry> out;
  auto t = index_.find(topic);
  if (t != index_.end())
    for (auto& kv : t->second)
      collect(kv.second, out);
  return out;
}

std::vector<entry> state::get_by_key(const std::string& topic,
                                     const std::string& key) const {
  std::vector<entry> out;
  auto t = index_.find(topic);
  if (t == index_.end())
    return out;
  auto k = t->second.find(key);
  if (k != t->second.end())
    collect(k->second, out);
  return out;
}

std::size_t state::size() const {
  std::size_t n = 0;
  for (auto& [r, count] : counts_)
    if (visible(r))
      n += count;
  return n;
}

std::vector<std::string> state::topics() const {
  std::vector<std::string> out;
  for (auto& [topic, keys] : index_) {
    auto any = std::any_of(keys.begin(), keys.end(), [this](auto& kv) {
      return std::any_of(kv.second.begin(), kv.second.end(),
                         [this](const dot& d) { return visible(d.replica); });
    });
    if (any)
      out.push_back(topic);
  }
  return out;
}

// -- replication -------------------------------------------------------------

version_vector state::clock() const {
  version_vector vv;
  for (auto& [r, known] : context_)
    vv.set(r, known.prefix());
  return vv;
}

delta state::extract_delta(const version_vector& since) const {
  delta d;
  for (auto& kv : context_) {
    auto s = extract_slice(kv.first, since.get(kv.first));
    if (!s.context.empty() || s.floor > 0)
      d.slices.emplace(kv.first, std::move(s));
  }
  return d;
}

delta state::take_pending_delta() {
  delta d;
  if (counter_ > pending_from_)
    d.slices.emplace(self_, extract_slice(self_, pending_from_));
  pending_from_ = counter_;
  return d;
}

changes state::merge(const delta& d) {
  changes out;
  for (auto& [r, s] : d.slices)
    if (r != self_ && removed_.count(r) == 0)  // self_ is authoritative
      merge_slice(r, s, out);
  return out;
}

void state::prune_removals(const version_vector& acknowledged) {
  for (auto& [r, n] : acknowledged.counters()) {
    auto known = context_.find(r);
    if (known == context_.end())
      continue;
    // Never prune what take_pending_delta has yet to ship, nor past what
    // this replica knows itself.
    auto a = std::min(n, known->second.prefix());
    if (r == self_)
      a = std::min(a, pending_from_);
    auto fl = floor_.find(r);
    if (fl != floor_.end() && a <= fl->second)
      continue;
    if (a == 0)
      continue;
    floor_[r] = a;
    auto recs = removals_.find(r);
    if (recs == removals_.end())
      continue;
    recs->second.erase(recs->second.begin(), recs->second.upper_bound(a));
    if (recs->second.empty())
      removals_.erase(recs);
  }
}

std::size_t state::removal_records() const {
  std::size_t n = 0;
  for (auto& kv : removals_)
    n += kv.second.size();
  return n;
}

std::size_t state::cloud_intervals(const replica_id& r) const {
  auto i = context_.find(r);
  return i == context_.end() ? 0 : i->second.cloud_intervals();
}

// -- liveness ----------------------------------------------------------------

changes state::mark_down(const replica_id& r) {
  if (r == self_ || removed_.count(r) > 0 || !down_.insert(r).second)
    return {};
  return replica_changes(r, change_kind::leave);
}

changes state::mark_up(const replica_id& r) {
  if (down_.erase(r) == 0)
    return {};
  return replica_changes(r, change_kind::join);
}

changes state::remove_replica(const replica_id& r) {
  changes out;
  if (r == self_ || !removed_.insert(r).second)
    return out;
  auto i = entries_.lower_bound(dot{r, 0});
  while (i != entries_.end() && i->first.replica == r)
    remove(i++, out);
  context_.erase(r);
  removals_.erase(r);
  floor_.erase(r);
  down_.erase(r);
  return out;
}

std::vector<replica_id> state::replicas() const {
  std::vector<replica_id> out;
  for (auto& kv : context_)
    out.push_back(kv.first);
  if (context_.count(self_) == 0)
    out.insert(std::lower_bound(out.begin(), out.end(), self_), self_);
  return out;
}

std::vector<replica_id> state::superseded_replicas() const {
  std::vector<replica_id> out;
  auto rs = replicas();  // sorted by (node, incarnation)
  for (std::size_t i = 0; i + 1 < rs.size(); ++i)
    if (rs[i].node == rs[i + 1].node)
      out.push_back(rs[i]);
  return out;
}

// -- private helpers ---------------------------------------------------------

std::uint64_t state::next_event() {
  context_[self_].insert(++counter_);
  return counter_;
}

void state::add(const dot& tag, stored value, changes& out) {
  index_[value.topic][value.key].insert(tag);
  if (tag.replica == self_)
    local_[value.owner][local_key{value.topic, value.key}] = tag.counter;
  ++counts_[tag.replica];
  if (visible(tag.replica))
    out.push_back(
      change{value.topic, value.key, value.meta, change_kind::join, tag});
  entries_.emplace(tag, std::move(value));
}

void state::remove(std::map<dot, stored>::iterator i, changes& out) {
  auto& tag = i->first;
  auto& value = i->second;
  auto t = index_.find(value.topic);
  auto k = t->second.find(value.key);
  k->second.erase(tag);
  if (k->second.empty()) {
    t->second.erase(k);
    if (t->second.empty())
      index_.erase(t);
  }
  if (tag.replica == self_) {
    auto o = local_.find(value.owner);
    o->second.erase(local_key{value.topic, value.key});
    if (o->second.empty())
      local_.erase(o);
  }
  auto c = counts_.find(tag.replica);
  if (--c->second == 0)
    counts_.erase(c);
  if (visible(tag.replica))
    out.push_back(change{value.topic, value.key, std::move(value.meta),
                         change_kind::leave, tag});
  entries_.erase(i);
}

changes state::remove_local(std::uint64_t owner, const local_key& k) {
  changes out;
  auto counter = local_.at(owner).at(k);
  auto event = next_event();
  removals_[self_].emplace(event, counter);
  remove(entries_.find(dot{self_, counter}), out);
  return out;
}

changes state::replica_changes(const replica_id& r, change_kind kind) const {
  changes out;
  for (auto i = entries_.lower_bound(dot{r, 0});
       i != entries_.end() && i->first.replica == r; ++i)
    out.push_back(
      change{i->second.topic, i->second.key, i->second.meta, kind, i->first});
  return out;
}

void state::collect(const std::set<dot>& dots, std::vector<entry>& out) const {
  for (auto& tag : dots) {
    if (!visible(tag.replica))
      continue;
    auto& v = entries_.at(tag);
    out.push_back(entry{v.topic, v.key, v.owner, v.meta, tag});
  }
}

void state::merge_slice(const replica_id& r, const delta_slice& s,
                        changes& out) {
  // The slice speaks for its values, removal events and their targets even
  // if a sloppy sender left them out of its context.
  auto ctx = s.context;
  std::vector<std::uint64_t> live;
  live.reserve(s.values.size());
  for (auto& v : s.values) {
    ctx.insert(v.counter);
    live.push_back(v.counter);
  }
  std::sort(live.begin(), live.end());
  for (auto& x : s.removals) {
    ctx.insert(x.event);
    ctx.insert(x.target);
  }
  // Observed removes: ours, covered by the slice, not alive in it.
  for (auto& [lo, hi] : ctx.intervals()) {
    auto i = entries_.lower_bound(dot{r, lo});
    while (i != entries_.end() && i->first.replica == r
           && i->first.counter <= hi) {
      auto next = std::next(i);
      if (!std::binary_search(live.begin(), live.end(), i->first.counter))
        remove(i, out);
      i = next;
    }
  }
  // Adds: entries whose dot this state has never seen (a dot already in the
  // context is either here or known dead, so it is never resurrected).
  auto& known = context_[r];
  for (auto& v : s.values) {
    if (known.contains(v.counter))
      continue;
    add(dot{r, v.counter}, stored{v.topic, v.key, v.owner, v.meta}, out);
    known.insert(v.counter);
  }
  known.insert(ctx);
  // Removal records, kept only above the floor.
  auto fl = std::max(s.floor, floor_.count(r) > 0 ? floor_.at(r) : 0);
  if (fl > 0)
    floor_[r] = fl;
  auto& recs = removals_[r];
  recs.erase(recs.begin(), recs.upper_bound(fl));
  for (auto& x : s.removals)
    if (x.event > fl)
      recs.emplace(x.event, x.target);
  if (recs.empty())
    removals_.erase(r);
}

delta_slice state::extract_slice(const replica_id& r,
                                 std::uint64_t since) const {
  delta_slice s;
  auto fl = floor_.find(r);
  if (fl != floor_.end() && since < fl->second) {
    // Records the receiver needs were pruned: send the full slice, and say
    // which records it lacks.
    since = 0;
    s.floor = fl->second;
  }
  auto known = context_.find(r);
  if (known == context_.end())
    return s;
  s.context = known->second.above(since);
  if (auto recs = removals_.find(r); recs != removals_.end()) {
    for (auto i = recs->second.upper_bound(since); i != recs->second.end();
         ++i) {
      s.removals.push_back(removal{i->first, i->second});
      s.context.insert(i->second);  // may be <= since: the point of records
    }
  }
  for (auto i = entries_.upper_bound(dot{r, since});
       i != entries_.end() && i->first.replica == r; ++i)
    s.values.push_back(delta_value{i->first.counter, i->second.topic,
                                   i->second.key, i->second.owner,
                                   i->second.meta});
  return s;
}

}  // namespace fenix::presence
