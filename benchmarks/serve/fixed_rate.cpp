// phone_theft_load — an open-loop load client: POSTs JSON bodies at a fixed offered rate and
// reports latency percentiles. Debian has no wrk2 (wrk has no fixed-rate mode), so the
// fixed-load measurement of benchmarks/serve uses this.
//
//   phone_theft_load --port 8080 --path /predict --bodies people.json --rate 1000 --duration 10 \
//                    --connections 4 --warmup 2 > result.json
//
// Each of --connections threads holds one keep-alive connection (cpp-httplib's client) and
// sends its share of the requests on a fixed schedule: request k of connection c is due at
// start + (k * connections + c) / rate. Latency is measured from the time a request was DUE,
// not from when it was sent, so a slow answer that delays the next requests counts against
// them too (no "coordinated omission"); `service` is measured from the actual send. Requests
// due during the first --warmup seconds are sent but not measured. bodies is a JSON array of
// request bodies, used in turn.
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
  double latency_us;
  double service_us;
};

nlohmann::json percentiles(std::vector<double> values) {
  if (values.empty()) return nullptr;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    const std::size_t i = std::min(values.size() - 1, static_cast<std::size_t>(q * static_cast<double>(values.size())));
    return std::round(values[i] * 10) / 10;
  };
  double sum = 0;
  for (double v : values) sum += v;
  return {{"p50", at(0.50)}, {"p90", at(0.90)}, {"p99", at(0.99)}, {"p999", at(0.999)},
          {"max", std::round(values.back() * 10) / 10}, {"mean", std::round(sum / static_cast<double>(values.size()) * 10) / 10}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", path = "/predict", bodies_path;
  int port = 8080, connections = 4;
  double rate = 1000, duration = 10, warmup = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--host") host = value;
    else if (flag == "--port") port = std::atoi(value.c_str());
    else if (flag == "--path") path = value;
    else if (flag == "--bodies") bodies_path = value;
    else if (flag == "--rate") rate = std::atof(value.c_str());
    else if (flag == "--duration") duration = std::atof(value.c_str());
    else if (flag == "--warmup") warmup = std::atof(value.c_str());
    else if (flag == "--connections") connections = std::atoi(value.c_str());
    else {
      std::fprintf(stderr, "phone_theft_load: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  if (bodies_path.empty() || rate <= 0 || duration <= 0 || connections < 1) {
    std::fprintf(stderr,
                 "usage: phone_theft_load --bodies FILE.json [--host H] [--port N] [--path /predict] [--rate R] "
                 "[--duration S] [--warmup S] [--connections C]\n");
    return 2;
  }
  std::vector<std::string> bodies;
  {
    std::ifstream in(bodies_path);
    const auto list = nlohmann::json::parse(in);
    for (const auto& body : list) bodies.push_back(body.dump());
  }
  if (bodies.empty()) return 2;

  const double period = 1.0 / rate;  // seconds between requests, all connections together
  const auto total = static_cast<long>((warmup + duration) * rate);
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  std::vector<std::vector<Sample>> samples(static_cast<std::size_t>(connections));
  std::atomic<long> errors{0}, sent{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      prctl(PR_SET_TIMERSLACK, 1UL);  // wake at the due time, not up to 50 us later (the default slack)
      httplib::Client client(host, port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(10, 0);
      auto& mine = samples[static_cast<std::size_t>(c)];
      mine.reserve(static_cast<std::size_t>(total / connections + 1));
      for (long k = c; k < total; k += connections) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k * period));
        std::this_thread::sleep_until(due);
        const auto sent_at = Clock::now();
        const auto res = client.Post(path.c_str(), bodies[static_cast<std::size_t>(k) % bodies.size()], "application/json");
        const auto done = Clock::now();
        sent.fetch_add(1, std::memory_order_relaxed);
        if (!res || res->status != 200) {
          errors.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if (due < measure_from) continue;
        mine.push_back({std::chrono::duration<double, std::micro>(done - due).count(),
                        std::chrono::duration<double, std::micro>(done - sent_at).count()});
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> latency, service;
  for (const auto& list : samples)
    for (const Sample& s : list) {
      latency.push_back(s.latency_us);
      service.push_back(s.service_us);
    }
  const nlohmann::json out = {{"offered_rate", rate},
                              {"achieved_rate", std::round(static_cast<double>(sent.load()) / elapsed)},
                              {"connections", connections},
                              {"duration_s", duration},
                              {"warmup_s", warmup},
                              {"requests", sent.load()},
                              {"measured", latency.size()},
                              {"errors", errors.load()},
                              {"latency_us", percentiles(latency)},
                              {"service_us", percentiles(service)}};
  std::printf("%s\n", out.dump(2).c_str());
  return errors.load() == 0 ? 0 : 1;
}
