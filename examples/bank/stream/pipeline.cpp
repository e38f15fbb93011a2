#include "pipeline.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

namespace bank {
namespace {

// KEYS: the writer tag, the output stream, the error stream, the input stream, then the state
// keys. ARGV: the expected tag, the new tag, the group, the number of scored records, of
// rejected ones, "1" when alerts carry reasons (else "0"), the output stream's cap (0: none),
// the error stream's (0: none; else about that many of its newest entries are kept);
// then 7 values per scored record (8 for an alert when alerts carry reasons: its `reasons`
// last), 3 per rejected one, one state per state key, and the entry ids to acknowledge.
// Everything that could fail is checked before the first write of the batch, so that the
// script writes all of it or nothing.
// Answers 1 (written), 0 (another writer's tag: nothing written) or 2 (the output stream is at
// its cap even after trimming what its consumer groups have acknowledged: nothing of the batch
// written; sent again later). The trim removes only entries below every group's oldest
// unacknowledged entry and below its last delivered one, so no consumer group loses an entry it
// has not acknowledged; with no group at all nothing is trimmed (nobody has read anything).
constexpr const char* kCommitScript = R"lua(
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
for k = 2, 4 do
  local t = redis.call('TYPE', KEYS[k])['ok']
  if t ~= 'stream' and not (t == 'none' and k < 4) then
    return redis.error_reply(KEYS[k] .. ' is a ' .. t .. ', not a stream')
  end
end
local cap = tonumber(ARGV[7])
if cap > 0 and tonumber(ARGV[4]) > 0 and redis.call('XLEN', KEYS[2]) >= cap then
  local function less(x, y)  -- stream ids compared as numbers (digit strings: exact, any size)
    local xm, xs = string.match(x, '^(%d+)-(%d+)$')
    local ym, ys = string.match(y, '^(%d+)-(%d+)$')
    if #xm ~= #ym then return #xm < #ym end
    if xm ~= ym then return xm < ym end
    if #xs ~= #ys then return #xs < #ys end
    return xs < ys
  end
  local floor = nil
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[2])) do
    local info = {}
    for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
    local keep = info['last-delivered-id']
    if info['pending'] > 0 then keep = redis.call('XPENDING', KEYS[2], info['name'])[2] end
    if floor == nil or less(keep, floor) then floor = keep end
  end
  if floor ~= nil then redis.call('XTRIM', KEYS[2], 'MINID', floor) end
  if redis.call('XLEN', KEYS[2]) >= cap then return 2 end
end
local reasons = ARGV[6] == '1'
local a = 9
for i = 1, tonumber(ARGV[4]) do
  if reasons and ARGV[a + 4] == '1' then
    redis.call('XADD', KEYS[2], '*', 'entry', ARGV[a], 'id_transacao', ARGV[a + 1], 'id_cliente', ARGV[a + 2],
               'fraud_probability', ARGV[a + 3], 'alert', ARGV[a + 4], 'segment_id', ARGV[a + 5],
               'segment_name', ARGV[a + 6], 'reasons', ARGV[a + 7])
    a = a + 8
  else
    redis.call('XADD', KEYS[2], '*', 'entry', ARGV[a], 'id_transacao', ARGV[a + 1], 'id_cliente', ARGV[a + 2],
               'fraud_probability', ARGV[a + 3], 'alert', ARGV[a + 4], 'segment_id', ARGV[a + 5],
               'segment_name', ARGV[a + 6])
    a = a + 7
  end
end
for i = 1, tonumber(ARGV[5]) do
  if ARGV[8] ~= '0' then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'entry', ARGV[a], 'id_transacao', ARGV[a + 1],
               'error', ARGV[a + 2])
  else
    redis.call('XADD', KEYS[3], '*', 'entry', ARGV[a], 'id_transacao', ARGV[a + 1], 'error', ARGV[a + 2])
  end
  a = a + 3
