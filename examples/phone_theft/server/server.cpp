// phone_theft_server — the public half of the São Paulo phone-theft application: a web
// service and page that answer "where is my phone most likely to be stolen?" with floresta.
//
//   phone_theft_server --model examples/models/phone_theft.json [--host 127.0.0.1] [--port 8080]
//
// Routes:
//   POST /predict   {"bairro","marca","dia","periodo","idade","sexo"} -> 10 x {"position","label","value","lift"},
//                   most likely first; a JSON array of such objects -> an array of answers.
//                   ?explain=1: each answer becomes {"places": <the same answer>, "why": {"place",
//                   "expected", "fields": [{"field","value","contribution"}, ...]}}, the first place
//                   explained by floresta's TreeSHAP (each field's push on its margin)
//   GET  /schema    every field, its type and allowed values (from the model), the labels, the limits
//   GET  /health    status, model name and version, uptime
//   GET  /metrics   Prometheus text: requests by route and status, latency histograms
//   GET  /          the page (index.html, app.js, style.css, built into the binary)
//
// A person's values are read through the input rules the model file carries (case, accents,
// spaces, aliases, ranges: floresta's record encoder, the same reading as the CLI and Python);
// null means "not given". Errors are JSON {"error": "...", "rule": "...", "field": ...}: 400
// malformed JSON, a body that is not an object/array, an explain value other than 0 or 1; 422
// a missing field, a wrong type, a value out of range or that the model's rules do not take;
// 413 a body over --max-body-bytes or a batch over --max-batch; 404 an unknown route; 405 a
// known route with the wrong method; 409 explain=1 when the model file carries no node covers.
//
// The model is one immutable std::shared_ptr<const Loaded>: scoring threads read it without a
// lock (each thread keeps a copy and renews it when the generation counter moves). SIGHUP
// reloads the file named by --model and swaps the new model in; a file that fails to load is
// refused with a log line and the old model keeps serving. SIGTERM (or SIGINT) stops
// accepting, lets requests in flight finish and exits 0. Signals are taken by one thread with
// sigwait(): they are blocked in every thread before any is started.
//
// HTTP is cpp-httplib (Debian's libcpp-httplib-dev) behind a gate (front_door.hpp): one thread
// reads every connection without blocking and hands only whole, checked requests to the
// --threads workers, so slow, idle or malformed clients hold no worker. The parts are in
// service.hpp; this file holds the flags, the signals and the listening.
#include "service.hpp"

#include <floresta/floresta.hpp>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace phone_theft {
namespace {

const char* const kUsage = R"(usage: phone_theft_server --model PATH [options]

Serves the phone-theft model: POST /predict, GET /schema, GET /health, GET /metrics and the
page at /. POST /predict?explain=1 adds why the first place: {"places": <the answer>, "why":
{"place", "expected", "fields": [{"field", "value", "contribution"}, ...]}}, each field's push on
that place's margin (exact TreeSHAP; margin units, not probabilities), largest first.
SIGHUP reloads the model file; SIGTERM drains and exits 0.

  --model PATH              model file (floresta JSON, XGBoost JSON/UBJSON, LightGBM): required
  --host HOST               address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --port N                  port (default 8080; 0 picks a free one, printed at startup)
  --threads N               worker threads: requests answered at once (default 64); a request
                            reaches one only when it has arrived whole
  --max-connections N       connections held open at once (default 1024); one more closes
                            one that never sent a byte, else the partial request begun first
  --max-body-bytes N        largest request body accepted, else 413 (default 1048576)
  --max-batch N             most people in one array request, else 413 (default 1000)
  --range NAME=MIN:MAX      an allowed range of a numeric field, else 422, on top of the
                            model's own input rules (the shipped model's idade is 0..120);
                            repeat for more fields; NAME=none removes a range set before
  --keep-alive-timeout S    seconds a connection with no request under way is kept (default 2)
  --keep-alive-requests N   requests per keep-alive connection before it is closed (default 100000)
  --read-timeout S          seconds a client has to send a whole request (request line, headers,
                            body), counted from its first byte; later: 408, closed (default 5)
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
    else if (flag == "--max-connections") o.max_connections = static_cast<std::size_t>(parse_integer(flag, value, 1, 1000000));
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

// Blocks the signals the signal thread takes, in this thread and every thread started after.
sigset_t block_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client closing early must not kill the process
  return signals;
}

// Binds the address (port 0: any free port); -1 when it cannot.
int bind(HttpServer& server, const Options& options) {
  int port = options.port;
  if (port == 0) port = server.bind_to_any_port(options.host);
  else if (!server.bind_to_port(options.host, port)) port = -1;
  if (port >= 0) server.widen_backlog(1024);
  return port;
}

// Takes SIGHUP (reload) until SIGTERM or SIGINT (drain and stop) or until listening ends.
void handle_signals(const sigset_t& signals, Service& service, HttpServer& server, const std::atomic<bool>& listen_done) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      if (!listen_done.load()) service.reload();
      continue;
    }
    if (!listen_done.load()) log_line(std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") + ": draining and stopping");
    while (!listen_done.load() && !server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server.stop();
    return;
  }
}

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  // Before any thread exists (the loader's, the server's): signals go to the signal thread only.
  const sigset_t signals = block_signals();

  std::shared_ptr<const Loaded> first;
  try {
    first = load_model(options, 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phone_theft_server: cannot serve %s: %s\n", options.model.c_str(), e.what());
    return 1;
  }
  Service service(options, std::move(first));
  HttpServer server;
  service.install(server);

  const int port = bind(server, options);
  if (port < 0) {
    std::fprintf(stderr, "phone_theft_server: cannot listen on %s:%d: %s\n", options.host.c_str(), options.port,
                 std::strerror(errno));
    return 1;
  }
  std::atomic<bool> listen_done{false};
  std::thread signal_thread([&] { handle_signals(signals, service, server, listen_done); });

  const Loaded& loaded = service.current();
  std::printf("phone_theft_server: serving %s (version %s, %zu trees, %zu classes) on http://%s:%d with %d threads\n",
              options.model.c_str(), loaded.info["version"].get<std::string>().c_str(), loaded.scorer.model().num_trees(),
              loaded.scorer.num_classes(), options.host.c_str(), port, options.threads);
  std::fflush(stdout);

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
