// service.hpp — the web service's parts, one job each:
//   Options      the flags (parsed by server.cpp)
//   Loaded       one model with what the routes show about it; load_model() builds it
//   ModelSlot    the model being served, swapped atomically on SIGHUP, read without a lock
//   HttpServer   cpp-httplib behind the gate that reads whole requests first (front_door.hpp)
//   Service      the routes: installs the HTTP policy (timeouts, logging, error bodies), POST
//                /predict, GET /schema /health /metrics, the page, and the 405 answers; and
//                reload() for SIGHUP
// server.cpp holds main(): flags, signals, listening and stopping.
#pragma once

#include "front_door.hpp"  // HttpServer: cpp-httplib behind a gate that reads whole requests
#include "metrics.hpp"
#include "scorer.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace phone_theft {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 64;
  std::size_t max_connections = 1024;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_batch = 1000;
  int keep_alive_timeout = 2;
  int read_timeout = 5;
  std::size_t keep_alive_requests = 100000;
  bool access_log = false;
  std::string web_dir;
  std::map<std::string, Range> ranges;  // the service's own ranges, on top of the model's input rules
};

// One line on stderr, with the UTC time.
void log_line(const std::string& text);

// One loaded model with everything the routes show about it; immutable once built.
struct Loaded {
  Scorer scorer;
  std::uint64_t generation = 0;
  std::string schema_body;   // GET /schema
  nlohmann::json info;       // the "model" object of GET /health
  std::string metrics_info;  // phone_theft_model_info line
};

// Reads, checks and compiles the file named by options.model. Throws floresta::Error.
std::shared_ptr<const Loaded> load_model(const Options& options, std::uint64_t generation);

// The current model: a shared_ptr swapped atomically, read through a per-thread copy that is
// renewed only when the generation moves, so the scoring path touches no lock and no shared
// reference count.
class ModelSlot {
 public:
  void store(std::shared_ptr<const Loaded> loaded) {
    const std::uint64_t generation = loaded->generation;
    std::atomic_store(&model_, std::move(loaded));
    generation_.store(generation, std::memory_order_release);
  }
  // Valid until this thread's next call.
  const Loaded& current() const {
    thread_local std::shared_ptr<const Loaded> cached;
    thread_local std::uint64_t cached_generation = 0;
    const std::uint64_t generation = generation_.load(std::memory_order_acquire);
    if (!cached || cached_generation != generation) {
      cached = std::atomic_load(&model_);
      cached_generation = generation;
    }
    return *cached;
  }
  std::shared_ptr<const Loaded> get() const { return std::atomic_load(&model_); }

 private:
  std::shared_ptr<const Loaded> model_;
  std::atomic<std::uint64_t> generation_{0};
};

class Service {
 public:
  // `first` is the model served until a reload; `options` must outlive the service.
  Service(const Options& options, std::shared_ptr<const Loaded> first);

  // Every route and handler on `server`.
  void install(HttpServer& server);
  // SIGHUP: loads the file again and swaps it in, or keeps the old model and records why.
  void reload();
  const Loaded& current() const { return slot_.current(); }

 private:
  void install_http_policy(HttpServer& server);
  void install_predict(HttpServer& server);
  void install_info(HttpServer& server);
  void install_page(HttpServer& server);
  void install_method_refusals(HttpServer& server);
  void predict(const httplib::Request& req, httplib::Response& res);

  const Options& options_;
  ModelSlot slot_;
  Metrics metrics_;
  Clock::time_point started_;
  std::mutex reload_mutex_;  // guards last_reload_error_ (never taken on the scoring path)
  std::string last_reload_error_;
};

}  // namespace phone_theft