end
local states = {}  -- the states: MSET, a few hundred keys a call (one command, not one per key)
for k = 5, #KEYS do
  states[#states + 1] = KEYS[k]
  states[#states + 1] = ARGV[a]
  a = a + 1
  if #states == 1000 then redis.call('MSET', unpack(states)); states = {} end
end
if #states > 0 then redis.call('MSET', unpack(states)) end
redis.call('SET', KEYS[1], ARGV[2])
local ids = {}
for i = a, #ARGV do
  ids[#ids + 1] = ARGV[i]
  if #ids == 1000 then redis.call('XACK', KEYS[4], ARGV[3], unpack(ids)); ids = {} end
end
if #ids > 0 then redis.call('XACK', KEYS[4], ARGV[3], unpack(ids)) end
return 1
)lua";

long long entry_millis(std::string_view id) {
  long long ms = 0;
  for (const char c : id.substr(0, id.find('-'))) {
    if (c < '0' || c > '9') return 0;
    ms = ms * 10 + (c - '0');
  }
  return ms;
}

long long now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string random_hex() {
  std::random_device device;
  const unsigned long long x = (static_cast<unsigned long long>(device()) << 32) ^ device();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", x);
  return text;
}

}  // namespace

Entries entries_of(Reply reply, const redisReply* list) {
  Entries out;
  if (list == nullptr || list->type != REDIS_REPLY_ARRAY) return out;
  auto view = [](const redisReply* r) { return r->str ? std::string_view(r->str, r->len) : std::string_view(); };
  for (std::size_t i = 0; i < list->elements; ++i) {
    const redisReply* item = list->element[i];
    if (item->type != REDIS_REPLY_ARRAY || item->elements < 1) continue;
    Entry e{view(item->element[0]), std::nullopt};
    if (item->elements > 1 && item->element[1]->type == REDIS_REPLY_ARRAY) {
      const redisReply* fields = item->element[1];
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (view(fields->element[f]) != "json") continue;
        e.repeated = e.json || e.too_large > 0;  // (XADD takes a field name twice)
        e.too_large = oversized(fields->element[f + 1]);
        e.json = view(fields->element[f + 1]);
      }
    }
    out.list.push_back(e);
  }
  out.reply = std::move(reply);
  return out;
}

Entries group_entries(Reply reply) {
  if (reply.is_error()) throw RedisError("redis: XREADGROUP: " + reply.text());
  if (reply.is_nil() || reply.size() == 0) return {};
  const redisReply* stream = reply.element(0);  // [name, entries]
  return stream->elements > 1 ? entries_of(std::move(reply), stream->element[1]) : Entries{};
}

std::vector<std::string> read_group_command(const StreamOptions& o, const std::string& start, int block_ms) {
  std::vector<std::string> argv = {"XREADGROUP", "GROUP", o.group, o.consumer, "COUNT", std::to_string(o.batch)};
  if (block_ms > 0) argv.insert(argv.end(), {"BLOCK", std::to_string(block_ms)});
  argv.insert(argv.end(), {"STREAMS", o.input, start});
  return argv;
}

Pipeline::Pipeline(Redis& redis, FraudScorer& scorer, const StreamOptions& o, StreamCounters& counters)
    : redis_(redis), scorer_(scorer), o_(o), counters_(counters), writer_key_("writer:" + o.state_prefix),
      tag_base_(o.consumer + ":" + random_hex() + ":") {
  scorer_.state().clear();  // a new connection: nothing held is known to be Redis's
  // loaded once per connection (a restarted Redis has forgotten it: the scorer reconnects)
  script_sha_ = redis_.command({"SCRIPT", "LOAD", kCommitScript}).text();
}

void Pipeline::push(Entries entries) {
  for (std::size_t begin = 0; begin < entries.list.size(); begin += o_.batch) {
    Batch b;
    const std::size_t end = std::min(entries.list.size(), begin + o_.batch);
    b.entries.reply = entries.reply;
    b.entries.list.assign(entries.list.begin() + static_cast<std::ptrdiff_t>(begin),
                          entries.list.begin() + static_cast<std::ptrdiff_t>(end));
    const std::size_t n = b.size();
    b.transactions.resize(n);
    b.errors.resize(n);
    b.ids.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const Entry& e = b.entries.list[i];
      if (!e.json) {
        b.errors[i] = "the entry has no `json` field";
        continue;
      }
      if (e.repeated) {
        b.errors[i] = "the entry has more than one `json` field";
        continue;
      }
      // Not parsed, not copied: simdjson would copy it and grow its buffers to its size (kept).
      if (const std::size_t bytes = std::max(e.too_large, e.json->size()); bytes > o_.max_record_bytes) {
        b.errors[i] = record_too_large(bytes, o_.max_record_bytes);
        continue;
      }
      try {
        b.transactions[i] = reader_.read(*e.json);
      } catch (const std::exception& error) {
        b.errors[i] = error.what();
        b.ids[i] = reader_.last_id();
      }
    }
    if (tag_) prefetch_states(b);
    ready_.push_back(std::move(b));
  }
}

std::vector<std::string> Pipeline::missing_states(const Batch& batch) const {
  std::set<std::string> missing;
  for (const auto& t : batch.transactions)
    if (t && scorer_.state().find(t->customer) == nullptr) missing.insert(t->customer);
  return {missing.begin(), missing.end()};
}

