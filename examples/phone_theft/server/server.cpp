// phone_theft_server — the public half of the São Paulo phone-theft application: a web
// service and page that answer "where is my phone most likely to be stolen?" with floresta.
//
//   phone_theft_server --model examples/models/phone_theft.json [--host 127.0.0.1] [--port 8080]
//
// Routes:
//   POST /predict   {"bairro","marca","dia","periodo","idade","sexo"} -> 10 x {"position","label","value"},
//                   most likely first; a JSON array of such objects -> an array of answers
//   GET  /schema    every field, its type and allowed values (from the model), the labels, the limits
//   GET  /health    status, model name and version, uptime
//   GET  /metrics   Prometheus text: requests by route and status, latency histograms
//   GET  /          the page (index.html, app.js, style.css, built into the binary)
//
// Errors are JSON {"error": "...", "rule": "...", "field": ...}: 400 malformed JSON or a body
// that is not an object/array, 422 a missing field, a wrong type, a value out of range or
// outside the model's vocabulary, 413 a body over --max-body-bytes or a batch over
// --max-batch, 404 an unknown route, 405 a known route with the wrong method.
//
// The model is one immutable std::shared_ptr<const Loaded>: scoring threads read it without a
// lock (each thread keeps a copy and renews it when the generation counter moves). SIGHUP
// reloads the file named by --model and swaps the new model in; a file that fails to load is
// refused with a log line and the old model keeps serving. SIGTERM (or SIGINT) stops
// accepting, lets requests in flight finish and exits 0. Signals are taken by one thread with
// sigwait(): they are blocked in every thread before any is started.
//
// HTTP is cpp-httplib (Debian's libcpp-httplib-dev): a thread pool where each open connection
// holds one thread while it stays open, so --threads bounds the connections served at once.
#include "metrics.hpp"
#include "scorer.hpp"
#include "web_assets.hpp"

#include <floresta/floresta.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace phone_theft {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 64;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_batch = 1000;
  int keep_alive_timeout = 2;
  int read_timeout = 5;
  std::size_t keep_alive_requests = 100000;
  bool access_log = false;
  std::string web_dir;
  std::map<std::string, Range> ranges = default_ranges();
};

const char* const kUsage = R"(usage: phone_theft_server --model PATH [options]

Serves the phone-theft model: POST /predict, GET /schema, GET /health, GET /metrics and the
page at /. SIGHUP reloads the model file; SIGTERM drains and exits 0.

  --model PATH              model file (floresta JSON, XGBoost JSON/UBJSON, LightGBM): required
  --host HOST               address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --port N                  port (default 8080; 0 picks a free one, printed at startup)
  --threads N               worker threads = connections served at once (default 64)
  --max-body-bytes N        largest request body accepted, else 413 (default 1048576)
  --max-batch N             most people in one array request, else 413 (default 1000)
  --range NAME=MIN:MAX      allowed range of a numeric field, else 422 (default idade=0:120;
                            repeat for more fields; NAME=none removes a range)
  --keep-alive-timeout S    seconds an idle keep-alive connection is kept (default 2); also
                            the longest SIGTERM waits for idle connections
  --keep-alive-requests N   requests per keep-alive connection before it is closed (default 100000)
  --read-timeout S          seconds to wait for a slow client's request bytes (default 5)
  --access-log              one line per request on stderr (off by default)
  --web DIR                 serve the page files from DIR instead of the copies built into
                            the binary (to edit the page without rebuilding)
  --help                    this text
)";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "phone_theft_server: %s\n(--help lists the options)\n", message.c_str());
  std::exit(2);
}

long long parse_integer(const std::string& flag, const std::string& text, long long min, long long max) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || value < min || value > max)
    usage_error(flag + " takes an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got '" +
                text + "'");
  return value;
}

