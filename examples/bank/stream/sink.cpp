// bank_stream_sink — drains the scored stream into rotating JSON Lines files (the S3 stand-in):
// one file per --records N records or --seconds T, written under a temporary name, fsynced,
// renamed into place (and the directory fsynced), and only then acknowledged. After any crash
// the files hold every scored record exactly once.
//
//   bank_stream_sink --redis-port 6379 --dir /data/scored [--records 10000] [--seconds 60]
//
// Why exactly once: a file is named after the first entry it holds (part-<id>.jsonl) and holds
// consecutive entries of this consumer's pending list. If the sink dies after the rename but
// before the acknowledgement, the same entries come back first on restart; a file of that name
// exists, so they are acknowledged, not written again. A temporary file left by a crash is
// deleted on start.
#include <dirent.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flags.hpp"
#include "redis.hpp"

namespace {

const char* const kUsage =
    "usage: bank_stream_sink --dir DIR [--redis-host HOST] [--redis-port PORT] [--stream scored]\n"
    "                        [--group sink] [--consumer NAME] [--records N] [--seconds T] [--idle-exit-ms N]\n"
    "\n"
    "Writes the scored stream's records into DIR as JSON Lines files part-<first entry id>.jsonl,\n"
    "each record with its stream entry id (\"scored_entry\"), a file per N records (default 10000)\n"
    "or T seconds (default 60); acknowledges only what a renamed, fsynced file holds.\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "bank_stream_sink: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

struct Options {
  std::string host = "127.0.0.1", stream = "scored", group = "sink", consumer = "sink-1", dir;
  int port = 6379;
  std::size_t records = 10000;
  long long seconds = 60, idle_exit_ms = 0;
};

struct Record {
  std::string id;
  nlohmann::json fields;
};

std::string file_name(const std::string& first_id) { return "part-" + first_id + ".jsonl"; }

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

void fsync_path(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags);
  if (fd < 0 || fsync(fd) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error(path + ": fsync failed");
  }
  close(fd);
}

// Writes the records to DIR/part-<first>.jsonl through a temporary file: write, fsync, rename,
// fsync the directory.
void write_file(const Options& o, const std::vector<Record>& records) {
  const std::string final_path = o.dir + "/" + file_name(records.front().id);
  const std::string temporary = final_path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    if (!out) throw std::runtime_error(temporary + ": cannot write");
    for (const Record& r : records) {
      nlohmann::json line = r.fields;
      line["scored_entry"] = r.id;
      out << line.dump() << '\n';
    }
    out.flush();
    if (!out) throw std::runtime_error(temporary + ": write failed");
  }
  fsync_path(temporary, O_RDONLY);
  if (std::rename(temporary.c_str(), final_path.c_str()) != 0) throw std::runtime_error(final_path + ": rename failed");
  fsync_path(o.dir, O_RDONLY | O_DIRECTORY);
}

// The entry ids a file already holds (a file renamed before a crash).
std::vector<std::string> ids_in(const std::string& path) {
  std::vector<std::string> ids;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) ids.push_back(nlohmann::json::parse(line).at("scored_entry").get<std::string>());
  return ids;
}

void remove_temporaries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) throw std::runtime_error(dir + ": cannot open the directory");
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) stale.push_back(dir + "/" + name);
  }
  closedir(d);
  for (const std::string& path : stale) std::remove(path.c_str());
}

std::vector<Record> read(bank::Redis& redis, const Options& o, const std::string& start, int block_ms, std::size_t count) {
  std::vector<std::string> argv = {"XREADGROUP", "GROUP", o.group, o.consumer, "COUNT", std::to_string(count)};
  if (block_ms > 0) argv.insert(argv.end(), {"BLOCK", std::to_string(block_ms)});
  argv.insert(argv.end(), {"STREAMS", o.stream, start});
  const bank::Reply reply = redis.command(argv);
  std::vector<Record> out;
  if (reply.is_nil() || reply.size() == 0) return out;
  const redisReply* entries = reply.element(0)->element[1];
  for (std::size_t i = 0; i < entries->elements; ++i) {
    const redisReply* item = entries->element[i];
    Record r{bank::text_of(item->element[0]), nlohmann::json::object()};
    if (item->elements > 1 && item->element[1]->type == REDIS_REPLY_ARRAY)
      for (std::size_t f = 0; f + 1 < item->element[1]->elements; f += 2)
        r.fields[bank::text_of(item->element[1]->element[f])] = bank::text_of(item->element[1]->element[f + 1]);
    out.push_back(std::move(r));
  }
  return out;
}