// MGET of the writer tag and the states, behind the commits in flight. The answer is used only
// if the tag is the one the last of those commits sets: then no other consumer has written
// since, and the states are Redis's as of every commit this consumer sends after it.
void Pipeline::prefetch_states(const Batch& batch) {
  Expected asked{Expect::kStates, missing_states(batch), *tag_};
  if (asked.customers.empty()) return;
  std::vector<std::string> argv = {"MGET", writer_key_};
  for (const std::string& c : asked.customers) argv.push_back(o_.state_prefix + c);
  redis_.append(std::vector<std::string_view>(argv.begin(), argv.end()));
  redis_.flush();
  expected_.push_back(std::move(asked));
  ++prefetching_;
}

void Pipeline::take_states(const Expected& asked, const Reply& reply) {
  if (reply.is_error()) throw RedisError("redis: loading states: " + reply.text());
  const redisReply* tag = reply.element(0);
  if (tag->type != REDIS_REPLY_STRING || std::string_view(tag->str, tag->len) != asked.tag) return;
  std::size_t k = 1;
  for (const std::string& c : asked.customers) {
    const redisReply* value = reply.element(k++);
    // (one held already is newer: computed from by a batch after the question)
    if (value->type == REDIS_REPLY_STRING && scorer_.state().find(c) == nullptr)
      scorer_.state().set(c, CustomerState::decode(std::string_view(value->str, value->len)));
  }
}

void Pipeline::submit(bool read_ahead) {
  auto missing = [&] { return !tag_ || !missing_states(ready_.front()).empty(); };
  while (prefetching_ > 0 && missing()) settle_next();
  if (missing()) {
    settle_all();  // (a conflict puts older batches back in front)
    load_missing_states(ready_.front());
  }
  InFlight f = compute(std::move(ready_.front()));
  ready_.pop_front();
  send_commit(f);
  in_flight_.push_back(std::move(f));
  expected_.push_back({Expect::kCommit});
  if (read_ahead && ready_.size() < 3 && !reading_) {
    // three batches' worth: the next ones to compute while Redis commits those before
    StreamOptions ahead = o_;
    ahead.batch = 3 * o_.batch;
    const std::vector<std::string> argv = read_group_command(ahead, ">", 0);
    redis_.append(std::vector<std::string_view>(argv.begin(), argv.end()), /*capped=*/true);
    expected_.push_back({Expect::kRead});
    reading_ = true;
  }
  redis_.flush();
}

// With nothing in flight: the writer tag and the states the batch needs that are not held.
void Pipeline::load_missing_states(const Batch& batch) {
  const std::vector<std::string> missing = missing_states(batch);
  std::vector<std::string> get = {"MGET", writer_key_};
  for (const std::string& c : missing) get.push_back(o_.state_prefix + c);
  const Reply reply = redis_.command(get);
  const redisReply* tag = reply.element(0);
  tag_ = tag->type == REDIS_REPLY_STRING ? std::string(tag->str, tag->len) : std::string();
  std::size_t k = 1;
  for (const std::string& c : missing) {
    const redisReply* value = reply.element(k++);
    if (value->type == REDIS_REPLY_STRING)
      scorer_.state().set(c, CustomerState::decode(std::string_view(value->str, value->len)));
  }
}

Pipeline::InFlight Pipeline::compute(Batch batch) {
  InFlight f;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch.errors[i].empty()) continue;
    try {
      scorer_.add(std::string(batch.entries.list[i].id), *batch.transactions[i]);
    } catch (const std::exception& error) {  // refused by the features: rejected, the state untouched
      batch.errors[i] = error.what();
      batch.ids[i] = batch.transactions[i]->id;
      batch.transactions[i].reset();
    }
  }
  f.scored = scorer_.score();
  for (const Scored& s : f.scored) f.alerts += s.alert;
  f.batch = std::move(batch);
  return f;
}

void Pipeline::send_commit(const InFlight& f) {
  const Batch& b = f.batch;
  std::deque<std::string> text;  // what the views point into (a deque never moves its strings)
  std::set<std::string_view> customers;
  for (const Scored& s : f.scored) customers.insert(s.transaction.customer);
  const std::string next_tag = tag_base_ + std::to_string(++sequence_);
  std::vector<std::string_view> argv = {"EVALSHA", script_sha_, text.emplace_back(std::to_string(4 + customers.size())),
                                        writer_key_, o_.output, o_.errors, o_.input};
  for (const std::string_view c : customers) argv.push_back(text.emplace_back(o_.state_prefix + std::string(c)));
  const bool with_reasons = scorer_.reasons() > 0;
  argv.insert(argv.end(), {*tag_, next_tag, o_.group, text.emplace_back(std::to_string(f.scored.size())),
                           text.emplace_back(std::to_string(b.size() - f.scored.size())), with_reasons ? "1" : "0",
                           text.emplace_back(std::to_string(o_.max_output_length)),
                           text.emplace_back(std::to_string(o_.max_errors_length))});
  for (const Scored& s : f.scored) {
    argv.insert(argv.end(), {s.entry, s.transaction.id, s.transaction.customer,
                             text.emplace_back(nlohmann::json(s.probability).dump()), s.alert ? "1" : "0",
                             text.emplace_back(std::to_string(s.segment.id)), s.segment.name});
    if (with_reasons && s.alert) argv.push_back(text.emplace_back(reasons_json(s).dump()));  // the script's 8th value
  }
  for (std::size_t i = 0; i < b.size(); ++i)
    if (!b.errors[i].empty())
      argv.insert(argv.end(), {b.entries.list[i].id, text.emplace_back(b.ids[i].value_or("")), b.errors[i]});
  for (const std::string_view c : customers)
    argv.push_back(text.emplace_back(scorer_.state().find(std::string(c))->encode()));
  for (const Entry& e : b.entries.list) argv.push_back(e.id);
  redis_.append(argv);
  tag_ = next_tag;
}

