// front_door.cpp — see front_door.hpp.
#include "front_door.hpp"

#include "scorer.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace phone_theft {

void log_line(const std::string& text);  // service.cpp

namespace front_door {

constexpr std::size_t kMaxHeaderBytes = 32 * 1024;  // request line + headers + the blank line
constexpr std::size_t kFreeBytes = 64 * 1024;       // per connection, not counted in the budget
constexpr std::size_t kMaxChunkLine = 1024;
constexpr std::chrono::milliseconds kLinger{2000};

bool is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}
bool is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }
bool is_hex(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}
// A sent value quoted in a message: bounded, control characters escaped (the JSON dump escapes the rest).
std::string quote_sent(const std::string& s) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < 60; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (is_ctl(c) || c == '\t') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += s[i];
    }
  }
  return out + (s.size() > 60 ? "...'" : "'");
}

// Where one request stands in a connection's bytes; kept between reads so nothing is scanned twice.
struct Scan {
  std::size_t searched = 0;     // bytes already searched for the end of the headers
  std::size_t body_start = 0;   // just past the blank line; 0 until the headers are complete
  bool chunked = false;
  std::uint64_t content_length = 0;
  bool expect_continue = false;
  bool continue_sent = false;
  std::size_t chunk_pos = 0;    // the next chunk-size line
  std::uint64_t chunk_data = 0;  // body bytes in the complete chunks so far
  std::string method, target;
};

enum class Verdict { kNeedMore, kComplete, kRefused };

struct Refusal {
  int status = 400;
  std::string rule = "http";
  std::string message;
};

Verdict refuse(Refusal& r, int status, std::string message, std::string rule = "http") {
  r.status = status;
  r.rule = std::move(rule);
  r.message = std::move(message);
  return Verdict::kRefused;
}

