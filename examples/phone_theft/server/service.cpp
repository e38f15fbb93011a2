// service.cpp — see service.hpp.
#include "service.hpp"

#include "web_assets.hpp"

#include <floresta/floresta.hpp>
#include <openssl/evp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>

namespace phone_theft {
namespace {

std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
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

}  // namespace

void log_line(const std::string& text) {
  const std::string line = now_utc() + " phone_theft_server: " + text + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

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
                  {"explain", m.can_explain()},
                  {"loaded_at", now_utc()},
                  {"load_ms", std::round(ms * 10) / 10},
                  {"generation", generation}};
  nlohmann::json schema = loaded->scorer.schema_json();
  schema["model"] = {{"name", loaded->info["name"]}, {"version", loaded->info["version"]}};
  schema["limits"] = {{"max_body_bytes", options.max_body_bytes}, {"max_batch", options.max_batch}};
  schema["unknown_values"] = "read through the model's input rules (case, accents, spaces, aliases); what they do not take is "
                             "refused: 422 with rule \"vocabulary\" naming the field and the value";
  schema["missing_values"] = "null means not given: the model's answer for a missing value (trained for it)";
  schema["explain"] = m.can_explain();  // POST /predict?explain=1 answers why the first place
  loaded->schema_body = schema.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  loaded->metrics_info = "# HELP phone_theft_model_info The model being served (value 1).\n"
                         "# TYPE phone_theft_model_info gauge\n"
                         "phone_theft_model_info{name=" +
                         nlohmann::json(file_stem(options.model)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                         ",version=\"" + sha.substr(0, 12) + "\",generation=\"" + std::to_string(generation) + "\"} 1\n";
  return loaded;
}

Service::Service(const Options& options, std::shared_ptr<const Loaded> first)
    : options_(options), started_(Clock::now()) {
  slot_.store(std::move(first));
}

void Service::install(HttpServer& server) {
  install_http_policy(server);
  install_predict(server);
  install_info(server);
  install_page(server);
  install_method_refusals(server);
}

void Service::reload() {
  const auto current = slot_.get();
  try {
    auto loaded = load_model(options_, current->generation + 1);
    const std::string version = loaded->info["version"];
    const double ms = loaded->info["load_ms"];
    const std::uint64_t g = loaded->generation;
    slot_.store(std::move(loaded));
    metrics_.count_reload(true);
    {
      std::lock_guard<std::mutex> lock(reload_mutex_);
      last_reload_error_.clear();
    }
    log_line("SIGHUP: reloaded " + options_.model + ": version " + version + " (generation " + std::to_string(g) +
             ", loaded in " + std::to_string(static_cast<long>(ms)) + " ms)");
  } catch (const std::exception& e) {
    metrics_.count_reload(false);
    {
      std::lock_guard<std::mutex> lock(reload_mutex_);
      last_reload_error_ = e.what();
    }
    log_line(std::string("SIGHUP: reload refused, still serving version ") + current->info["version"].get<std::string>() +
             ": " + e.what());
  }
}

// Threads, timeouts and limits of the gate (front_door.hpp), socket options, the access log and
// metrics, and JSON bodies for the errors cpp-httplib answers itself (400, 404, 413, 414) and
// for exceptions.
void Service::install_http_policy(HttpServer& server) {
  FrontDoorLimits limits;
  limits.threads = static_cast<std::size_t>(options_.threads);
  limits.max_connections = options_.max_connections;
  limits.max_body_bytes = options_.max_body_bytes;
  limits.read_timeout = std::chrono::seconds(options_.read_timeout);
  limits.idle_timeout = std::chrono::seconds(options_.keep_alive_timeout);
  limits.keep_alive_requests = options_.keep_alive_requests;
  server.configure(limits, [this](int status, const std::string& method, const std::string& target) {
    // Requests the gate refuses before cpp-httplib sees them: counted and logged like the others.
    const std::string path = target.substr(0, target.find('?'));
    metrics_.observe(route_of(path), status, -1);
    if (options_.access_log) log_line("- " + method + " " + path + " " + std::to_string(status) + " (refused at the door)");
  });
  server.set_tcp_nodelay(true);
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second server bind a port in
  // use and silently share its traffic (with an older model, say); SO_REUSEADDR alone only
  // allows a restart while old connections linger.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.set_payload_max_length(options_.max_body_bytes);

  server.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_start = Clock::now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    double seconds = -1;
    if (request_start != Clock::time_point{}) {
      seconds = std::chrono::duration<double>(Clock::now() - request_start).count();
      request_start = Clock::time_point{};
    }
    metrics_.observe(route_of(req.path), res.status, seconds);
    if (options_.access_log) {
      char line[96];
      std::snprintf(line, sizeof line, " %d %.0fus %zuB", res.status, seconds * 1e6, res.body.size());
      log_line(req.remote_addr + " " + req.method + " " + req.path + line);
    }
  });
  server.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
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
            req.get_header_value<uint64_t>("Content-Length") <= options_.max_body_bytes)
          reply_problem(res, make_problem(413, "body_size", "a body sent as application/x-www-form-urlencoded is limited "
                                                            "to 8192 bytes: send it with Content-Type: application/json"));
        else
          reply_problem(res, make_problem(413, "body_size", "the request body is over the limit of " +
                                                                std::to_string(options_.max_body_bytes) + " bytes"));
        break;
      case 414:
        reply_problem(res, make_problem(414, "http", "the request URI is too long"));
        break;
      default:
        reply_problem(res, make_problem(res.status, "http", "HTTP status " + std::to_string(res.status)));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  server.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
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

}