void Pipeline::settle_oldest() {
  const std::size_t before = in_flight_.size();
  while (!expected_.empty() && in_flight_.size() == before) settle_next();
  // entries read ahead right behind it are taken now: the next batch to compute
  while (!expected_.empty() && expected_.front().kind == Expect::kRead) settle_next();
}

void Pipeline::settle_all() {
  while (!expected_.empty()) settle_next();
}

void Pipeline::settle_next() {
  const Expected asked = std::move(expected_.front());
  const Expect kind = asked.kind;
  expected_.pop_front();
  Reply reply = redis_.read();
  if (kind == Expect::kStates) {
    --prefetching_;
    if (tag_) take_states(asked, reply);  // (none after a conflict: the states are being reloaded)
    return;
  }
  if (kind == Expect::kRead) {
    reading_ = false;
    push(group_entries(std::move(reply)));
    return;
  }
  if (reply.is_error()) throw RedisError("redis: a micro-batch's commit failed: " + reply.text());
  if (doomed_ > 0) {  // sent after one that conflicted: it expected a tag never written
    --doomed_;
    if (reply.integer() != 0) throw RedisError("a commit after a conflicting one was written: two writers share a tag");
    return;
  }
  if (reply.integer() == 0) return roll_back();
  if (reply.integer() == 2) return wait_for_output();
  const InFlight& f = in_flight_.front();
  counters_.in += f.batch.size();
  counters_.scored += f.scored.size();
  counters_.rejected += f.batch.size() - f.scored.size();
  counters_.alerts += f.alerts;
  ++counters_.batches;
  const long long now = now_millis();
  for (const Entry& e : f.batch.entries.list) latencies_.push_back(now - entry_millis(e.id));
  in_flight_.pop_front();
  conflicts_in_a_row_ = 0;
  full_in_a_row_ = 0;
}

// The oldest commit found another writer's tag: it and every later one in flight wrote
// nothing (each expects the tag of the one before). They go back to the front of the queue,
// to be computed again from the states in Redis.
void Pipeline::roll_back() {
  counters_.retries += in_flight_.size();
  requeue();
  // Two consumers committing at once take turns; one that keeps losing waits a little, at random.
  if (++conflicts_in_a_row_ > 2) {
    static thread_local std::minstd_rand random(std::random_device{}());
    const int most = std::min(20, conflicts_in_a_row_);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, most)(random)));
  }
}

// Every batch in flight back to the front of the queue, the states held forgotten (they hold
// those batches' effects): the oldest commit in flight wrote nothing, nor will the later ones.
void Pipeline::requeue() {
  scorer_.state().clear();
  tag_.reset();
  doomed_ = in_flight_.size() - 1;  // their replies, still to read, say 0 too
  for (; !in_flight_.empty(); in_flight_.pop_back()) ready_.push_front(std::move(in_flight_.back().batch));
}

// The oldest commit found the output stream at --max-output-length: it wrote nothing, and
// neither did any later one in flight (each expects the tag it would have set). Backpressure:
// they go back to the queue exactly as after a conflict (their states came from batches not
// written), and the scorer waits a little (10 ms, doubling to 320 ms while it stays full)
// before sending them again; nothing is dropped, and the entries stay pending in the
// meantime, so a kill or a Redis restart while waiting loses nothing either.
void Pipeline::wait_for_output() {
  ++full_in_a_row_;
  ++counters_.output_full;
  requeue();
  const auto now = std::chrono::steady_clock::now();
  if (full_in_a_row_ == 1 && now - last_full_report_ >= std::chrono::seconds(5)) {
    std::fprintf(stderr,
                 "bank_stream_scorer: %s holds %lld entries or more (--max-output-length): waiting for its consumer "
                 "groups to acknowledge\n",
                 o_.output.c_str(), o_.max_output_length);
    last_full_report_ = now;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(10 << std::min(full_in_a_row_ - 1, 5)));
}

}  // namespace bank
