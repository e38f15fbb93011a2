#include "redis.hpp"

#include <sys/time.h>

#include <hiredis/hiredis.h>

namespace bank {

Reply::Reply(redisReply* reply) : reply_(reply, [](redisReply* r) { freeReplyObject(r); }) {}
bool Reply::is_nil() const { return reply_->type == REDIS_REPLY_NIL; }
bool Reply::is_error() const { return reply_->type == REDIS_REPLY_ERROR; }
bool Reply::is_array() const { return reply_->type == REDIS_REPLY_ARRAY; }
std::string Reply::text() const { return text_of(reply_.get()); }
long long Reply::integer() const { return reply_->type == REDIS_REPLY_INTEGER ? reply_->integer : 0; }
std::size_t Reply::size() const { return is_array() ? reply_->elements : 0; }
const redisReply* Reply::element(std::size_t i) const { return reply_->element[i]; }

std::string text_of(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) return "";
  return std::string(reply->str, reply->len);
}

Redis::Redis(const std::string& host, int port, int timeout_ms) : where_(host + ":" + std::to_string(port)) {
  timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  context_ = redisConnectWithTimeout(host.c_str(), port, timeout);
  if (context_ == nullptr || context_->err) {
    const std::string reason = context_ ? context_->errstr : "out of memory";
    if (context_) redisFree(context_);
    throw RedisError("redis " + where_ + ": cannot connect: " + reason);
  }
}

Redis::~Redis() {
  if (context_) redisFree(context_);
}

Reply Redis::command(const std::vector<std::string>& argv, bool allow_error) {
  append(std::vector<std::string_view>(argv.begin(), argv.end()));
  Reply r = read();
  if (r.is_error() && !allow_error) throw RedisError("redis " + where_ + ": " + argv.at(0) + ": " + r.text());
  return r;
}

void Redis::append(const std::vector<std::string_view>& argv) {
  args_.clear();
  lengths_.clear();
  for (const std::string_view a : argv) {
    args_.push_back(a.data());
    lengths_.push_back(a.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(args_.size()), args_.data(), lengths_.data()) != REDIS_OK)
    throw RedisError("redis " + where_ + ": " + std::string(argv.at(0)) + ": " + context_->errstr);
  unread_.emplace_back(argv.at(0));
}

void Redis::flush() {
  for (int done = 0; !done;)
    if (redisBufferWrite(context_, &done) != REDIS_OK) throw RedisError("redis " + where_ + ": " + context_->errstr);
}

Reply Redis::read() {
  if (unread_.empty()) throw std::logic_error("Redis::read without a command appended");
  const std::string name = std::move(unread_.front());
  unread_.pop_front();
  void* reply = nullptr;
  if (redisGetReply(context_, &reply) != REDIS_OK || reply == nullptr)
    throw RedisError("redis " + where_ + ": " + name + ": " + context_->errstr);
  return Reply(static_cast<redisReply*>(reply));
}

}  // namespace bank
