// Format detection and the public load() entry points.
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "floresta/error.hpp"
#include "floresta/model.hpp"
#include "loaders.hpp"

namespace floresta {

Model load_from_memory(std::string_view bytes, const std::string& name, const LoadOptions& options) {
  std::size_t first = 0;
  while (first < bytes.size() && (bytes[first] == ' ' || bytes[first] == '\n' || bytes[first] == '\r' || bytes[first] == '\t'))
    ++first;
  if (first == bytes.size()) detail::fail(name, ": empty model file");
  const std::string_view rest = bytes.substr(first);
  if (rest.rfind("tree\n", 0) == 0 || rest.rfind("tree\r\n", 0) == 0)
    return compile(detail::load_lightgbm_text(bytes, name), options);
  if (bytes[first] != '{')
    detail::fail(name, ": unrecognised model format (expected XGBoost JSON/UBJSON, LightGBM text or JSON)");

  const detail::JsonEncoding encoding =
      first > 0 ? detail::JsonEncoding::kText : detail::sniff_json_encoding(bytes);
  const detail::Json document = detail::parse_json_document(bytes, encoding, name);
  if (document.is_object() && document.contains("learner")) {
    const std::string format = encoding == detail::JsonEncoding::kText ? "xgboost-json" : "xgboost-ubjson";
    return compile(detail::load_xgboost(document, name, format), options);
  }
  if (document.is_object() && document.contains("floresta_format"))
    return compile(detail::load_floresta_json(document, name), options);
  if (document.is_object() && document.contains("tree_info") && document.contains("num_tree_per_iteration"))
    return compile(detail::load_lightgbm_json(document, name), options);
  detail::fail(name, ": unrecognised model document (neither XGBoost's 'learner', LightGBM's 'tree_info' nor 'floresta_format')");
}

Model load(const std::string& path, const LoadOptions& options) {
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