double parse_double(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value)) usage_error(flag + ": '" + text + "' is not a number");
  return value;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (flag == "--access-log") {
      o.access_log = true;
      continue;
    }
    if (i + 1 >= argc) usage_error(flag.rfind("--", 0) == 0 ? flag + " needs a value" : "unexpected argument '" + flag + "'");
    const std::string value = argv[++i];
    if (flag == "--model") o.model = value;
    else if (flag == "--host") o.host = value;
    else if (flag == "--port") o.port = static_cast<int>(parse_integer(flag, value, 0, 65535));
    else if (flag == "--threads") o.threads = static_cast<int>(parse_integer(flag, value, 1, 4096));
    else if (flag == "--max-body-bytes") o.max_body_bytes = static_cast<std::size_t>(parse_integer(flag, value, 64, 1LL << 32));
    else if (flag == "--max-batch") o.max_batch = static_cast<std::size_t>(parse_integer(flag, value, 1, 1000000));
    else if (flag == "--keep-alive-timeout") o.keep_alive_timeout = static_cast<int>(parse_integer(flag, value, 0, 3600));
    else if (flag == "--keep-alive-requests")
      o.keep_alive_requests = static_cast<std::size_t>(parse_integer(flag, value, 1, 1LL << 40));
    else if (flag == "--read-timeout") o.read_timeout = static_cast<int>(parse_integer(flag, value, 1, 3600));
    else if (flag == "--web") o.web_dir = value;
    else if (flag == "--range") {
      const auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) usage_error("--range takes NAME=MIN:MAX or NAME=none, got '" + value + "'");
      const std::string name = value.substr(0, eq), bounds = value.substr(eq + 1);
      if (bounds == "none") {
        o.ranges.erase(name);
        continue;
      }
      const auto colon = bounds.find(':');
      if (colon == std::string::npos) usage_error("--range takes NAME=MIN:MAX, got '" + value + "'");
      const Range range{parse_double("--range", bounds.substr(0, colon)), parse_double("--range", bounds.substr(colon + 1))};
      if (range.min > range.max) usage_error("--range " + value + ": MIN is above MAX");
      o.ranges[name] = range;
    } else usage_error("unknown option '" + flag + "'");
  }
  if (o.model.empty()) usage_error("--model PATH is required");
  return o;
}

std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

