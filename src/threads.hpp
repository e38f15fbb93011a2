// src/threads.hpp — splitting rows (scoring) and trees (loading) across threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

namespace floresta::detail {

// Fewer rows than this per thread are not worth a thread's start-up cost.
constexpr std::size_t kMinRowsPerThread = 256;
// Nor fewer trees, when loading.
constexpr std::size_t kMinTreesPerThread = 64;

// The hardware threads, read once: glibc answers std::thread::hardware_concurrency() by
// opening and reading /sys/devices/system/cpu/online each time, about 6 us, which a
// single-row call must not pay (docs/benchmarks.md, compare/shape-b).
inline std::size_t hardware_threads() {
  static const std::size_t count = std::max(1u, std::thread::hardware_concurrency());
  return count;
}

inline std::size_t resolve_threads(int requested) {
  return requested > 0 ? static_cast<std::size_t>(requested) : hardware_threads();
}

// Calls body(begin, end) over [0, n) split into contiguous chunks, on up to n_threads threads
// (the caller's thread takes one chunk), each at least `min_per_thread` long. The exception
// of the first chunk that throws reaches the caller: with chunks that stop at their first
// error, the one a sequential loop would have met first.
// The chunk length parallel_for(n, n_threads, ..., min_per_thread) gives each thread: chunk
// c covers [c * length, (c + 1) * length) within [0, n).
inline std::size_t parallel_chunk(std::size_t n, int n_threads, std::size_t min_per_thread = kMinRowsPerThread) {
  const std::size_t threads = std::min(resolve_threads(n_threads), std::max<std::size_t>(1, n / min_per_thread));
  return threads <= 1 ? std::max<std::size_t>(n, 1) : (n + threads - 1) / threads;
}

template <class Body>
void parallel_for(std::size_t n, int n_threads, Body&& body, std::size_t min_per_thread = kMinRowsPerThread) {
  const std::size_t chunk = parallel_chunk(n, n_threads, min_per_thread);
  const std::size_t threads = (n + chunk - 1) / chunk;
  if (threads <= 1) {
    body(std::size_t{0}, n);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  const auto run = [&](std::size_t t) {
    try {
      body(std::min(n, t * chunk), std::min(n, t * chunk + chunk));
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  // A thread the system refuses (a process at its limit) is not an error of the call: the
  // chunks left run on the caller's thread, after its own.
  std::size_t started = 1;
  for (; started < threads; ++started) {
    try {
      workers.emplace_back(run, started);
    } catch (const std::system_error&) {
      break;
    }
  }
  run(0);
  for (std::size_t t = started; t < threads; ++t) run(t);
  for (auto& w : workers) w.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace floresta::detail
