// Format detection and the public load() entry points.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fail.hpp"
#include "floresta/error.hpp"
#include "floresta/model.hpp"
#include "loaders.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define FLORESTA_MMAP 1
#endif

namespace floresta {
namespace {

#ifdef FLORESTA_MMAP
// A regular file mapped read-only for the length of one load (the model keeps no reference
// to it): faster than reading it into fresh memory, whose page faults cost more than the
// copy (docs/benchmarks.md, load/104MB). Returns false (nothing loaded) for what is not a regular file, an empty file, or a
// failed map: load() then reads as a stream.
template <class Load>
bool load_mapped(const std::string& path, Load&& load) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return false;
  const auto size = static_cast<std::size_t>(st.st_size);
  int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
  flags |= MAP_POPULATE;  // fault the pages in one go
#endif
  void* data = ::mmap(nullptr, size, PROT_READ, flags, fd, 0);
  if (data == MAP_FAILED) return false;
  struct Unmapper {
    void* data;
    std::size_t size;
    ~Unmapper() { ::munmap(data, size); }
  } unmapper{data, size};
  load(std::string_view(static_cast<const char*>(data), size));
  return true;
}
#endif

}  // namespace

Model load_from_memory(std::string_view bytes, const std::string& name, const LoadOptions& options) {
  std::size_t first = 0;
  while (first < bytes.size() && (bytes[first] == ' ' || bytes[first] == '\n' || bytes[first] == '\r' || bytes[first] == '\t'))
    ++first;
  if (first == bytes.size()) detail::fail(name, ": empty model file");
  detail::LoaderInput input;
  input.bytes = bytes;
  input.source = name;
  input.file_bytes = bytes.size();
  input.threads = options.n_threads;
  const std::string_view rest = bytes.substr(first);
  if (rest.rfind("tree\n", 0) == 0 || rest.rfind("tree\r\n", 0) == 0) return compile(detail::load_lightgbm_text(input), options);
  if (bytes[first] != '{')
    detail::fail(name, ": unrecognised model format (expected XGBoost JSON/UBJSON, LightGBM text or JSON)");

  input.encoding = first > 0 ? detail::JsonEncoding::kText : detail::sniff_json_encoding(bytes);
  detail::Json document;
  try {
    document = detail::parse_json_document(bytes, input.encoding, name);
  } catch (const Error&) {
    // Only the XGBoost loader reads what the strict parser refuses (older files' NaN tokens).
    std::optional<detail::Json> xgboost = detail::parse_xgboost_nan_tokens(bytes, input.encoding, name);
    if (!xgboost) throw;
    document = std::move(*xgboost);
  }
  input.document = &document;
  if (document.is_object() && document.contains("learner")) return compile(detail::load_xgboost(input), options);
  if (document.is_object() && document.contains("floresta_format")) return compile(detail::load_floresta_json(input), options);
  if (document.is_object() && document.contains("tree_info") && document.contains("num_tree_per_iteration"))
    return compile(detail::load_lightgbm_json(input), options);
  detail::fail(name, ": unrecognised model document (neither XGBoost's 'learner', LightGBM's 'tree_info' nor 'floresta_format')");
}

Model load(const std::string& path, const LoadOptions& options) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))  // (an ifstream opens one, then reports a huge size)
    detail::fail(path, ": cannot open model file (a directory)");
#ifdef FLORESTA_MMAP
  std::optional<Model> mapped;
  if (load_mapped(path, [&](std::string_view bytes) { mapped.emplace(load_from_memory(bytes, path, options)); }))
    return std::move(*mapped);
#endif
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) detail::fail(path, ": cannot open model file");
  const std::streamoff size = in.tellg();
  if (size >= 0 && in.seekg(0)) {  // a regular file: one read into a buffer nobody zeroes
    const auto n = static_cast<std::size_t>(size);
    const std::unique_ptr<char[]> buffer(new char[n]);
    in.read(buffer.get(), static_cast<std::streamsize>(n));
    if (in.gcount() != static_cast<std::streamsize>(n) || in.bad()) detail::fail(path, ": error while reading");
    return load_from_memory(std::string_view(buffer.get(), n), path, options);
  }
  in.clear();  // a pipe or another stream without a size
  const std::string bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>{});
  if (in.bad()) detail::fail(path, ": error while reading");
  return load_from_memory(bytes, path, options);
}

}  // namespace floresta
