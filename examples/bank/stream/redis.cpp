#include "redis.hpp"

#include <sys/time.h>

#include <cstdlib>

#include <hiredis/hiredis.h>

namespace bank {
namespace {

// hiredis's own way of making a string reply (0.14's createStringObject, static in hiredis.c),
// taken from the first context's reader.
void* (*g_create_string)(const redisReadTask*, char*, size_t) = nullptr;

// createString for our readers: a string over the cap of the reply being read (the reader's
// privdata points at it; 0: none) becomes a string reply with no bytes (str null, which
// hiredis never makes) and its size in `integer`, made as hiredis makes its replies (calloc,
// freed by freeReplyObject with free) and hung in its parent array as hiredis does.
void* create_string(const redisReadTask* task, char* str, size_t len) {
  const std::size_t cap = task->privdata ? *static_cast<const std::size_t*>(task->privdata) : 0;
  if (cap == 0 || len <= cap || task->type != REDIS_REPLY_STRING) return g_create_string(task, str, len);
  auto* r = static_cast<redisReply*>(std::calloc(1, sizeof(redisReply)));
  if (r == nullptr) return nullptr;  // hiredis reports out of memory
  r->type = REDIS_REPLY_STRING;
  r->integer = static_cast<long long>(len);
  if (task->parent) static_cast<redisReply*>(task->parent->obj)->element[task->idx] = r;
  return r;
}

}  // namespace

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

std::size_t oversized(const redisReply* reply) {
  return reply && reply->type == REDIS_REPLY_STRING && reply->str == nullptr ? static_cast<std::size_t>(reply->integer) : 0;
}

Redis::Redis(const std::string& host, int port, int timeout_ms) : where_(host + ":" + std::to_string(port)) {
  timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  context_ = redisConnectWithTimeout(host.c_str(), port, timeout);
  if (context_ == nullptr || context_->err) {
    const std::string reason = context_ ? context_->errstr : "out of memory";
    if (context_) redisFree(context_);
    throw RedisError("redis " + where_ + ": cannot connect: " + reason);
  }
  // Our createString in a copy of the reader's functions (the others are hiredis's own).
  static redisReplyObjectFunctions functions = [this] {
    redisReplyObjectFunctions f = *context_->reader->fn;
    g_create_string = f.createString;
    f.createString = create_string;
    return f;
  }();
  context_->reader->fn = &functions;
  context_->reader->privdata = &reading_cap_;
}

Redis::~Redis() {
  if (context_) redisFree(context_);
}

Reply Redis::command(const std::vector<std::string>& argv, bool allow_error, bool capped) {
  append(std::vector<std::string_view>(argv.begin(), argv.end()), capped);
  Reply r = read();
  if (r.is_error() && !allow_error) throw RedisError("redis " + where_ + ": " + argv.at(0) + ": " + r.text());
  return r;
}

void Redis::append(const std::vector<std::string_view>& argv, bool capped) {
  args_.clear();
  lengths_.clear();
  for (const std::string_view a : argv) {
    args_.push_back(a.data());
    lengths_.push_back(a.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(args_.size()), args_.data(), lengths_.data()) != REDIS_OK)
    throw RedisError("redis " + where_ + ": " + std::string(argv.at(0)) + ": " + context_->errstr);
  unread_.push_back({std::string(argv.at(0)), capped});
}

void Redis::flush() {
  for (int done = 0; !done;)
    if (redisBufferWrite(context_, &done) != REDIS_OK) throw RedisError("redis " + where_ + ": " + context_->errstr);
}

Reply Redis::read() {
  if (unread_.empty()) throw std::logic_error("Redis::read without a command appended");
  const Unread next = std::move(unread_.front());
  unread_.pop_front();
  // hiredis parses one reply a call, the oldest: the cap set here is the one its strings meet
  reading_cap_ = next.capped ? string_cap_ : 0;
  void* reply = nullptr;
  const int status = redisGetReply(context_, &reply);
  reading_cap_ = 0;
  if (status != REDIS_OK || reply == nullptr)
    throw RedisError("redis " + where_ + ": " + next.name + ": " + context_->errstr);
  return Reply(static_cast<redisReply*>(reply));
}

}  // namespace bank