// The request line and headers [0, end): what frames the body, or why the request is refused.
Verdict read_framing(const std::string& buf, std::size_t end, std::size_t max_body, Scan& s, Refusal& r) {
  std::size_t eol = buf.find("\r\n");
  if (eol > end) eol = end;
  const std::string line = buf.substr(0, eol);
  const std::size_t sp = line.find(' ');
  s.method = line.substr(0, std::min(sp, std::size_t{32}));
  if (sp != std::string::npos) s.target = line.substr(sp + 1, std::min(line.find(' ', sp + 1) - sp - 1, std::size_t{200}));
  for (std::string* text : {&s.method, &s.target})  // they reach the access log
    for (char& c : *text)
      if (is_ctl(static_cast<unsigned char>(c)) || c == '\t') c = '?';
  for (unsigned char c : line)
    if (is_ctl(c)) return refuse(r, 400, "bad request: the request line holds a control character (a bare CR or LF?)");
  bool have_length = false, content_encoding = false;
  std::size_t te_count = 0;
  std::string te, encoding;
  for (std::size_t pos = eol + 2; pos < end;) {
    std::size_t next = buf.find("\r\n", pos);
    if (next > end) next = end;
    const std::string header = buf.substr(pos, next - pos);
    pos = next + 2;
    for (unsigned char c : header)
      if (is_ctl(c)) return refuse(r, 400, "bad request: a header holds a control character (a bare CR or LF?)");
    if (header.empty()) continue;
    if (header[0] == ' ' || header[0] == '\t')
      return refuse(r, 400, "bad request: a folded header line (obsolete line folding) is not accepted");
    const std::size_t colon = header.find(':');
    if (colon == std::string::npos || colon == 0)
      return refuse(r, 400, "bad request: a header line without a name and a colon: " + quote_sent(header));
    const std::string name = header.substr(0, colon);
    for (unsigned char c : name)
      if (!is_tchar(c)) return refuse(r, 400, "bad request: a header name holds a space or a separator: " + quote_sent(name));
    std::size_t a = colon + 1, b = header.size();
    while (a < b && (header[a] == ' ' || header[a] == '\t')) ++a;
    while (b > a && (header[b - 1] == ' ' || header[b - 1] == '\t')) --b;
    const std::string value = header.substr(a, b - a);
    const std::string key = lower(name);
    if (key == "content-length") {
      // cpp-httplib reads "12abc" as 12 and "-1" as 2^64-1, and takes the first of two.
      bool digits = !value.empty() && value.size() <= 18;
      for (unsigned char c : value) digits = digits && c >= '0' && c <= '9';
      if (!digits) return refuse(r, 400, "bad request: Content-Length must be a number of bytes (digits only), got " + quote_sent(value));
      const std::uint64_t n = std::stoull(value);
      if (have_length && n != s.content_length)
        return refuse(r, 400, "bad request: two Content-Length headers disagree (" + std::to_string(s.content_length) + " and " +
                                  std::to_string(n) + ")");
      have_length = true;
      s.content_length = n;
    } else if (key == "transfer-encoding") {
      ++te_count;
      te = value;
    } else if (key == "content-encoding") {
      if (lower(value) != "identity") {
        content_encoding = true;
        encoding = value;
      }
    } else if (key == "expect") {
      s.expect_continue = lower(value) == "100-continue";
    }
  }
  if (te_count > 0) {
    if (te_count > 1 || lower(te) != "chunked")
      return refuse(r, 400, "bad request: Transfer-Encoding must be exactly 'chunked', given once; got " + quote_sent(te) +
                                (te_count > 1 ? " and " + std::to_string(te_count - 1) + " more" : ""));
    if (have_length)
      return refuse(r, 400, "bad request: both Content-Length and Transfer-Encoding: the body's length is ambiguous "
                            "(a request-smuggling pattern); send one of them");
    s.chunked = true;
  } else if (!have_length && (s.method == "POST" || s.method == "PUT" || s.method == "PATCH")) {
    return refuse(r, 400, "a " + s.method + " request needs a Content-Length header (or a chunked body)");
  }
  if (have_length && s.content_length > max_body)
    return refuse(r, 413, "the request body is over the limit of " + std::to_string(max_body) + " bytes", "body_size");
  if (content_encoding)
    return refuse(r, 415, "Content-Encoding " + quote_sent(encoding) + " is not accepted: send the body uncompressed");
  return Verdict::kNeedMore;
}

// The chunks from s.chunk_pos on: complete (request_len set), more needed, or refused.
Verdict read_chunks(const std::string& buf, std::size_t max_body, Scan& s, std::size_t& request_len, Refusal& r) {
  const std::size_t max_raw = 2 * max_body + 65536;  // the body with its chunk framing
  for (;;) {
    const std::size_t pos = s.chunk_pos;
    const std::size_t eol = buf.find("\r\n", pos);
    if (eol == std::string::npos) {
      if (buf.size() - pos > kMaxChunkLine) return refuse(r, 400, "bad request: a chunk-size line over 1024 bytes");
      return Verdict::kNeedMore;
    }
    if (eol - pos > kMaxChunkLine) return refuse(r, 400, "bad request: a chunk-size line over 1024 bytes");
    std::size_t i = pos;
    while (i < eol && is_hex(static_cast<unsigned char>(buf[i]))) ++i;
    bool ok = i > pos && i - pos <= 15 && (i == eol || buf[i] == ';');
    for (std::size_t k = i; ok && k < eol; ++k) ok = !is_ctl(static_cast<unsigned char>(buf[k]));
    if (!ok) return refuse(r, 400, "bad request: a chunk size must be hexadecimal digits (then an optional ;extension), got " +
                                       quote_sent(buf.substr(pos, eol - pos)));
    const std::uint64_t size = std::stoull(buf.substr(pos, i - pos), nullptr, 16);
    if (size == 0) {
      // The last chunk, then the blank line: cpp-httplib takes no trailer fields.
      if (buf.size() < eol + 4) {
        if (buf.size() > eol + 2 && buf[eol + 2] != '\r')
          return refuse(r, 400, "bad request: trailer fields after a chunked body are not accepted");
        return Verdict::kNeedMore;
      }
      if (buf.compare(eol + 2, 2, "\r\n") != 0)
        return refuse(r, 400, "bad request: trailer fields after a chunked body are not accepted");
      request_len = eol + 4;
      return Verdict::kComplete;
    }
    if (s.chunk_data + size > max_body)
      return refuse(r, 413, "the request body is over the limit of " + std::to_string(max_body) + " bytes", "body_size");
    const std::size_t data_end = eol + 2 + static_cast<std::size_t>(size);
    if (buf.size() < data_end + 2) return Verdict::kNeedMore;
    if (buf.compare(data_end, 2, "\r\n") != 0) return refuse(r, 400, "bad request: a chunk's data is not followed by CRLF");
    s.chunk_data += size;
    s.chunk_pos = data_end + 2;
    if (s.chunk_pos - s.body_start > max_raw)
      return refuse(r, 413, "the chunked body's framing is over " + std::to_string(max_raw) + " bytes (chunks too small)",
                    "body_size");
  }
}

