#include "redis_loop.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>
#include <thread>

#include "redis.hpp"

namespace bank {
namespace {

using Clock = std::chrono::steady_clock;

struct Entry {
  std::string id;
  std::optional<std::string> json;  // the `json` field; none when absent or the entry was deleted
};

// [[id, [field, value, ...]], ...] as Entries.
std::vector<Entry> entries_of(const redisReply* list) {
  std::vector<Entry> out;
  if (list == nullptr || list->type != REDIS_REPLY_ARRAY) return out;
  for (std::size_t i = 0; i < list->elements; ++i) {
    const redisReply* item = list->element[i];
    if (item->type != REDIS_REPLY_ARRAY || item->elements < 1) continue;
    Entry e{text_of(item->element[0]), std::nullopt};
    if (item->elements > 1 && item->element[1]->type == REDIS_REPLY_ARRAY) {
      const redisReply* fields = item->element[1];
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2)
        if (text_of(fields->element[f]) == "json") e.json = text_of(fields->element[f + 1]);
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Entry> read_group(Redis& redis, const StreamOptions& o, const std::string& start, int block_ms) {
  std::vector<std::string> argv = {"XREADGROUP", "GROUP", o.group, o.consumer, "COUNT", std::to_string(o.batch)};
  if (block_ms > 0) argv.insert(argv.end(), {"BLOCK", std::to_string(block_ms)});
  argv.insert(argv.end(), {"STREAMS", o.input, start});
  const Reply reply = redis.command(argv);
  if (reply.is_nil() || reply.size() == 0) return {};
  const redisReply* stream = reply.element(0);  // [name, entries]
  return stream->elements > 1 ? entries_of(stream->element[1]) : std::vector<Entry>{};
}

// Entries another consumer left pending for claim_idle_ms (a consumer that died).
std::vector<Entry> claim_idle(Redis& redis, const StreamOptions& o) {
  const Reply reply = redis.command({"XAUTOCLAIM", o.input, o.group, o.consumer, std::to_string(o.claim_idle_ms), "0-0",
                                     "COUNT", std::to_string(o.batch)});
  return reply.size() > 1 ? entries_of(reply.element(1)) : std::vector<Entry>{};
}

long long entry_millis(const std::string& id) {
  try {
    return std::stoll(id.substr(0, id.find('-')));
  } catch (const std::exception&) {
    return 0;
  }
}

long long now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string number_text(double x) { return nlohmann::json(x).dump(); }

class Batcher {
 public:
  Batcher(Redis& redis, FraudScorer& scorer, const StreamOptions& o, StreamCounters& counters)
      : redis_(redis), scorer_(scorer), o_(o), counters_(counters) {}

  // Scores `entries` and commits everything they cause in one transaction; retried when
  // another consumer changed one of the customers' states meanwhile (WATCH).
  void process(const std::vector<Entry>& entries) {
    for (int attempt = 0;; ++attempt) {
      if (commit(entries)) break;
      ++counters_.retries;
      if (attempt > 100) throw RedisError("a micro-batch kept conflicting with another consumer");
    }
    counters_.in += entries.size();
    ++counters_.batches;
  }

  std::vector<long long>& latencies() { return latencies_; }

 private:
  bool commit(const std::vector<Entry>& entries) {
    std::vector<nlohmann::json> records(entries.size());
    std::vector<std::optional<Transaction>> transactions(entries.size());
    std::vector<std::string> errors(entries.size());
    std::set<std::string> customers;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].json) {
        errors[i] = "the entry has no `json` field";
        continue;
      }
      try {
        records[i] = nlohmann::json::parse(*entries[i].json);
        transactions[i] = parse_transaction(records[i]);
        customers.insert(transactions[i]->customer);
      } catch (const std::exception& error) {
        errors[i] = error.what();
      }
    }
    load_states(customers);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!errors[i].empty()) continue;
      try {
        scorer_.add(entries[i].id, *transactions[i]);
      } catch (const std::exception& error) {
        errors[i] = error.what();
      }
    }
    const std::vector<Scored> scored = scorer_.score();

