// redis.hpp — a small RAII face of hiredis (Debian's libhiredis-dev): one connection, commands
// as argument vectors (no formatting, so any byte goes), replies owned and freed.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
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
  std::size_t size() const;  // array elements
  const redisReply* element(std::size_t i) const;

 private:
  std::shared_ptr<redisReply> reply_;
};

std::string text_of(const redisReply* reply);  // a string element's bytes ("" for nil)

class Redis {
 public:
  Redis(const std::string& host, int port, int timeout_ms);
  ~Redis();
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  // Sends one command and waits for its reply; an error reply throws unless allow_error.
  Reply command(const std::vector<std::string>& argv, bool allow_error = false);
  // Queues commands and reads their replies in order (one round trip).
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);

 private:
  redisContext* context_ = nullptr;
  std::string where_;
};

}  // namespace bank