void ack(bank::Redis& redis, const Options& o, const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  std::vector<std::string> argv = {"XACK", o.stream, o.group};
  argv.insert(argv.end(), ids.begin(), ids.end());
  redis.command(argv);
}

// After a restart: the pending entries first. Where a file already holds them, acknowledge;
// otherwise they are written like new ones.
std::vector<Record> settle_pending(bank::Redis& redis, const Options& o, std::size_t& files_found) {
  std::vector<Record> carry;
  for (;;) {
    std::vector<Record> pending = read(redis, o, "0", 0, o.records);
    if (pending.empty()) return carry;
    const std::string path = o.dir + "/" + file_name(pending.front().id);
    if (!exists(path)) return pending;  // written again below, under the same name
    ack(redis, o, ids_in(path));
    ++files_found;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) usage_error(flag + " needs a value or is unknown");
    const std::string value = argv[++i];
    auto count = [&](long long lo, long long hi) {
      const auto n = bank::whole_number(value, lo, hi);
      if (!n) usage_error(flag + " takes a whole number, not '" + value + "'");
      return *n;
    };
    if (flag == "--dir") o.dir = value;
    else if (flag == "--redis-host") o.host = value;
    else if (flag == "--redis-port") o.port = static_cast<int>(count(1, 65535));
    else if (flag == "--stream") o.stream = value;
    else if (flag == "--group") o.group = value;
    else if (flag == "--consumer") o.consumer = value;
    else if (flag == "--records") o.records = static_cast<std::size_t>(count(1, 10'000'000));
    else if (flag == "--seconds") o.seconds = count(1, 86'400);
    else if (flag == "--idle-exit-ms") o.idle_exit_ms = count(1, 86'400'000);
    else usage_error("unknown flag " + flag);
  }
  if (o.dir.empty()) usage_error("--dir is required");
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  try {
    remove_temporaries(o.dir);
    bank::Redis redis(o.host, o.port, 5000);
    redis.command({"XGROUP", "CREATE", o.stream, o.group, "0", "MKSTREAM"}, /*allow_error=*/true);
    std::size_t files = 0, written = 0, files_found = 0;
    std::vector<Record> buffer = settle_pending(redis, o, files_found);
    using Clock = std::chrono::steady_clock;
    auto opened = Clock::now(), last_work = Clock::now();
    auto flush = [&] {
      if (buffer.empty()) return;
      write_file(o, buffer);
      std::vector<std::string> ids;
      for (const Record& r : buffer) ids.push_back(r.id);
      ack(redis, o, ids);
      ++files;
      written += buffer.size();
      buffer.clear();
    };
    while (!g_stop.load()) {
      if (buffer.size() < o.records) {
        std::vector<Record> fresh = read(redis, o, ">", 200, o.records - buffer.size());
        if (!fresh.empty()) last_work = Clock::now();
        if (buffer.empty() && !fresh.empty()) opened = Clock::now();
        for (Record& r : fresh) buffer.push_back(std::move(r));
      }
      const auto now = Clock::now();
      if (buffer.size() >= o.records || (!buffer.empty() && now - opened >= std::chrono::seconds(o.seconds))) flush();
      if (o.idle_exit_ms > 0 && std::chrono::duration_cast<std::chrono::milliseconds>(now - last_work).count() >= o.idle_exit_ms)
        break;
    }
    flush();
    std::fprintf(stderr, "bank_stream_sink: %zu records in %zu files written; %zu files found already written\n", written,
                 files, files_found);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bank_stream_sink: %s\n", error.what());
    return 1;
  }
  return 0;
}