    std::vector<std::vector<std::string>> commands = {{"MULTI"}};
    std::set<std::string> touched;
    std::size_t next = 0, alerts = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!errors[i].empty()) {
        const auto id = records[i].is_object() ? records[i].find("id_transacao") : records[i].end();
        const std::string tx = records[i].is_object() && id != records[i].end() ? (id->is_string() ? id->get<std::string>() : id->dump()) : "";
        commands.push_back({"XADD", o_.errors, "*", "entry", entries[i].id, "id_transacao", tx, "error", errors[i]});
        continue;
      }
      const Scored& s = scored.at(next++);
      touched.insert(s.transaction.customer);
      alerts += s.alert;
      commands.push_back({"XADD", o_.output, "*", "entry", s.entry, "id_transacao", s.transaction.id, "id_cliente",
                          s.transaction.customer, "fraud_probability", number_text(s.probability), "alert",
                          s.alert ? "1" : "0", "segment_id", std::to_string(s.segment.id), "segment_name",
                          s.segment.name});
    }
    for (const std::string& customer : touched)
      commands.push_back({"SET", o_.state_prefix + customer, scorer_.state().find(customer)->encode()});
    std::vector<std::string> ack = {"XACK", o_.input, o_.group};
    for (const Entry& e : entries) ack.push_back(e.id);
    commands.push_back(std::move(ack));
    commands.push_back({"EXEC"});
    const std::vector<Reply> replies = redis_.pipeline(commands);
    for (const Reply& r : replies)
      if (r.is_error()) throw RedisError("redis: a micro-batch's transaction failed: " + r.text());
    if (replies.back().is_nil()) return false;  // a watched state changed: nothing was written
    counters_.scored += scored.size();
    counters_.rejected += entries.size() - scored.size();
    counters_.alerts += alerts;
    const long long now = now_millis();
    for (const Entry& e : entries) latencies_.push_back(now - entry_millis(e.id));
    return true;
  }

  // The states of the batch's customers, as committed in Redis (watched until EXEC).
  void load_states(const std::set<std::string>& customers) {
    scorer_.state().clear();
    if (customers.empty()) return;
    std::vector<std::string> watch = {"WATCH"}, get = {"MGET"};
    for (const std::string& c : customers) {
      watch.push_back(o_.state_prefix + c);
      get.push_back(o_.state_prefix + c);
    }
    const std::vector<Reply> replies = redis_.pipeline({watch, get});  // one round trip
    for (const Reply& r : replies)
      if (r.is_error()) throw RedisError("redis: loading states: " + r.text());
    const Reply& states = replies[1];
    std::size_t k = 0;
    for (const std::string& c : customers) {
      const redisReply* value = states.element(k++);
      if (value->type == REDIS_REPLY_STRING)
        scorer_.state().set(c, CustomerState::decode(std::string_view(value->str, value->len)));
    }
  }

  Redis& redis_;
  FraudScorer& scorer_;
  const StreamOptions& o_;
  StreamCounters& counters_;
  std::vector<long long> latencies_;
};