// One request at the start of `buf`: complete (request_len set), more needed, or refused.
Verdict scan_request(const std::string& buf, std::size_t max_body, Scan& s, std::size_t& request_len, Refusal& r) {
  if (s.body_start == 0) {
    const std::size_t end = buf.find("\r\n\r\n", s.searched >= 3 ? s.searched - 3 : 0);
    // A bare LF ends no line for cpp-httplib (it skips such a line): refuse it now, not at the timeout.
    const std::size_t head = std::min({end == std::string::npos ? buf.size() : end, buf.size(), kMaxHeaderBytes});
    for (std::size_t i = s.searched; i < head; ++i)
      if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
        return refuse(r, 400, "bad request: a line of the request ends with a bare LF (lines end with CRLF)");
    if (end == std::string::npos || end + 4 > kMaxHeaderBytes) {
      s.searched = buf.size();
      if (buf.size() > kMaxHeaderBytes || end != std::string::npos)
        return refuse(r, 431, "the request line and headers are over " + std::to_string(kMaxHeaderBytes) + " bytes");
      return Verdict::kNeedMore;
    }
    const Verdict v = read_framing(buf, end, max_body, s, r);
    if (v == Verdict::kRefused) return v;
    s.body_start = end + 4;
    s.chunk_pos = s.body_start;
  }
  if (s.chunked) return read_chunks(buf, max_body, s, request_len, r);
  if (buf.size() - s.body_start < s.content_length) return Verdict::kNeedMore;
  request_len = s.body_start + static_cast<std::size_t>(s.content_length);
  return Verdict::kComplete;
}

const char* reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
  }
}

// The whole request in memory for process_request(); the answer goes into `out`.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(socket_t sock, const char* data, std::size_t size, std::string& out)
      : sock_(sock), data_(data), size_(size), out_(out) {}
  bool is_readable() const override { return pos_ < size_; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, std::size_t size) override {
    const std::size_t n = std::min(size, size_ - pos_);
    std::memcpy(ptr, data_ + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, std::size_t size) override {
    // cpp-httplib answers "Expect: 100-continue" itself; the gate did when it was time to.
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (out_.empty() && size == sizeof kContinue - 1 && std::memcmp(ptr, kContinue, size) == 0) return static_cast<ssize_t>(size);
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(false, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  void address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int rc = remote ? getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len)
                          : getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len);
    if (rc != 0) return;
    char text[INET6_ADDRSTRLEN] = "";
    if (addr.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      port = ntohs(in6->sin6_port);
    }
    ip = text;
  }

  socket_t sock_;
  const char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::string& out_;
};

enum class State { kReading, kWorking, kWriting };

