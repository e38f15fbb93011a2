#include "redis_loop.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "pipeline.hpp"
#include "redis.hpp"

namespace bank {
namespace {

using Clock = std::chrono::steady_clock;

Entries read_group(Redis& redis, const StreamOptions& o, const std::string& start, int block_ms) {
  return group_entries(redis.command(read_group_command(o, start, block_ms), false, /*capped=*/true));
}

// Entries another consumer left pending for claim_idle_ms (a consumer that died).
Entries claim_idle(Redis& redis, const StreamOptions& o) {
  Reply reply = redis.command({"XAUTOCLAIM", o.input, o.group, o.consumer, std::to_string(o.claim_idle_ms), "0-0",
                               "COUNT", std::to_string(o.batch)},
                              false, /*capped=*/true);
  // [next cursor, [[id, fields], ...], deleted ids]: shaped as XREADGROUP's answer for one stream
  if (reply.size() < 2) return {};
  const redisReply* list = reply.element(1);
  return entries_of(std::move(reply), list);
}

std::string number_text(double x) { return nlohmann::json(x).dump(); }

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
  metric("bank_scorer_output_full_total", "counter",
         "Micro-batch commits refused because the output stream was at --max-output-length (sent again).",
         std::to_string(c.output_full.load()));
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
      // entries' values over --max-record-bytes are not copied out of hiredis's read buffer
      redis.set_string_cap(o.max_record_bytes);
      redis.command({"XGROUP", "CREATE", o.input, o.group, "0", "MKSTREAM"}, /*allow_error=*/true);  // BUSYGROUP: exists
      // What this consumer left pending (a restart, a lost connection) is taken first, then
      // new entries; other consumers' idle entries are looked for when there is nothing new
      // and at least every claim_idle_ms / 2.
      bool own_pending = true, claiming = false;
      auto last_claim = Clock::now() - std::chrono::milliseconds(o.claim_idle_ms);
      Pipeline pipeline(redis, scorer, o, counters);
      while (!stop.load()) {
        if (!pipeline.has_ready() && pipeline.awaiting_replies()) {
          pipeline.settle_oldest();  // brings the entries read ahead, if any
          continue;
        }
        if (!pipeline.has_ready()) {
          Entries entries;
          if (own_pending) {
            entries = read_group(redis, o, "0", 0);
            own_pending = !entries.list.empty();
          }
          // (claiming goes on while it finds entries: they are older than any new one)
          const bool claim_due = claiming || Clock::now() - last_claim >= std::chrono::milliseconds(o.claim_idle_ms / 2);
          if (entries.list.empty() && claim_due) {
            entries = claim_idle(redis, o);
            claiming = !entries.list.empty();
            last_claim = Clock::now();
          }
          if (entries.list.empty()) entries = read_group(redis, o, ">", o.block_ms);
          if (entries.list.empty() && !claim_due) {
            entries = claim_idle(redis, o);
            claiming = !entries.list.empty();
            last_claim = Clock::now();
          }
          pipeline.push(std::move(entries));
        }
        if (pipeline.has_ready()) {
          if (!first_work) first_work = Clock::now();
          // reading ahead only in the steady state: pending and claimed entries come first
          pipeline.submit(!own_pending && !claiming);
          while (pipeline.in_flight() > 2) pipeline.settle_oldest();
          last_work = Clock::now();
          latencies.insert(latencies.end(), pipeline.latencies().begin(), pipeline.latencies().end());
          pipeline.latencies().clear();
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
      pipeline.settle_all();  // what is in flight commits before exiting
      latencies.insert(latencies.end(), pipeline.latencies().begin(), pipeline.latencies().end());
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
