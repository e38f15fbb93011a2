// front_door.hpp — how connections reach the routes: cpp-httplib still parses and routes every
// request, but a connection gets a worker thread only once its whole request is in memory.
//
// Why. cpp-httplib 0.11.4 (Debian's) gives each open connection a pool thread for as long as it
// stays open, and its read timeout is per recv(): a client sending one header byte a second
// never times out, so --threads such clients (slowloris) starved every other client, and a
// flood of idle connections queued the good ones behind them. It also reads a chunked body and
// a header line with no limit at all (hundreds of MB of RSS in seconds), inflates gzip/brotli
// bodies with no limit (a 61 KB gzip body became 60 MB), and acts on framing it does not check:
// Content-Length "12abc" reads 12 bytes, Content-Length with Transfer-Encoding: chunked takes
// the chunks, a body sent with a GET is read as the next request (request smuggling).
//
// So the library's accept loop hands each socket to one gate thread (epoll, non-blocking
// sockets) that reads the requests itself:
//   - a request must arrive whole, counted from its first byte, within --read-timeout (else
//     408 and closed); a connection with no request under way is closed after
//     --keep-alive-timeout;
//   - its framing is checked before anything acts on it: the request line and headers within
//     32 KiB (431); no control characters, folded lines or spaces in header names (400); one
//     Content-Length of digits only (or several that agree), or a Transfer-Encoding of exactly
//     "chunked" and no Content-Length (400); a POST, PUT or PATCH with neither (400); well-formed
//     chunks without trailers (400); a body over --max-body-bytes (413, as soon as it is
//     known: the Content-Length, or the chunks so far); any Content-Encoding but identity (415);
//   - only a complete, checked request goes to a worker (--threads of them), which runs
//     cpp-httplib's own process_request() over those bytes in memory (so the library reads
//     exactly the request, never the next one) and writes the answer into memory; the gate
//     sends it (the whole answer within 10 s) and goes on with the next request. Workers never
//     wait on a client: slow and idle clients cost a socket and the bytes they sent;
//   - at most --max-connections at once: one more evicts one that never sent a byte, idle the
//     longest (else the partial request begun the longest ago; evict_one()); memory: each connection's first 64 KiB in
//     and out, and at most max(64 MiB, 4 x --max-body-bytes) beyond that over all of them
//     (past it, reading and dispatching wait for room).
// A refusal is a JSON {"error", "rule": "http" or "body_size", "field": null} like the routes'
// errors, with Connection: close; the connection is then half-closed and its input drained for
// up to 2 s and max(4 MiB, 2 x --max-body-bytes), so that the client reads the answer, not a reset.
//
// SIGTERM (server.stop()): the accept loop ends and drain() closes the connections with no
// request under way, lets requests under way arrive and be answered (each within its
// deadlines, then closed) and returns when none is left.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace phone_theft {

struct FrontDoorLimits {
  std::size_t threads = 64;             // workers
  std::size_t max_connections = 1024;   // open at once
  std::size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds read_timeout{5000};   // a whole request, from its first byte
  std::chrono::milliseconds idle_timeout{2000};   // no request under way
  std::chrono::milliseconds write_timeout{10000};  // a whole answer
  std::size_t keep_alive_requests = 100000;
};

// Told of each request the gate refuses itself: status, method and target as sent (perhaps partial).
using RefusalObserver = std::function<void(int status, const std::string& method, const std::string& target)>;

namespace front_door {

using Clock = std::chrono::steady_clock;

// Defined in front_door.cpp, with the helpers that read and check a request's framing.
struct Conn;
struct Refusal;
enum class State;

}  // namespace front_door

// cpp-httplib's server with the gate above in front of its request processing.
class HttpServer : public httplib::Server {
 public:
  HttpServer();
  ~HttpServer() override;

  void configure(const FrontDoorLimits& limits, RefusalObserver observer);

  // cpp-httplib listens with a backlog of 5 (compiled into Debian's library); a burst of new
  // connections then waits for SYN retransmits. listen() again on the bound socket widens it.
  void widen_backlog(int backlog);

 private:
  using Conn = front_door::Conn;
  using State = front_door::State;
  using Clock = front_door::Clock;

  // The library's task queue: its accept loop "enqueues" process_and_close_socket(sock), which
  // runs at once on that thread and only hands the socket to the gate; shutdown() drains.
  class Queue;

  bool process_and_close_socket(socket_t sock) override;

  void start();
  void drain();
  void wake();

  // ---- workers: one complete request in memory at a time ----

  void work();
  void serve(Conn& c);

  // ---- the gate: every socket, every byte in and out, every deadline ----

  void gate();
  void take_incoming();
  void take_returned();
  std::size_t allowance(const Conn& c) const;
  void recharge(Conn& c);
  void read_some(Conn& c);
  void advance(Conn& c);
  void reject(Conn& c, const front_door::Refusal& r);
  void flush(Conn& c);
  void stall(Conn& c);
  void resume_stalled();
  void set_interest(Conn& c, std::uint32_t events);
  void close_conn(Conn& c);
  void sweep(Clock::time_point now);
  void close_idle();
  bool evict_one();
  Conn* pick_victim();

  FrontDoorLimits limits_;
  RefusalObserver observer_;
  std::size_t budget_ = 64 << 20;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::atomic<bool> draining_{false};
  std::thread gate_;
  std::vector<std::thread> workers_;

  std::mutex mutex_;  // guards the lists below and stopping_
  std::condition_variable ready_cv_;
  std::condition_variable incoming_cv_;
  std::vector<int> incoming_;
  std::deque<Conn*> ready_;
  std::vector<Conn*> returned_;
  bool stopping_ = false;

  // The gate thread's alone:
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::vector<int> stalled_;
  std::size_t total_charged_ = 0;
  bool budget_freed_ = false;
  std::vector<char> scratch_;
};

}  // namespace phone_theft
