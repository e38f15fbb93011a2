// bank_stream_replay — publishes JSON Lines records to a Redis Stream (field `json`, as
// python -m bank.replay does) on a fixed schedule: record i is due at start + i / rate; every
// --tick-us what is due goes out in one pipelined round trip (open loop: a slow reader never
// slows it down). The tick matters to Redis: with appendfsync always, every event-loop turn
// that writes ends in an fsync, so a producer sending one XADD at a time costs Redis one fsync
// a record; a tick of 1 ms groups 20 records at 20,000/s into one.
// The benchmark's publisher: the Python replay takes a large share of the cores the scorer and
// Redis share at the benchmark's rates; this one hardly any (docs/benchmarks.md, bench-stream).
//
//   bank_stream_replay --rate 20000 [--redis-host H] [--redis-port P] [--stream transactions] < records.jsonl
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "flags.hpp"
#include "redis.hpp"

namespace {

const char* kUsage =
    "usage: bank_stream_replay --rate N [--tick-us US] [--redis-host HOST] [--redis-port PORT] [--stream NAME]\n"
    "                          < records.jsonl\n"
    "Publishes each line of stdin to the stream as an entry with the field `json`, line i due at\n"
    "start + i / N seconds; every US microseconds (default 1000) what is due goes in one pipeline.\n"
    "Prints the count and the rate kept.\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "bank_stream_replay: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

struct Options {
  std::string host = "127.0.0.1", stream = "transactions";
  int port = 6379;
  long long rate = 0, tick_us = 1000;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--redis-host") o.host = value;
    else if (flag == "--stream") o.stream = value;
    else if (flag == "--redis-port") o.port = static_cast<int>(bank::whole_number(value, 1, 65535).value_or(0));
    else if (flag == "--rate") o.rate = bank::whole_number(value, 1, 10'000'000).value_or(0);
    else if (flag == "--tick-us") o.tick_us = bank::whole_number(value, 0, 10'000'000).value_or(-1);
    else usage_error("unknown flag " + flag);
    if ((flag == "--redis-port" && o.port == 0) || (flag == "--rate" && o.rate == 0) || o.tick_us < 0)
      usage_error(flag + ": not a whole number in range: " + value);
  }
  if (o.rate == 0) usage_error("--rate is required");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::ios::sync_with_stdio(false);
  std::vector<std::string> lines;
  for (std::string line; std::getline(std::cin, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(std::move(line));
  try {
    bank::Redis redis(o.host, o.port, 5000);
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    auto due_at = [&](std::size_t i) {
      return start + std::chrono::nanoseconds(static_cast<long long>(1e9 * static_cast<double>(i) / static_cast<double>(o.rate)));
    };
    std::size_t sent = 0;
    auto tick = start;
    while (sent < lines.size()) {
      tick = std::max(tick + std::chrono::microseconds(o.tick_us), due_at(sent));
      std::this_thread::sleep_until(tick);
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      const std::size_t due = std::min(lines.size(), static_cast<std::size_t>(elapsed * static_cast<double>(o.rate)) + 1);
      for (std::size_t i = sent; i < due; ++i) redis.append({"XADD", o.stream, "*", "json", lines[i]});
      for (std::size_t i = sent; i < due; ++i) {
        const bank::Reply reply = redis.read();
        if (reply.is_error()) throw bank::RedisError("XADD " + o.stream + ": " + reply.text());
      }
      sent = due;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::fprintf(stderr, "bank_stream_replay: published %zu records in %.2f s, %.0f a second\n", lines.size(), seconds,
                 seconds > 0 ? static_cast<double>(lines.size()) / seconds : 0.0);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bank_stream_replay: %s\n", error.what());
    return 1;
  }
  return 0;
}