void log_line(const std::string& text) {
  const std::string line = now_utc() + " phone_theft_server: " + text + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw floresta::Error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw floresta::Error(path + ": read error");
  return std::move(bytes).str();
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1)
    throw floresta::Error("SHA-256 failed");
  static const char* const hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::string file_stem(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  const auto dot = name.find('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

// One loaded model with everything the routes show about it; immutable once built.
struct Loaded {
  Scorer scorer;
  std::uint64_t generation = 0;
  std::string schema_body;   // GET /schema
  nlohmann::json info;       // the "model" object of GET /health
  std::string metrics_info;  // phone_theft_model_info line
};

std::shared_ptr<const Loaded> load_model(const Options& options, std::uint64_t generation) {
  const auto start = Clock::now();
  const std::string bytes = read_file(options.model);  // our own copy: the file may be replaced meanwhile
  floresta::Model model = floresta::load_from_memory(bytes, options.model);
  auto loaded = std::make_shared<Loaded>(Loaded{Scorer(std::move(model), options.ranges), generation, {}, {}, {}});
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const std::string sha = sha256_hex(bytes);
  const floresta::Model& m = loaded->scorer.model();
  loaded->info = {{"name", file_stem(options.model)},
                  {"version", sha.substr(0, 12)},
                  {"sha256", sha},
                  {"path", options.model},
                  {"bytes", bytes.size()},
                  {"format", m.format()},
                  {"objective", m.objective()},
                  {"features", m.num_features()},
                  {"classes", loaded->scorer.num_classes()},
                  {"trees", m.num_trees()},
                  {"loaded_at", now_utc()},
                  {"load_ms", std::round(ms * 10) / 10},
                  {"generation", generation}};
  nlohmann::json schema = loaded->scorer.schema_json();
  schema["model"] = {{"name", loaded->info["name"]}, {"version", loaded->info["version"]}};
  schema["limits"] = {{"max_body_bytes", options.max_body_bytes}, {"max_batch", options.max_batch}};
  schema["unknown_values"] = "refused: 422 with rule \"vocabulary\" naming the field and the value";
  loaded->schema_body = schema.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  loaded->metrics_info = "# HELP phone_theft_model_info The model being served (value 1).\n"
                         "# TYPE phone_theft_model_info gauge\n"
                         "phone_theft_model_info{name=" +
                         nlohmann::json(file_stem(options.model)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                         ",version=\"" + sha.substr(0, 12) + "\",generation=\"" + std::to_string(generation) + "\"} 1\n";
  return loaded;
}

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

// cpp-httplib listens with a backlog of 5 (compiled into Debian's library); a burst of new
// connections then waits for SYN retransmits. listen() again on the bound socket widens it.
class HttpServer : public httplib::Server {
 public:
  void widen_backlog(int backlog) {
    const auto sock = svr_sock_.load();
    if (sock != INVALID_SOCKET) ::listen(sock, backlog);
  }
};

Route route_of(const std::string& path) {
  if (path == "/predict") return Route::kPredict;
  if (path == "/schema") return Route::kSchema;
  if (path == "/health") return Route::kHealth;
  if (path == "/metrics") return Route::kMetrics;
  if (path == "/") return Route::kPage;
  for (const web::Asset& asset : web::kAssets)
    if (path == asset.path) return Route::kPage;
  return Route::kOther;
}

const char* const kRoutes = "GET /, GET /schema, GET /health, GET /metrics, POST /predict";

void reply_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void reply_problem(httplib::Response& res, const Problem& problem) { reply_json(res, problem.status, problem.to_json()); }

Problem make_problem(int status, std::string rule, std::string message, std::string field = {}) {
  Problem p;
  p.status = status;
  p.rule = std::move(rule);
  p.message = std::move(message);
  p.field = std::move(field);
  return p;
}

thread_local Clock::time_point request_start{};

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);

  // Before any thread exists (the loader's, the server's): signals go to the signal thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client closing early must not kill the process

  ModelSlot slot;
  std::uint64_t generation = 1;
  try {
    slot.store(load_model(options, generation));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phone_theft_server: cannot serve %s: %s\n", options.model.c_str(), e.what());
    return 1;
  }
  const auto started = Clock::now();
  Metrics metrics;
  std::mutex reload_mutex;  // guards last_reload_error (never taken on the scoring path)
  std::string last_reload_error;

  HttpServer server;
  const int threads = options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  server.set_tcp_nodelay(true);
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second server bind a port in
  // use and silently share its traffic (with an older model, say); SO_REUSEADDR alone only
  // allows a restart while old connections linger.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.set_keep_alive_max_count(options.keep_alive_requests);
  server.set_keep_alive_timeout(options.keep_alive_timeout);
  server.set_read_timeout(options.read_timeout);
  server.set_write_timeout(5);
  server.set_payload_max_length(options.max_body_bytes);

  server.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_start = Clock::now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    double seconds = -1;
    if (request_start != Clock::time_point{}) {
      seconds = std::chrono::duration<double>(Clock::now() - request_start).count();
      request_start = Clock::time_point{};
    }
    metrics.observe(route_of(req.path), res.status, seconds);
    if (options.access_log) {
      char line[96];
      std::snprintf(line, sizeof line, " %d %.0fus %zuB", res.status, seconds * 1e6, res.body.size());
      log_line(req.remote_addr + " " + req.method + " " + req.path + line);
    }
  });
  server.set_error_handler(httplib::Server::HandlerWithResponse([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // already a JSON answer
    switch (res.status) {
      case 400:
        if ((req.method == "POST" || req.method == "PUT" || req.method == "PATCH") && !req.has_header("Content-Length") &&
            !req.has_header("Transfer-Encoding"))
          reply_problem(res, make_problem(400, "http", "a " + req.method + " request needs a Content-Length header (or a chunked body)"));
        else
          reply_problem(res, make_problem(400, "http", "bad request: the request line or headers could not be parsed "
                                                       "(a malformed line, an unknown method, a header too long)"));
        break;
      case 404:
        reply_problem(res, make_problem(404, "route", "no route " + req.method + " " + req.path + "; the routes are " + kRoutes));
        break;
      case 413:
        // cpp-httplib parses form bodies itself and caps them at 8192 bytes, whatever the limit.
        if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0 &&
            req.get_header_value<uint64_t>("Content-Length") <= options.max_body_bytes)
          reply_problem(res, make_problem(413, "body_size", "a body sent as application/x-www-form-urlencoded is limited "
                                                            "to 8192 bytes: send it with Content-Type: application/json"));
        else
          reply_problem(res, make_problem(413, "body_size", "the request body is over the limit of " +
                                                                std::to_string(options.max_body_bytes) + " bytes"));
        break;
      case 414:
        reply_problem(res, make_problem(414, "http", "the request URI is too long"));
        break;
      default:
        reply_problem(res, make_problem(res.status, "http", "HTTP status " + std::to_string(res.status)));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  server.set_exception_handler([&](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log_line("internal error on " + req.method + " " + req.path + ": " + what);
    reply_problem(res, make_problem(500, "internal", "internal error: " + what));
  });

  // ---- POST /predict ----
  server.Post("/predict", [&](const httplib::Request& req, httplib::Response& res) {
    const Loaded& loaded = slot.current();
    const Scorer& scorer = loaded.scorer;
    nlohmann::json body;
    try {
      if (req.body.empty()) {
        reply_problem(res, make_problem(400, "json", "malformed JSON: the body is empty (expected a JSON object, or an array of them)"));
        return;
      }
      body = nlohmann::json::parse(req.body);
    } catch (const nlohmann::json::exception& e) {
      std::string what = e.what();
      const auto bracket = what.find("] ");
      if (bracket != std::string::npos) what = what.substr(bracket + 2);
      reply_problem(res, make_problem(400, "json", "malformed JSON: " + what));
      return;
    }
    const std::size_t d = scorer.num_fields();
    std::string out;
    Problem problem;
    if (body.is_object()) {
      constexpr std::size_t kInline = 64;
      double inline_row[kInline];
      std::vector<double> heap_row;
      double* row = inline_row;
      if (d > kInline) {
        heap_row.resize(d);
        row = heap_row.data();
      }
      if (!scorer.encode(body, row, problem)) {
        reply_problem(res, problem);
        return;
      }
      out.reserve(64 * scorer.num_classes() + 16);
      scorer.answer(row, out);
      metrics.count_people(1);
    } else if (body.is_array()) {
      const std::size_t n = body.size();
      if (n > options.max_batch) {
        reply_problem(res, make_problem(413, "batch_size", "the batch has " + std::to_string(n) + " people, the limit is " +
                                                               std::to_string(options.max_batch)));
        return;
      }
      std::vector<double> rows(n * d);
      for (std::size_t i = 0; i < n; ++i) {
        if (!scorer.encode(body[i], rows.data() + i * d, problem)) {
          problem.index = static_cast<long>(i);
          problem.message = "[" + std::to_string(i) + "] " + problem.message;
          reply_problem(res, problem);
          return;
        }
      }
      const std::size_t k = scorer.num_classes();
      std::vector<double> proba(n * k);
      if (n > 0) scorer.score(rows.data(), n, proba.data());
      out.reserve(n * (64 * k + 16) + 2);
      out += '[';
      for (std::size_t i = 0; i < n; ++i) {
        if (i) out += ',';
        scorer.append_answer(proba.data() + i * k, out);
      }
      out += ']';
      metrics.count_people(n);
    } else {
      reply_problem(res, make_problem(400, "body", "the body must be a JSON object (one person) or an array of them"));
      return;
    }
    res.status = 200;
    res.set_content(std::move(out), "application/json");
  });

  // ---- GET /schema, /health, /metrics ----
  server.Get("/schema", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(slot.current().schema_body, "application/json");
  });
  server.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    const std::shared_ptr<const Loaded> loaded = slot.get();
    nlohmann::json body = {{"status", "ok"},
                           {"model", loaded->info},
                           {"uptime_seconds", std::round(std::chrono::duration<double>(Clock::now() - started).count() * 1000) / 1000},
                           {"floresta_version", floresta::kVersion}};
    {
      std::lock_guard<std::mutex> lock(reload_mutex);
      body["last_reload_error"] = last_reload_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_reload_error);
    }
    reply_json(res, 200, body);
  });
  server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    const std::shared_ptr<const Loaded> loaded = slot.get();
    char uptime[256];
    std::snprintf(uptime, sizeof uptime,
                  "# HELP phone_theft_uptime_seconds Seconds since the server started.\n"
                  "# TYPE phone_theft_uptime_seconds gauge\nphone_theft_uptime_seconds %.3f\n",
                  std::chrono::duration<double>(Clock::now() - started).count());
    res.set_content(metrics.render(loaded->metrics_info + uptime), "text/plain; version=0.0.4; charset=utf-8");
  });

  // ---- the page ----
  const std::string web_dir = options.web_dir;
  auto serve_asset = [&, web_dir](const web::Asset& asset, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                   "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "no-cache");
    if (!web_dir.empty()) {
      try {
        res.set_content(read_file(web_dir + "/" + (asset.path + 1)), asset.content_type);
        return;
      } catch (const std::exception& e) {
        reply_problem(res, make_problem(404, "route", std::string("page file missing: ") + e.what()));
        return;
      }
    }
    res.set_content(reinterpret_cast<const char*>(asset.data), asset.size, asset.content_type);
  };
  for (const web::Asset& asset : web::kAssets) {
    const std::string path = asset.path;
    const std::string pattern = std::regex_replace(path, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
    server.Get(pattern, [&serve_asset, &asset](const httplib::Request&, httplib::Response& res) { serve_asset(asset, res); });
    if (path == "/index.html")
      server.Get("/", [&serve_asset, &asset](const httplib::Request&, httplib::Response& res) { serve_asset(asset, res); });
  }

  // ---- a known route with the wrong method: 405 with Allow ----
  struct Known {
    std::string pattern;
    std::string allow;
  };
  std::vector<Known> known = {{"/predict", "POST, OPTIONS"}, {"/schema", "GET, HEAD, OPTIONS"},
                              {"/health", "GET, HEAD, OPTIONS"}, {"/metrics", "GET, HEAD, OPTIONS"},
                              {"/", "GET, HEAD, OPTIONS"}};
  for (const web::Asset& asset : web::kAssets)
    known.push_back({std::regex_replace(std::string(asset.path), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)"),
                     "GET, HEAD, OPTIONS"});
  for (const Known& k : known) {
    const std::string allow = k.allow;
    auto not_allowed = [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      reply_problem(res, make_problem(405, "method", "method " + req.method + " is not allowed on " + req.path +
                                                         "; allowed: " + allow));
    };
    auto options_handler = [allow](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", allow);
      res.status = 204;
    };
    if (k.pattern == "/predict") server.Get(k.pattern, not_allowed);
    else server.Post(k.pattern, not_allowed);
    server.Put(k.pattern, not_allowed);
    server.Patch(k.pattern, not_allowed);
    server.Delete(k.pattern, not_allowed);
    server.Options(k.pattern, options_handler);
  }

  // ---- listen ----
  int port = options.port;
  if (port == 0) port = server.bind_to_any_port(options.host);
  else if (!server.bind_to_port(options.host, port)) port = -1;
  if (port < 0) {
    std::fprintf(stderr, "phone_theft_server: cannot listen on %s:%d: %s\n", options.host.c_str(), options.port,
                 std::strerror(errno));
    return 1;
  }
  server.widen_backlog(1024);

  std::atomic<bool> listen_done{false};
  std::thread signal_thread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP && !listen_done.load()) {
        const auto current = slot.get();
        try {
          auto loaded = load_model(options, current->generation + 1);
          const std::string version = loaded->info["version"];
          const double ms = loaded->info["load_ms"];
          const std::uint64_t g = loaded->generation;
          slot.store(std::move(loaded));
          metrics.count_reload(true);
          {
            std::lock_guard<std::mutex> lock(reload_mutex);
            last_reload_error.clear();
          }
          log_line("SIGHUP: reloaded " + options.model + ": version " + version + " (generation " + std::to_string(g) +
                   ", loaded in " + std::to_string(static_cast<long>(ms)) + " ms)");
        } catch (const std::exception& e) {
          metrics.count_reload(false);
          {
            std::lock_guard<std::mutex> lock(reload_mutex);
            last_reload_error = e.what();
          }
          log_line(std::string("SIGHUP: reload refused, still serving version ") + current->info["version"].get<std::string>() +
                   ": " + e.what());
        }
        continue;
      }
      if (sig == SIGHUP) continue;
      if (!listen_done.load()) log_line(std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") + ": draining and stopping");
      while (!listen_done.load() && !server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      server.stop();
      return;
    }
  });

  {
    const auto loaded = slot.get();
    std::printf("phone_theft_server: serving %s (version %s, %zu trees, %zu classes) on http://%s:%d with %d threads\n",
                options.model.c_str(), loaded->info["version"].get<std::string>().c_str(), loaded->scorer.model().num_trees(),
                loaded->scorer.num_classes(), options.host.c_str(), port, options.threads);
    std::fflush(stdout);
  }
  const bool ok = server.listen_after_bind();
  listen_done.store(true);
  pthread_kill(signal_thread.native_handle(), SIGTERM);  // wakes the signal thread if it still waits
  signal_thread.join();
  if (!ok) {
    std::fprintf(stderr, "phone_theft_server: the server stopped with an error\n");
    return 1;
  }
  log_line("stopped");
  return 0;
}

}  // namespace
}  // namespace phone_theft

int main(int argc, char** argv) { return phone_theft::run(argc, argv); }
