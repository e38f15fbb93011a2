// bank_stream_scorer — scores bank transactions as they arrive: features from each customer's
// state by the one definition (features.json), the fraud model by floresta, an alert at the
// model file's threshold, and each alert's reason codes (--reasons, floresta's TreeSHAP).
//
//   bank_stream_scorer --fraud-model examples/models/bank_fraud.json --redis-port 6379     # Redis Streams
//   bank_stream_scorer --stdin --fraud-model examples/models/bank_fraud.json < transactions.jsonl
//
// Redis mode (redis_loop.hpp): a consumer group on the input stream, one atomic Lua script per
// micro-batch (pipeline.cpp) for the scored records, the rejected ones, the customers' states
// and the acks.
// --stdin reads JSON Lines (the generator's records, in time order) and writes one scored
// record per line to stdout; a line that cannot be scored goes to stderr as
// {"entry", "id_transacao", "error"} and the stream goes on. SIGTERM or SIGINT: the current
// micro-batch is finished, then exit 0. A summary goes to stderr.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <atomic>
#include <csignal>
#include <unistd.h>

#include "flags.hpp"
#include "scorer.hpp"
#ifdef BANK_WITH_REDIS
#include "redis_loop.hpp"
#endif
#ifdef BANK_WITH_HTTPLIB
#include <httplib.h>

#include <thread>
#endif

