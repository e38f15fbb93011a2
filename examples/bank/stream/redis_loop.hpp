// redis_loop.hpp — the stream scorer on Redis Streams: reads a consumer group, scores
// micro-batches, and writes the scored records, the rejected ones, the customers' states and
// the acknowledgements in one MULTI/EXEC per micro-batch, so that every input entry ends up
// exactly once in the output or the error stream, whatever moment the process is killed at.
#pragma once

#include <atomic>
#include <string>

#include "scorer.hpp"

namespace bank {

struct StreamOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string input = "transactions", group = "scorers", consumer, output = "scored", errors = "rejected";
  std::string state_prefix = "bank:state:";
  std::size_t batch = 256;
  int block_ms = 1000;
  long long claim_idle_ms = 30000;  // another consumer's entries idle this long are taken over
  long long idle_exit_ms = 0;       // > 0: exit after this long with nothing to read
  // A record (an entry's `json` field) longer than this is rejected unread ("record too
  // large"): the transactions are about 600 bytes, so 1 MiB leaves room and bounds what a
  // micro-batch holds. Its bytes are not even copied out of hiredis's read buffer.
  std::size_t max_record_bytes = std::size_t{1} << 20;
  // > 0: the output stream is kept under this many entries plus one micro-batch, without
  // losing any: a commit first trims the entries every consumer group of the output stream has
  // acknowledged (XTRIM MINID), and while the stream is still at the cap it writes nothing and
  // the scorer waits (backpressure) for the consumers to acknowledge more.
  long long max_output_length = 0;
  // > 0: the error stream keeps about this many of its newest entries (XADD MAXLEN ~, whole
  // nodes of Redis's stream-node-max-entries at a time), so that a flood of bad records cannot
  // fill Redis's memory; older rejections are dropped, each having been written once. Unlike
  // the output stream, nothing need consume it, so it is capped, not held back.
  long long max_errors_length = 0;
};

// What the loop has done; atomics, so that a metrics thread may read them while it runs.
struct StreamCounters {
  std::atomic<std::size_t> in{0}, scored{0}, rejected{0}, alerts{0}, batches{0}, retries{0};
  std::atomic<std::size_t> output_full{0};  // commits refused (to be sent again) at the output stream's cap
  std::atomic<long long> p50_ms{0}, p99_ms{0};  // latency over the last report's interval
  std::atomic<double> records_per_second{0};
};

// The counters in Prometheus's text format (GET /metrics with --metrics-port).
std::string prometheus_text(const StreamCounters& counters);

// Runs until `stop` is set (then finishes the current micro-batch) or, with idle_exit_ms, until
// the stream has been idle that long. Prints a summary line to stderr every few seconds.
void run_stream(FraudScorer& scorer, const StreamOptions& options, const std::atomic<bool>& stop,
                StreamCounters& counters);

}  // namespace bank