struct Conn {
  int fd = -1;
  State state = State::kReading;
  std::string in, out;
  std::size_t out_sent = 0;
  Scan scan;
  bool started = false;  // a request under way (a byte of it arrived)
  Clock::time_point since;     // idle since / request begun / answer begun / lingering since
  Clock::time_point deadline;
  bool close_after_write = false;
  bool linger = false;         // answered and half-closed: drain the input, then close
  std::size_t discarded = 0;   // bytes drained while lingering
  bool stalled = false;        // waiting for room in the budget
  bool registered = false;     // in the epoll set
  std::uint32_t interest = 0;
  std::size_t charged = 0;
  std::size_t requests = 0;
  // Set by the gate before a worker takes it, by the worker before it comes back:
  std::size_t request_len = 0;
  bool last_request = false;
  bool worker_close = false;
};

}  // namespace front_door

class HttpServer::Queue : public httplib::TaskQueue {
 public:
  explicit Queue(HttpServer& server) : server_(server) { server_.start(); }
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { server_.drain(); }

 private:
  HttpServer& server_;
};

HttpServer::HttpServer() {
  new_task_queue = [this] { return new Queue(*this); };
}

HttpServer::~HttpServer() = default;

void HttpServer::configure(const FrontDoorLimits& limits, RefusalObserver observer) {
  limits_ = limits;
  observer_ = std::move(observer);
  budget_ = std::max<std::size_t>(std::size_t{64} << 20, 4 * limits_.max_body_bytes);
  // The Keep-Alive header cpp-httplib writes into each answer.
  set_keep_alive_max_count(limits_.keep_alive_requests);
  set_keep_alive_timeout(static_cast<time_t>(limits_.idle_timeout.count() / 1000));
}

void HttpServer::widen_backlog(int backlog) {
  const auto sock = svr_sock_.load();
  if (sock != INVALID_SOCKET) ::listen(sock, backlog);
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  const int flags = fcntl(sock, F_GETFL, 0);
  fcntl(sock, F_SETFL, flags | O_NONBLOCK);
  int yes = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  {
    // At most 16 sockets wait for the gate: a burst waits in the kernel's listen queue, where it
    // holds no descriptor, and the gate's eviction keeps the count near --max-connections.
    std::unique_lock<std::mutex> lock(mutex_);
    incoming_cv_.wait(lock, [&] { return incoming_.size() < 16 || stopping_; });
    incoming_.push_back(sock);
  }
  wake();
  return true;
}

void HttpServer::start() {
  // Each connection is a descriptor: make room for --max-connections, or serve fewer.
  rlimit limit{};
  const rlim_t need = static_cast<rlim_t>(limits_.max_connections + limits_.threads + 64);
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < need) {
    limit.rlim_cur = std::min(need, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < need) {
      const rlim_t spare = limits_.threads + 64;
      limits_.max_connections = limit.rlim_cur > spare + 16 ? static_cast<std::size_t>(limit.rlim_cur - spare) : 16;
      log_line("--max-connections lowered to " + std::to_string(limits_.max_connections) + " (the open-file limit is " +
               std::to_string(limit.rlim_cur) + ")");
    }
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || event_fd_ < 0) {
    log_line(std::string("cannot start the connection gate: ") + std::strerror(errno));
    std::_Exit(1);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = event_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev);
  gate_ = std::thread([this] { gate(); });
  for (std::size_t i = 0; i < limits_.threads; ++i) workers_.emplace_back([this] { work(); });
}

void HttpServer::drain() {
  draining_.store(true);
  wake();
  if (gate_.joinable()) gate_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  for (const int sock : incoming_) ::close(sock);
  incoming_.clear();
  ::close(event_fd_);
  ::close(epoll_fd_);
}

void HttpServer::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof one);
}

// ---- workers: one complete request in memory at a time ----

void HttpServer::work() {
  for (;;) {
    Conn* c = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_cv_.wait(lock, [&] { return !ready_.empty() || stopping_; });
      if (ready_.empty()) return;
      c = ready_.front();
      ready_.pop_front();
    }
    serve(*c);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      returned_.push_back(c);
    }
    wake();
  }
}