namespace {

const char* const kUsage =
    "usage: bank_stream_scorer --fraud-model PATH [Redis flags] [--batch N] [--reasons N]\n"
    "       bank_stream_scorer --stdin --fraud-model PATH [--batch N] [--reasons N] [--emit-features]\n"
    "                          [--load-state FILE] [--save-state FILE]\n"
    "\n"
    "Scores transactions with the fraud model (features by examples/bank/bank/features.json).\n"
    "  --fraud-model PATH    examples/models/bank_fraud.json (its metadata holds the alert threshold)\n"
    "  --batch N             micro-batch size: entries read and committed together (default 256)\n"
    "  --segments FILE       the customers' segments (python -m bank.segments); without it, or for a\n"
    "                        customer not in it, segment_id is -1 and segment_name empty\n"
    "  --unknown-customers score|reject\n"
    "                        a customer not in --segments: scored from an empty state (score, the\n"
    "                        default: a first transaction), or rejected as a bad record (reject: the\n"
    "                        table is the register of customers; needs --segments)\n"
    "  --reasons N           each alert carries its N reason codes (default 3; 0: none): the features\n"
    "                        with the largest |contribution| to the fraud margin (exact TreeSHAP), in the\n"
    "                        field `reasons`, a JSON array [{\"field\", \"value\", \"contribution\"}, ...];\n"
    "                        records that are not alerts have no `reasons`\n"
    "Redis Streams (the default mode): each input entry's field `json` holds one transaction.\n"
    "  --redis-host HOST     default 127.0.0.1\n"
    "  --redis-port PORT     default 6379\n"
    "  --input STREAM        input stream (default transactions)\n"
    "  --group NAME          consumer group (default scorers; created at the stream's start)\n"
    "  --consumer NAME       consumer name (default the host name and process id)\n"
    "  --output STREAM       scored records: entry, id_transacao, id_cliente, fraud_probability, alert,\n"
    "                        segment_id, segment_name, and on alerts reasons (its compact JSON text)\n"
    "                        (default scored)\n"
    "  --errors STREAM       rejected records: entry, id_transacao, error (default rejected)\n"
    "  --state-prefix P      customers' states are keys P<id_cliente>, the last writer's tag writer:P\n"
    "                        (default bank:state:)\n"
    "  --block-ms N          wait at most N ms for new entries (default 1000)\n"
    "  --claim-idle-ms N     take over other consumers' entries pending this long (default 30000)\n"
    "  --idle-exit-ms N      exit 0 after N ms with nothing to read (default: run until SIGTERM)\n"
    "  --max-output-length N keep the output stream under N entries plus one micro-batch without\n"
    "                        losing any (default 0: no cap): entries every consumer group of it has\n"
    "                        acknowledged are trimmed; while it is still full the scorer waits\n"
    "                        (backpressure), its entries pending, until its consumers catch up\n"
    "  --max-errors-length N keep about the N newest entries of the error stream (default 0: all);\n"
    "                        older rejections are dropped, so that bad records cannot fill Redis\n"
    "  --metrics-port PORT   serve the counters as Prometheus text on http://127.0.0.1:PORT/metrics\n"
    "JSON Lines (--stdin): read stdin, write one scored record a line on stdout\n"
    "  (entry \"line N\", id_transacao, id_cliente, fraud_probability, alert, segment_id, segment_name,\n"
    "  and on alerts reasons, the array itself).\n"
    "  --emit-features       add the model's computed inputs to each record (\"features\")\n"
    "  --load-state FILE     start from the customers' states saved by --save-state\n"
    "  --save-state FILE     at the end, save every customer's state (JSON Lines) for the next run\n"
    "Both modes:\n"
    "  --max-record-bytes N  a record (entry's `json` field, or line) over N bytes is rejected unread as\n"
    "                        \"record too large\" (default 1048576; a transaction is about 600 bytes)\n"
    "Records that cannot be scored go to the error stream (stderr with --stdin) with the reason.\n";

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "bank_stream_scorer: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

struct Options {
  std::string fraud_model, load_state, save_state, segments;
  int metrics_port = 0;
  bool stdin_mode = false, emit_features = false, reject_unknown = false;
  std::size_t batch = 256;
  std::size_t max_record_bytes = std::size_t{1} << 20;
  std::size_t reasons = bank::FraudScorer::kDefaultReasons;
#ifdef BANK_WITH_REDIS
  bank::StreamOptions stream;
#endif
};

long long count_of(const std::string& flag, const std::string& value, long long lowest, long long highest) {
  const auto n = bank::whole_number(value, lowest, highest);
  if (!n)
    usage_error(flag + " takes a whole number in [" + std::to_string(lowest) + ", " + std::to_string(highest) + "], not '" +
                value + "'");
  return *n;
}

std::string default_consumer() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (flag == "--stdin") o.stdin_mode = true;
    else if (flag == "--emit-features") o.emit_features = true;
    else {
      if (i + 1 >= argc) usage_error(flag.rfind("--", 0) == 0 ? flag + " needs a value or is unknown" : "unknown argument " + flag);
      const std::string value = argv[++i];
      if (flag == "--fraud-model") o.fraud_model = value;
      else if (flag == "--load-state") o.load_state = value;
      else if (flag == "--save-state") o.save_state = value;
      else if (flag == "--segments") o.segments = value;
      else if (flag == "--unknown-customers") {
        if (value != "score" && value != "reject") usage_error("--unknown-customers takes score or reject, not '" + value + "'");
        o.reject_unknown = value == "reject";
      }
      else if (flag == "--batch") o.batch = static_cast<std::size_t>(count_of(flag, value, 1, 1'000'000));
      else if (flag == "--reasons") o.reasons = static_cast<std::size_t>(count_of(flag, value, 0, 1'000));
      else if (flag == "--max-record-bytes")
        o.max_record_bytes = static_cast<std::size_t>(count_of(flag, value, 1, 512LL << 20));  // Redis's largest string
#ifdef BANK_WITH_REDIS
      else if (flag == "--redis-host") o.stream.host = value;
      else if (flag == "--redis-port") o.stream.port = static_cast<int>(count_of(flag, value, 1, 65535));
      else if (flag == "--input") o.stream.input = value;
      else if (flag == "--group") o.stream.group = value;
      else if (flag == "--consumer") o.stream.consumer = value;
      else if (flag == "--output") o.stream.output = value;
      else if (flag == "--errors") o.stream.errors = value;
      else if (flag == "--state-prefix") o.stream.state_prefix = value;
      else if (flag == "--block-ms") o.stream.block_ms = static_cast<int>(count_of(flag, value, 1, 3'600'000));
      else if (flag == "--claim-idle-ms") o.stream.claim_idle_ms = count_of(flag, value, 1, 86'400'000);
      else if (flag == "--idle-exit-ms") o.stream.idle_exit_ms = count_of(flag, value, 1, 86'400'000);
      else if (flag == "--max-output-length") o.stream.max_output_length = count_of(flag, value, 0, 1LL << 40);
      else if (flag == "--max-errors-length") o.stream.max_errors_length = count_of(flag, value, 0, 1LL << 40);
      else if (flag == "--metrics-port") o.metrics_port = static_cast<int>(count_of(flag, value, 1, 65535));
#endif
      else usage_error("unknown flag " + flag);
    }
  }
  if (o.fraud_model.empty()) usage_error("--fraud-model is required");
  if (o.reject_unknown && o.segments.empty()) usage_error("--unknown-customers reject needs --segments (the register of customers)");
#ifdef BANK_WITH_REDIS
  o.stream.batch = o.batch;
  o.stream.max_record_bytes = o.max_record_bytes;
  if (o.stream.consumer.empty()) o.stream.consumer = default_consumer();
#else
  if (!o.stdin_mode) usage_error("this build has no Redis Streams mode (hiredis was not found): use --stdin");
#endif
  return o;
}

void reject(const std::string& entry, const std::optional<std::string>& id, const std::string& reason) {
  nlohmann::json error = {{"entry", entry}, {"error", reason}};
  error["id_transacao"] = id ? nlohmann::json(*id) : nlohmann::json();
  std::cerr << error.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

#ifdef BANK_WITH_REDIS
// GET /metrics on 127.0.0.1:port in a thread of its own, for the life of the object (port 0:
// none). Without cpp-httplib in the build, asking for it is an error.
class MetricsServer {
 public:
  MetricsServer(int port, const bank::StreamCounters& counters) {
    if (port == 0) return;
#ifdef BANK_WITH_HTTPLIB
    server_.Get("/metrics", [&counters](const httplib::Request&, httplib::Response& response) {
      response.set_content(bank::prometheus_text(counters), "text/plain; version=0.0.4");
    });
    if (!server_.bind_to_port("127.0.0.1", port)) throw std::runtime_error("--metrics-port " + std::to_string(port) + ": cannot listen");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
#else
    (void)counters;
    throw std::runtime_error("--metrics-port: this build has no HTTP server (cpp-httplib was not found)");
#endif
  }
  ~MetricsServer() {
#ifdef BANK_WITH_HTTPLIB
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
#endif
  }

 private:
#ifdef BANK_WITH_HTTPLIB
  httplib::Server server_;
  std::thread thread_;
#endif
};
#endif

// Written to a temporary name, then renamed: a crash leaves the old file or the new one.
void save_state(const bank::FeatureState& state, const std::string& path) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    if (!out) throw std::runtime_error(temporary + ": cannot write");
    state.save(out);
    out.flush();
    if (!out) throw std::runtime_error(temporary + ": write failed");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) throw std::runtime_error(path + ": cannot rename into place");
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  std::ios::sync_with_stdio(false);  // iostreams synchronised with stdio read a character at a time
  try {
    bank::FraudScorer scorer(options.fraud_model,
                             options.segments.empty() ? bank::SegmentTable{} : bank::SegmentTable::load(options.segments),
                             options.reasons);
    scorer.reject_unknown_customers(options.reject_unknown);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
#ifdef BANK_WITH_REDIS
    if (!options.stdin_mode) {
      bank::StreamCounters counters;
      MetricsServer metrics(options.metrics_port, counters);
      bank::run_stream(scorer, options.stream, g_stop, counters);
      return 0;
    }
#endif
    if (!options.load_state.empty()) {
      std::ifstream saved(options.load_state);
      if (!saved) throw std::runtime_error(options.load_state + ": cannot open");
      scorer.state().load(saved, options.load_state);
    }
    const bank::FeatureDefinition& definition = bank::FeatureDefinition::built_in();
    std::size_t in = 0, scored = 0, rejected = 0, alerts = 0;
    const auto start = std::chrono::steady_clock::now();
    auto flush = [&] {
      for (const bank::Scored& s : scorer.score()) {
        std::cout << bank::to_json(s, definition, options.emit_features).dump() << '\n';
        ++scored;
        alerts += s.alert;
      }
    };
    bank::TransactionReader reader;
    std::string line;
    for (std::size_t number = 1; std::getline(std::cin, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      ++in;
      const std::string entry = "line " + std::to_string(number);
      if (line.size() > options.max_record_bytes) {  // not parsed (simdjson would keep buffers its size)
        reject(entry, std::nullopt, bank::record_too_large(line.size(), options.max_record_bytes));
        ++rejected;
        std::string().swap(line);  // (getline keeps the capacity: give it back)
        continue;
      }
      try {
        scorer.add(entry, reader.read(line));
      } catch (const std::exception& error) {
        reject(entry, reader.last_id(), error.what());
        ++rejected;
        continue;
      }
      if (scorer.pending() >= options.batch) flush();
    }
    flush();
    std::cout.flush();
    if (!options.save_state.empty()) save_state(scorer.state(), options.save_state);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "bank_stream_scorer: records in %zu, scored %zu, rejected %zu, alerts %zu, %.0f records/s\n", in,
                 scored, rejected, alerts, seconds > 0 ? static_cast<double>(in) / seconds : 0.0);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bank_stream_scorer: %s\n", error.what());
    return 1;
  }
  return 0;
}