void Service::install_predict(HttpServer& server) {
  server.Post("/predict", [this](const httplib::Request& req, httplib::Response& res) { predict(req, res); });
}

namespace {

// ?explain=1 asks for the answer's first place explained; 0 or absent: the plain answer.
// Anything else is refused (400, rule "query"). Returns false after replying.
bool explain_wanted(const httplib::Request& req, httplib::Response& res, bool& explain) {
  explain = false;
  const std::size_t count = req.get_param_value_count("explain");
  if (count == 0) return true;
  const std::string value = req.get_param_value("explain");
  if (count == 1 && (value == "0" || value == "1")) {
    explain = value == "1";
    return true;
  }
  std::string shown = count > 1 ? std::to_string(count) + " different values"
                                : nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
  reply_problem(res, make_problem(400, "query", "query parameter 'explain' must be given once, as 1 (explain the answer's first "
                                                "place) or 0 (the plain answer); got " + shown));
  return false;
}

}  // namespace

// One person (an object) or a batch (an array, one scoring call): answers, or the first problem.
// With ?explain=1 each answer becomes {"places": <the same answer>, "why": <its first place explained>}.
void Service::predict(const httplib::Request& req, httplib::Response& res) {
  bool explain = false;
  if (!explain_wanted(req, res, explain)) return;
  const Scorer& scorer = slot_.current().scorer;
  std::string out;
  std::size_t people = 0;
  Problem problem;
  if (!scorer.answer_body(req.body, explain, options_.max_batch, out, people, problem)) {
    reply_problem(res, problem);
    return;
  }
  metrics_.count_people(people);
  if (explain) metrics_.count_explained(people);
  res.status = 200;
  res.set_content(std::move(out), "application/json");
}

void Service::install_info(HttpServer& server) {
  server.Get("/schema", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(slot_.current().schema_body, "application/json");
  });
  server.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const std::shared_ptr<const Loaded> loaded = slot_.get();
    nlohmann::json body = {{"status", "ok"},
                           {"model", loaded->info},
                           {"uptime_seconds", std::round(std::chrono::duration<double>(Clock::now() - started_).count() * 1000) / 1000},
                           {"floresta_version", floresta::kVersion}};
    {
      std::lock_guard<std::mutex> lock(reload_mutex_);
      body["last_reload_error"] = last_reload_error_.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_reload_error_);
    }
    reply_json(res, 200, body);
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const std::shared_ptr<const Loaded> loaded = slot_.get();
    char uptime[256];
    std::snprintf(uptime, sizeof uptime,
                  "# HELP phone_theft_uptime_seconds Seconds since the server started.\n"
                  "# TYPE phone_theft_uptime_seconds gauge\nphone_theft_uptime_seconds %.3f\n",
                  std::chrono::duration<double>(Clock::now() - started_).count());
    res.set_content(metrics_.render(loaded->metrics_info + uptime), "text/plain; version=0.0.4; charset=utf-8");
  });

}

// The page's files, built into the binary (or read from --web DIR), with a strict
// Content-Security-Policy: nothing is loaded from elsewhere.
void Service::install_page(HttpServer& server) {
  const std::string web_dir = options_.web_dir;
  auto serve_asset = [web_dir](const web::Asset& asset, httplib::Response& res) {
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
    server.Get(pattern, [serve_asset, &asset](const httplib::Request&, httplib::Response& res) { serve_asset(asset, res); });
    if (path == "/index.html")
      server.Get("/", [serve_asset, &asset](const httplib::Request&, httplib::Response& res) { serve_asset(asset, res); });
  }

}

// A known route with the wrong method: 405 with Allow; OPTIONS answers 204 with Allow.
void Service::install_method_refusals(HttpServer& server) {
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

}

}  // namespace phone_theft