void HttpServer::serve(Conn& c) {
  bool closed = false, ok = false;
  try {
    front_door::RequestStream stream(c.fd, c.in.data(), c.request_len, c.out);
    ok = process_request(stream, c.last_request, closed, nullptr);
  } catch (...) {  // an allocation failure outside the handlers: this connection ends, the server does not
    c.out.clear();
  }
  c.in.erase(0, c.request_len);
  c.worker_close = !ok || closed || c.last_request;
  // The answer goes out now if the socket takes it (it usually does): one wake-up less before
  // the client has it. What is left, the gate sends.
  c.out_sent = 0;
  while (c.out_sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    c.out_sent += static_cast<std::size_t>(n);
  }
}

// ---- the gate: every socket, every byte in and out, every deadline ----

void HttpServer::gate() {
  std::vector<epoll_event> events(256);
  scratch_.resize(64 * 1024);
  Clock::time_point last_sweep = Clock::now();
  bool drain_seen = false;
  for (;;) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 50);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == event_fd_) {
        std::uint64_t value;
        [[maybe_unused]] const ssize_t r = ::read(event_fd_, &value, sizeof value);
        continue;
      }
      const auto it = conns_.find(fd);
      if (it == conns_.end()) continue;
      Conn& c = *it->second;
      if (c.state == State::kReading) read_some(c);
      else if (c.state == State::kWriting) flush(c);
    }
    take_returned();
    take_incoming();
    const Clock::time_point now = Clock::now();
    if (now - last_sweep >= std::chrono::milliseconds(100)) {
      last_sweep = now;
      sweep(now);
    }
    if (draining_.load() && !drain_seen) {
      drain_seen = true;
      close_idle();
    }
    if (budget_freed_) resume_stalled();
    if (drain_seen && conns_.empty()) return;
  }
}

void HttpServer::take_incoming() {
  std::vector<int> socks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    socks.swap(incoming_);
  }
  incoming_cv_.notify_all();
  for (const int sock : socks) {
    if (draining_.load()) {
      ::close(sock);
      continue;
    }
    if (conns_.size() >= limits_.max_connections && !evict_one()) {
      ::close(sock);  // every connection has a request being answered: no room
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->fd = sock;
    c->since = Clock::now();
    c->deadline = c->since + std::max(limits_.idle_timeout, std::chrono::milliseconds(100));
    Conn& ref = *c;
    conns_.emplace(sock, std::move(c));
    set_interest(ref, EPOLLIN | EPOLLRDHUP);
  }
}

void HttpServer::take_returned() {
  std::vector<Conn*> back;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    back.swap(returned_);
  }
  for (Conn* p : back) {
    Conn& c = *p;
    ++c.requests;
    c.state = State::kWriting;
    c.close_after_write = c.worker_close || draining_.load();
    c.linger = c.close_after_write;
    c.since = Clock::now();
    c.deadline = c.since + limits_.write_timeout;
    if (c.in.capacity() > front_door::kFreeBytes) std::string(c.in).swap(c.in);
    recharge(c);
    flush(c);
  }
}

// Bytes this connection may still read: its free share, then what is left of the budget.
std::size_t HttpServer::allowance(const Conn& c) const {
  const std::size_t held = c.in.size() + c.out.size();
  const std::size_t own = held < front_door::kFreeBytes ? front_door::kFreeBytes - held : 0;
  return own + (total_charged_ < budget_ ? budget_ - total_charged_ : 0);
}

void HttpServer::recharge(Conn& c) {
  const std::size_t held = c.in.size() + c.out.size();
  const std::size_t charge = held > front_door::kFreeBytes ? held - front_door::kFreeBytes : 0;
  if (charge < c.charged) budget_freed_ = true;
  total_charged_ = total_charged_ - c.charged + charge;
  c.charged = charge;
}

