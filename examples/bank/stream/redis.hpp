// redis.hpp — a small RAII face of hiredis (Debian's libhiredis-dev): one connection, commands
// as argument vectors (no formatting, so any byte goes), replies owned and freed.
#pragma once

#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;
struct redisReply;

namespace bank {

// A connection or protocol failure, or an error reply; what() says which command.
struct RedisError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reply {
 public:
  explicit Reply(redisReply* reply);
  bool is_nil() const;
  bool is_error() const;
  bool is_array() const;
  std::string text() const;  // string, status or error
  long long integer() const;  // an integer reply's value (0 for any other)
  std::size_t size() const;  // array elements
  const redisReply* element(std::size_t i) const;

 private:
  std::shared_ptr<redisReply> reply_;
};

std::string text_of(const redisReply* reply);  // a string element's bytes ("" for nil)
// A string element left out of a capped reply (Redis::append) for its size: that size, else 0.
std::size_t oversized(const redisReply* reply);

class Redis {
 public:
  Redis(const std::string& host, int port, int timeout_ms);
  ~Redis();
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  // Sends one command and waits for its reply; an error reply throws unless allow_error.
  Reply command(const std::vector<std::string>& argv, bool allow_error = false, bool capped = false);
  // Pipelining, for a caller that works while Redis does: append() formats a command into the
  // output buffer at once (the views need not outlive the call), flush() sends what is
  // buffered without waiting, read() returns the oldest unread reply (sending first).
  // `capped`: in this command's reply, a string longer than string_cap() bytes is not copied
  // out of hiredis's read buffer; it comes as a string element with no bytes whose original
  // size oversized() gives. For stream entries (a 100 MB `json` field): otherwise the reply
  // would hold a second copy of it, next to the read buffer's.
  void append(const std::vector<std::string_view>& argv, bool capped = false);
  void flush();
  Reply read();
  void set_string_cap(std::size_t bytes) { string_cap_ = bytes; }
  std::size_t string_cap() const { return string_cap_; }

 private:
  struct Unread {
    std::string name;
    bool capped;
  };
  redisContext* context_ = nullptr;
  std::string where_;
  std::size_t string_cap_ = 0;  // 0: none
  std::size_t reading_cap_ = 0;  // the cap of the reply being read (the reader's privdata points here)
  std::deque<Unread> unread_;  // the commands whose replies are not read yet
  std::vector<const char*> args_;
  std::vector<std::size_t> lengths_;
};

}  // namespace bank
