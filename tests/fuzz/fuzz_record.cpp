// libFuzzer harness: a record's JSON text from the fuzzer, read by floresta::Record::from_json
// and scored by the phone-theft model (its input rules: folding, aliases, ranges), then
// explained. floresta::Error (InputError among them) is a pass; anything else a failure.
#include <cstddef>
#include <cstdint>
#include <string>

#include "floresta/floresta.hpp"

#ifndef FLORESTA_FUZZ_MODEL
#error "FLORESTA_FUZZ_MODEL names the model file (tests/fuzz/CMakeLists.txt)"
#endif

namespace {
const floresta::Model* model_ptr = nullptr;
}  // namespace

// The model is loaded, and its explanation tables built, once before fuzzing: under the
// sanitizers that takes seconds, which libFuzzer's per-input timeout must not count.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static const floresta::Model model = floresta::load(FLORESTA_FUZZ_MODEL);
  try {
    model.explain_record(floresta::Record{}, 1);
  } catch (const floresta::Error&) {
  }
  model_ptr = &model;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const floresta::Model& model = *model_ptr;
  try {
    const floresta::Record record = floresta::Record::from_json(std::string(reinterpret_cast<const char*>(data), size));
    const auto proba = model.predict_proba(record);
    model.rank(proba.data(), 3);
    model.explain_record(record, 3);
    floresta::RecordOptions strict;
    strict.unknown_category = floresta::UnknownCategory::kError;
    strict.extra_fields = floresta::ExtraFields::kError;
    model.predict_raw(record, strict);
  } catch (const floresta::Error&) {
  }
  return 0;
}