void HttpServer::read_some(Conn& c) {
  if (c.linger) {  // answered and half-closed: drop what still comes, until EOF (or enough of it)
    const ssize_t n = ::recv(c.fd, scratch_.data(), scratch_.size(), 0);
    if (n > 0) c.discarded += static_cast<std::size_t>(n);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
        c.discarded > std::max<std::size_t>(4 << 20, 2 * limits_.max_body_bytes))
      close_conn(c);
    return;
  }
  const std::size_t room = std::min(allowance(c), scratch_.size());
  if (room == 0) {
    stall(c);
    return;
  }
  const ssize_t n = ::recv(c.fd, scratch_.data(), room, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    close_conn(c);  // the client went away (mid-request or not): nothing to answer
    return;
  }
  if (n < 0) return;
  c.in.append(scratch_.data(), static_cast<std::size_t>(n));
  recharge(c);
  advance(c);
}

// The connection's input changed or it is ready to read again: dispatch, refuse or wait.
void HttpServer::advance(Conn& c) {
  if (c.in.empty()) return;
  const Clock::time_point now = Clock::now();
  if (!c.started) {
    c.started = true;
    c.since = now;
    c.deadline = now + limits_.read_timeout;
  }
  front_door::Refusal refusal;
  std::size_t length = 0;
  switch (front_door::scan_request(c.in, limits_.max_body_bytes, c.scan, length, refusal)) {
    case front_door::Verdict::kNeedMore:
      if (c.scan.expect_continue && !c.scan.continue_sent && c.scan.body_start != 0) {
        c.scan.continue_sent = true;  // the client waits for this before it sends the body
        static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        [[maybe_unused]] const ssize_t w = ::send(c.fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      return;
    case front_door::Verdict::kRefused:
      reject(c, refusal);
      return;
    case front_door::Verdict::kComplete:
      break;
  }
  if (total_charged_ > budget_) {  // answers waiting to be taken hold the budget: wait for room
    stall(c);
    return;
  }
  c.request_len = length;
  c.last_request = draining_.load() || c.requests + 1 >= limits_.keep_alive_requests;
  c.worker_close = false;
  c.state = State::kWorking;
  set_interest(c, 0);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.push_back(&c);
  }
  ready_cv_.notify_one();
}

void HttpServer::reject(Conn& c, const front_door::Refusal& r) {
  c.stalled = false;
  if (observer_) observer_(r.status, c.scan.method, c.scan.target);
  Problem problem;
  problem.status = r.status;
  problem.rule = r.rule;
  problem.message = r.message;
  const std::string body = problem.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  c.in.clear();
  c.out = "HTTP/1.1 " + std::to_string(r.status) + " " + front_door::reason(r.status) +
          "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body;
  c.out_sent = 0;
  recharge(c);
  c.state = State::kWriting;
  c.close_after_write = true;
  c.linger = true;
  c.since = Clock::now();
  c.deadline = c.since + limits_.write_timeout;
  flush(c);
}

void HttpServer::flush(Conn& c) {
  while (c.out_sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      set_interest(c, EPOLLOUT);
      return;
    }
    close_conn(c);
    return;
  }
  std::string().swap(c.out);
  c.out_sent = 0;
  recharge(c);
  const Clock::time_point now = Clock::now();
  if (c.close_after_write) {
    // Half-close and drain what the client still sends, so that it reads the answer, not a reset.
    ::shutdown(c.fd, SHUT_WR);
    std::string().swap(c.in);
    recharge(c);
    c.state = State::kReading;
    c.linger = true;
    c.since = now;
    c.deadline = now + std::min<std::chrono::milliseconds>(front_door::kLinger, limits_.read_timeout);
    set_interest(c, EPOLLIN | EPOLLRDHUP);
    return;
  }
  c.state = State::kReading;
  c.started = false;
  c.scan = front_door::Scan{};
  c.since = now;
  c.deadline = now + limits_.idle_timeout;
  set_interest(c, EPOLLIN | EPOLLRDHUP);
  advance(c);  // a request pipelined behind the last one is already here
}