long long percentile(std::vector<long long> values, double q) {
  if (values.empty()) return 0;
  const std::size_t k = std::min(values.size() - 1, static_cast<std::size_t>(q * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

// `seconds`: the time spent from the first entry read to the last one committed (waiting for
// entries before and after does not count against throughput).
void report(StreamCounters& c, std::vector<long long>& latencies, double seconds, const char* when) {
  c.p50_ms = percentile(latencies, 0.50);
  c.p99_ms = percentile(latencies, 0.99);
  c.records_per_second = seconds > 0 ? static_cast<double>(c.in.load()) / seconds : 0.0;
  std::fprintf(stderr,
               "bank_stream_scorer: %s: records in %zu, scored %zu, rejected %zu, alerts %zu, %.0f records/s, "
               "latency p50 %lld ms p99 %lld ms\n",
               when, c.in.load(), c.scored.load(), c.rejected.load(), c.alerts.load(), c.records_per_second.load(),
               c.p50_ms.load(), c.p99_ms.load());
  latencies.clear();
}

}  // namespace

std::string prometheus_text(const StreamCounters& c) {
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, const std::string& value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + value + "\n";
  };
  metric("bank_scorer_records_in_total", "counter", "Input entries committed (scored or rejected).", std::to_string(c.in.load()));
  metric("bank_scorer_scored_total", "counter", "Transactions scored.", std::to_string(c.scored.load()));
  metric("bank_scorer_rejected_total", "counter", "Records rejected to the error stream.", std::to_string(c.rejected.load()));
  metric("bank_scorer_alerts_total", "counter", "Scored transactions above the alert threshold.", std::to_string(c.alerts.load()));
  metric("bank_scorer_batches_total", "counter", "Micro-batches committed.", std::to_string(c.batches.load()));
  metric("bank_scorer_retries_total", "counter", "Micro-batches computed again after a state changed under WATCH.",
         std::to_string(c.retries.load()));
  metric("bank_scorer_records_per_second", "gauge", "Throughput while working.", number_text(c.records_per_second.load()));
  metric("bank_scorer_latency_p50_ms", "gauge", "Median latency from the entry's id time to its commit, last interval.",
         std::to_string(c.p50_ms.load()));
  metric("bank_scorer_latency_p99_ms", "gauge", "99th percentile latency, last interval.", std::to_string(c.p99_ms.load()));
  return out;
}

void run_stream(FraudScorer& scorer, const StreamOptions& o, const std::atomic<bool>& stop, StreamCounters& counters) {
  const auto start = Clock::now();
  auto last_report = start, last_work = start;
  std::optional<Clock::time_point> first_work;
  auto working_seconds = [&] { return first_work ? std::chrono::duration<double>(last_work - *first_work).count() : 0.0; };
  std::vector<long long> all_latencies, latencies;
  auto idle_too_long = [&] {
    return o.idle_exit_ms > 0 &&
           std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_work).count() >= o.idle_exit_ms;
  };
  bool connected = false;
  while (!stop.load() && !idle_too_long()) {
    try {
      Redis redis(o.host, o.port, 5000);
      connected = true;
      redis.command({"XGROUP", "CREATE", o.input, o.group, "0", "MKSTREAM"}, /*allow_error=*/true);  // BUSYGROUP: exists
      Batcher batcher(redis, scorer, o, counters);
      // What this consumer left pending (a restart, a lost connection) is taken first, then
      // new entries; other consumers' idle entries are looked for when there is nothing new
      // and at least every claim_idle_ms / 2.
      bool own_pending = true, claiming = false;
      auto last_claim = Clock::now() - std::chrono::milliseconds(o.claim_idle_ms);
      while (!stop.load()) {
        std::vector<Entry> entries;
        if (own_pending) {
          entries = read_group(redis, o, "0", 0);
          own_pending = !entries.empty();
        }
        // (claiming goes on while it finds entries: they are older than any new one)
        const bool claim_due = claiming || Clock::now() - last_claim >= std::chrono::milliseconds(o.claim_idle_ms / 2);
        if (entries.empty() && claim_due) {
          entries = claim_idle(redis, o);
          claiming = !entries.empty();
          last_claim = Clock::now();
        }
        if (entries.empty()) entries = read_group(redis, o, ">", o.block_ms);
        if (entries.empty() && !claim_due) {
          entries = claim_idle(redis, o);
          claiming = !entries.empty();
          last_claim = Clock::now();
        }
        if (!entries.empty()) {
          if (!first_work) first_work = Clock::now();
          batcher.process(entries);
          last_work = Clock::now();
          latencies.insert(latencies.end(), batcher.latencies().begin(), batcher.latencies().end());
          batcher.latencies().clear();
        } else if (idle_too_long()) {
          break;
        }
        const auto now = Clock::now();
        if (now - last_report >= std::chrono::seconds(5)) {
          all_latencies.insert(all_latencies.end(), latencies.begin(), latencies.end());
          report(counters, latencies, working_seconds(), "running");
          last_report = now;
        }
      }
      break;
    } catch (const RedisError& error) {
      if (!connected) throw;  // never reached: a wrong host or port, not a restart
      // Redis went away (a restart): what was not committed stays pending and is read again
      // after reconnecting; nothing is lost or repeated.
      std::fprintf(stderr, "bank_stream_scorer: %s; reconnecting\n", error.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  all_latencies.insert(all_latencies.end(), latencies.begin(), latencies.end());
  report(counters, all_latencies, working_seconds(), "exit");
}

}  // namespace bank
