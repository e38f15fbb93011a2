// metrics.hpp — request counters and latency histograms in Prometheus' text format.
//
//   phone_theft::Metrics metrics;
//   metrics.observe(phone_theft::Route::kPredict, 200, 0.00021);   // seconds
//   metrics.count_people(1); metrics.count_explained(1);           // people scored, and explained (explain=1)
//   std::string text = metrics.render();                            // GET /metrics
//
// Counts by route and status code, and per route a histogram of latencies with fixed
// buckets (cumulative `_bucket{le=...}`, `_sum`, `_count`, as Prometheus expects). Every
// counter is a relaxed atomic: observe() takes no lock and allocates nothing. A scrape reads
// the counters one by one, so a request finishing during the scrape may appear in some
// counters and not yet in others; _count is the sum of the buckets read, so it always
// agrees with them.
//
// Thread-safety: observe() and render() may be called from any number of threads.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace phone_theft {

enum class Route : int { kPredict, kSchema, kHealth, kMetrics, kPage, kOther, kCount };

inline const char* route_label(Route route) {
  static const char* const names[] = {"/predict", "/schema", "/health", "/metrics", "page", "other"};
  return names[static_cast<int>(route)];
}

class Metrics {
 public:
  // Upper bounds of the latency buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 14> kBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,    0.025,  0.05,    0.1,    0.25,   0.5,    1.0};

  void observe(Route route, int status, double seconds) {
    const auto r = static_cast<std::size_t>(route);
    if (status < 100 || status > 599) status = 599;
    counts_[r][static_cast<std::size_t>(status - 100)].fetch_add(1, std::memory_order_relaxed);
    if (seconds < 0) return;  // latency unknown (the request never reached routing)
    std::size_t bucket = 0;
    while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
    buckets_[r][bucket].fetch_add(1, std::memory_order_relaxed);
    sum_ns_[r].fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  }

  void count_people(std::size_t n) { people_.fetch_add(n, std::memory_order_relaxed); }
  void count_explained(std::size_t n) { explained_.fetch_add(n, std::memory_order_relaxed); }
  void count_reload(bool ok) { (ok ? reloads_ok_ : reloads_failed_).fetch_add(1, std::memory_order_relaxed); }

  // The exposition text; `extra` (already formatted lines) is appended.
  std::string render(const std::string& extra = {}) const {
    std::string out;
    out.reserve(4096);
    out += "# HELP phone_theft_http_requests_total HTTP requests answered, by route and status code.\n";
    out += "# TYPE phone_theft_http_requests_total counter\n";
    for (std::size_t r = 0; r < kRoutes; ++r)
      for (std::size_t s = 0; s < kStatuses; ++s) {
        const std::uint64_t n = counts_[r][s].load(std::memory_order_relaxed);
        if (n == 0) continue;
        out += "phone_theft_http_requests_total{route=\"";
        out += route_label(static_cast<Route>(r));
        out += "\",code=\"" + std::to_string(s + 100) + "\"} " + std::to_string(n) + "\n";
      }
    out += "# HELP phone_theft_http_request_duration_seconds Time from a request's headers read to its answer written.\n";
    out += "# TYPE phone_theft_http_request_duration_seconds histogram\n";
    for (std::size_t r = 0; r < kRoutes; ++r) {
      const std::string route = route_label(static_cast<Route>(r));
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b <= kBounds.size(); ++b) {
        cumulative += buckets_[r][b].load(std::memory_order_relaxed);
        out += "phone_theft_http_request_duration_seconds_bucket{route=\"" + route + "\",le=\"";
        out += b < kBounds.size() ? format_bound(kBounds[b]) : std::string("+Inf");
        out += "\"} " + std::to_string(cumulative) + "\n";
      }
      const double sum = static_cast<double>(sum_ns_[r].load(std::memory_order_relaxed)) / 1e9;
      out += "phone_theft_http_request_duration_seconds_sum{route=\"" + route + "\"} " + format_bound(sum) + "\n";
      out += "phone_theft_http_request_duration_seconds_count{route=\"" + route + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "# HELP phone_theft_people_scored_total People scored (a batch request counts each of its people).\n";
    out += "# TYPE phone_theft_people_scored_total counter\n";
    out += "phone_theft_people_scored_total " + std::to_string(people_.load(std::memory_order_relaxed)) + "\n";
    out += "# HELP phone_theft_people_explained_total People whose answer was explained (POST /predict?explain=1; a batch counts each of its people).\n";
    out += "# TYPE phone_theft_people_explained_total counter\n";
    out += "phone_theft_people_explained_total " + std::to_string(explained_.load(std::memory_order_relaxed)) + "\n";
    out += "# HELP phone_theft_model_reloads_total Model reloads on SIGHUP, by result.\n";
    out += "# TYPE phone_theft_model_reloads_total counter\n";
    out += "phone_theft_model_reloads_total{result=\"ok\"} " + std::to_string(reloads_ok_.load(std::memory_order_relaxed)) + "\n";
    out += "phone_theft_model_reloads_total{result=\"refused\"} " +
           std::to_string(reloads_failed_.load(std::memory_order_relaxed)) + "\n";
    out += extra;
    return out;
  }

 private:
  static constexpr std::size_t kRoutes = static_cast<std::size_t>(Route::kCount);
  static constexpr std::size_t kStatuses = 500;  // codes 100..599

  static std::string format_bound(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.9g", value);
    return buffer;
  }

  std::array<std::array<std::atomic<std::uint64_t>, kStatuses>, kRoutes> counts_{};
  std::array<std::array<std::atomic<std::uint64_t>, kBounds.size() + 1>, kRoutes> buckets_{};
  std::array<std::atomic<std::uint64_t>, kRoutes> sum_ns_{};
  std::atomic<std::uint64_t> people_{0};
  std::atomic<std::uint64_t> explained_{0};
  std::atomic<std::uint64_t> reloads_ok_{0};
  std::atomic<std::uint64_t> reloads_failed_{0};
};

}  // namespace phone_theft
