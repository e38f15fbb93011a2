#include "redis.hpp"

#include <sys/time.h>

#include <hiredis/hiredis.h>

namespace bank {

Reply::Reply(redisReply* reply) : reply_(reply, [](redisReply* r) { freeReplyObject(r); }) {}
bool Reply::is_nil() const { return reply_->type == REDIS_REPLY_NIL; }
bool Reply::is_error() const { return reply_->type == REDIS_REPLY_ERROR; }
bool Reply::is_array() const { return reply_->type == REDIS_REPLY_ARRAY; }
std::string Reply::text() const { return text_of(reply_.get()); }
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

namespace {

std::vector<const char*> pointers(const std::vector<std::string>& argv, std::vector<std::size_t>& lengths) {
  std::vector<const char*> out;
  lengths.clear();
  for (const std::string& a : argv) {
    out.push_back(a.data());
    lengths.push_back(a.size());
  }
  return out;
}

}  // namespace

Reply Redis::command(const std::vector<std::string>& argv, bool allow_error) {
  std::vector<std::size_t> lengths;
  std::vector<const char*> args = pointers(argv, lengths);
  auto* reply = static_cast<redisReply*>(redisCommandArgv(context_, static_cast<int>(args.size()), args.data(), lengths.data()));
  if (reply == nullptr) throw RedisError("redis " + where_ + ": " + argv.at(0) + ": " + context_->errstr);
  Reply r(reply);
  if (r.is_error() && !allow_error) throw RedisError("redis " + where_ + ": " + argv.at(0) + ": " + r.text());
  return r;
}

std::vector<Reply> Redis::pipeline(const std::vector<std::vector<std::string>>& commands) {
  std::vector<std::size_t> lengths;
  for (const auto& argv : commands) {
    std::vector<const char*> args = pointers(argv, lengths);
    if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), args.data(), lengths.data()) != REDIS_OK)
      throw RedisError("redis " + where_ + ": " + argv.at(0) + ": " + context_->errstr);
  }
  std::vector<Reply> replies;
  for (const auto& argv : commands) {
    void* reply = nullptr;
    if (redisGetReply(context_, &reply) != REDIS_OK || reply == nullptr)
      throw RedisError("redis " + where_ + ": " + argv.at(0) + ": " + context_->errstr);
    replies.emplace_back(static_cast<redisReply*>(reply));
  }
  return replies;
}

}  // namespace bank
