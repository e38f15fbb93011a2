// pipeline.hpp — micro-batches scored and committed to Redis exactly once, several in flight.
//
// Each micro-batch's effects (its scored records, its rejected ones, its customers' new states
// and the acknowledgements of its entries) are written by one Lua script: atomic, all or
// nothing, in the append-only file as well. The script first checks a writer tag, a key every
// commit of every consumer sets to a new value: equal to the tag of this consumer's previous
// commit means nobody else has written a state since, so the states this consumer holds in
// memory are Redis's, and the batch computed from them may commit. That lets the scorer
// compute micro-batch k+1 and send its commit while Redis still runs k's, without reading the
// states back: Redis and the scorer work at the same time, one round trip is never waited for
// per batch. A tag that differs (another consumer committed; the first batch after a start)
// makes the script write nothing and answer 0: the scorer forgets the states it holds, loads
// them from Redis with the tag, and computes again every batch that was in flight.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis.hpp"
#include "redis_loop.hpp"
#include "scorer.hpp"

namespace bank {

// A stream entry, viewed in the reply that brought it (kept alive by Entries).
struct Entry {
  std::string_view id;
  std::optional<std::string_view> json;  // the `json` field; none when absent or the entry was deleted
  std::size_t too_large = 0;  // the size of a `json` field left out of the reply for it (Redis::append)
  bool repeated = false;      // more than one `json` field (which one is the record?)
};

struct Entries {
  std::optional<Reply> reply;
  std::vector<Entry> list;
};

// A list of entries ([[id, [field, value, ...]], ...]) in `reply` as Entries.
Entries entries_of(Reply reply, const redisReply* list);
// XREADGROUP's reply ([[stream, [[id, [field, value, ...]], ...]]] or nil) as Entries.
Entries group_entries(Reply reply);
std::vector<std::string> read_group_command(const StreamOptions& o, const std::string& start, int block_ms);

// A micro-batch: its entries and what reading their records gave.
struct Batch {
  Entries entries;
  std::vector<std::optional<Transaction>> transactions;
  std::vector<std::string> errors;              // "" for a record read
  std::vector<std::optional<std::string>> ids;  // id_transacao as read, for the error stream
  std::size_t size() const { return entries.list.size(); }
};

class Pipeline {
 public:
  Pipeline(Redis& redis, FraudScorer& scorer, const StreamOptions& o, StreamCounters& counters);

  // Reads the entries' records and queues the batch; asks for the states it needs that are not
  // held, to be there when it is computed. A record over o.max_record_bytes is rejected
  // unread ("record too large").
  void push(Entries entries);
  bool has_ready() const { return !ready_.empty(); }
  std::size_t in_flight() const { return in_flight_.size(); }
  // Replies still to read (commits, entries read ahead, states): settle before another command.
  bool awaiting_replies() const { return !expected_.empty(); }

  // Scores the oldest queued batch and sends its commit without waiting. With `read_ahead`
  // and nothing else queued, the next new entries are asked for too (never blocking: a commit
  // must not wait behind it); they are queued when their reply comes.
  void submit(bool read_ahead);
  // Reads replies until the oldest commit in flight is settled (counted, or sent back to the
  // queue with every later one after a conflict); settle_all until nothing is in flight.
  void settle_oldest();
  void settle_all();

  std::vector<long long>& latencies() { return latencies_; }

 private:
  struct InFlight {
    Batch batch;
    std::vector<Scored> scored;
    std::size_t alerts = 0;
  };
  enum class Expect { kCommit, kRead, kStates };
  struct Expected {
    Expect kind;
    std::vector<std::string> customers = {};  // kStates: whose states, asked while tag_ was `tag`
    std::string tag = {};
  };

  std::vector<std::string> missing_states(const Batch& batch) const;
  void prefetch_states(const Batch& batch);
  void take_states(const Expected& asked, const Reply& reply);
  void load_missing_states(const Batch& batch);
  InFlight compute(Batch batch);
  void send_commit(const InFlight& f);
  void settle_next();
  void roll_back();
  void requeue();
  void wait_for_output();

  Redis& redis_;
  FraudScorer& scorer_;
  const StreamOptions& o_;
  StreamCounters& counters_;
  TransactionReader reader_;
  std::string writer_key_, tag_base_, script_sha_;
  std::optional<std::string> tag_;  // the writer tag Redis holds once what is in flight commits
  unsigned long long sequence_ = 0;
  int conflicts_in_a_row_ = 0;
  int full_in_a_row_ = 0;  // commits refused in a row because the output stream is at its cap
  std::chrono::steady_clock::time_point last_full_report_{};
  bool reading_ = false;
  std::deque<Batch> ready_;
  std::deque<InFlight> in_flight_;
  std::deque<Expected> expected_;  // the replies still to read, in order
  std::size_t prefetching_ = 0;     // kStates among them
  std::size_t doomed_ = 0;          // commits in flight after a conflicting one (rolled back already)
  std::vector<long long> latencies_;
};

}  // namespace bank