void HttpServer::stall(Conn& c) {
  if (c.stalled) return;
  c.stalled = true;
  set_interest(c, 0);
  stalled_.push_back(c.fd);
}

void HttpServer::resume_stalled() {
  budget_freed_ = false;
  std::vector<int> fds;
  fds.swap(stalled_);
  for (const int fd : fds) {
    const auto it = conns_.find(fd);
    if (it == conns_.end() || !it->second->stalled) continue;
    Conn& c = *it->second;
    c.stalled = false;
    if (c.state != State::kReading || c.linger) continue;
    set_interest(c, EPOLLIN | EPOLLRDHUP);
    advance(c);
  }
}

void HttpServer::set_interest(Conn& c, std::uint32_t events) {
  if (events == 0) {
    if (c.registered) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    c.registered = false;
    c.interest = 0;
    return;
  }
  if (c.registered && c.interest == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = c.fd;
  epoll_ctl(epoll_fd_, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
  c.registered = true;
  c.interest = events;
}

void HttpServer::close_conn(Conn& c) {
  set_interest(c, 0);
  ::close(c.fd);
  total_charged_ -= c.charged;
  if (c.charged) budget_freed_ = true;
  conns_.erase(c.fd);  // destroys c
}

// Deadlines: idle connections closed, late requests refused (408), answers not taken and
// lingering connections closed.
void HttpServer::sweep(Clock::time_point now) {
  std::vector<int> late;
  for (const auto& [fd, c] : conns_)
    if (c->state != State::kWorking && now >= c->deadline) late.push_back(fd);
  for (const int fd : late) {
    const auto it = conns_.find(fd);
    if (it == conns_.end()) continue;
    Conn& c = *it->second;
    if (c.state == State::kReading && c.started && !c.linger) {
      front_door::Refusal r;
      r.status = 408;
      r.message = "the request did not arrive whole within the read timeout of " +
                  std::to_string(limits_.read_timeout.count() / 1000) + " s (counted from its first byte)";
      reject(c, r);
    } else {
      close_conn(c);
    }
  }
}

// SIGTERM: no request under way, nothing to wait for.
void HttpServer::close_idle() {
  std::vector<int> idle;
  for (const auto& [fd, c] : conns_)
    if (c->state == State::kReading && !c->started && !c->linger) idle.push_back(fd);
  for (const int fd : idle) close_conn(*conns_.at(fd));
}

// Room for one more connection. First one that never sent a byte (what a flood of idle
// connections is made of), idle the longest; else a lingering one; else the partial request
// begun the longest ago (a good client's takes milliseconds); else a keep-alive connection
// that was answered (a client known to be good), idle the longest; else the answer waiting the
// longest to be taken. Never one being answered.
bool HttpServer::evict_one() {
  for (int tries = 0; tries < 8; ++tries) {
    if (conns_.size() < limits_.max_connections) return true;  // a victim read below was closed
    Conn* victim = pick_victim();
    if (!victim) return false;
    int pending = 0;
    if (victim->state == State::kReading && !victim->started && !victim->linger &&
        ioctl(victim->fd, FIONREAD, &pending) == 0 && pending > 0) {
      read_some(*victim);  // its request has arrived, unread yet: not silent; read it and look again
      continue;
    }
    close_conn(*victim);
    return true;
  }
  return false;
}

HttpServer::Conn* HttpServer::pick_victim() {
  Conn* best = nullptr;
  int best_rank = 5;
  for (const auto& [fd, p] : conns_) {
    Conn& c = *p;
    int rank;
    if (c.state == State::kWorking) continue;
    if (c.state == State::kWriting) rank = 4;
    else if (c.linger) rank = 1;
    else if (c.started) rank = 2;
    else if (c.requests == 0) rank = 0;
    else rank = 3;
    if (rank < best_rank || (rank == best_rank && c.since < best->since)) {
      best = &c;
      best_rank = rank;
    }
  }
  return best;
}

}  // namespace phone_theft
