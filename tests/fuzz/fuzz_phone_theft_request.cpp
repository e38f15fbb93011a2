// libFuzzer harness: a POST /predict body from the fuzzer, read by the phone-theft service's own
// code (phone_theft::Scorer::answer_body: the JSON, one person or a batch, each field through
// the input rules the shipped model carries), answered and explained. Every body either gets
// an answer that is valid JSON or a problem with a 4xx status and a reason; a crash, leak,
// hang, any exception, or an answer that does not parse is a failure.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "scorer.hpp"

#ifndef FLORESTA_FUZZ_MODEL
#error "FLORESTA_FUZZ_MODEL names the model file (tests/fuzz/CMakeLists.txt)"
#endif

namespace {
const phone_theft::Scorer* scorer_ptr = nullptr;
}  // namespace

// The model is loaded, and its explanation tables built, once before fuzzing (see fuzz_record.cpp).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static const phone_theft::Scorer scorer(floresta::load(FLORESTA_FUZZ_MODEL));
  std::string out;
  std::size_t people = 0;
  phone_theft::Problem problem;
  scorer.answer_body("{}", true, 8, out, people, problem);
  scorer_ptr = &scorer;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const bool explain : {false, true}) {
    std::string out;
    std::size_t people = 0;
    phone_theft::Problem problem;
    if (scorer_ptr->answer_body(body, explain, 64, out, people, problem)) {
      if (!nlohmann::json::accept(out)) __builtin_trap();  // an answer is JSON
    } else {
      if (problem.status < 400 || problem.status > 499 || problem.message.empty()) __builtin_trap();
      // The reply the service sends: its JSON text, invalid UTF-8 in quoted input replaced.
      problem.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  return 0;
}
