// libFuzzer harness: the bank stream scorer's input — customers' saved states and transaction
// records — from the fuzzer, through the application's own reader, features and scorer
// (examples/bank/stream: TransactionReader, FeatureState, FraudScorer with reason codes).
//
// Input layout: the bytes up to the first "\n--\n" are customers' states, then one
// transaction record (JSON) per line. A state section starting with '{' is JSON Lines as
// --save-state writes them (FeatureState::load); otherwise it is one customer's compact
// binary state (CustomerState::decode, what the Redis mode stores), given to the customer of
// every transaction read. bank::BadRecord and floresta::Error are passes (the scorer sends
// such a record to the error stream); a crash, leak, hang or anything else thrown is a failure.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "features.hpp"
#include "scorer.hpp"
#include "transaction.hpp"

#ifndef FLORESTA_FUZZ_MODEL
#error "FLORESTA_FUZZ_MODEL names the fraud model file (tests/fuzz/CMakeLists.txt)"
#endif

namespace {
bank::FraudScorer* scorer_ptr = nullptr;
bank::TransactionReader* reader_ptr = nullptr;
}  // namespace

// The model is loaded once, with its explanation tables, before fuzzing (see fuzz_record.cpp).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static bank::FraudScorer scorer(FLORESTA_FUZZ_MODEL);
  static bank::TransactionReader reader;
  scorer_ptr = &scorer;
  reader_ptr = &reader;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  bank::FraudScorer& scorer = *scorer_ptr;
  bank::TransactionReader& reader = *reader_ptr;
  scorer.state().clear();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = input.find("\n--\n");
  const std::string_view states = cut == std::string_view::npos ? std::string_view{} : input.substr(0, cut);
  std::string_view records = cut == std::string_view::npos ? input : input.substr(cut + 4);

  std::unique_ptr<bank::CustomerState> binary;
  try {
    if (!states.empty() && states.front() == '{') {
      std::istringstream in{std::string(states)};
      scorer.state().load(in, "fuzz");
    } else if (!states.empty()) {
      binary = std::make_unique<bank::CustomerState>(bank::CustomerState::decode(states));
      // A decoded state writes back to the same bytes (the Redis mode's round trip).
      if (bank::CustomerState::decode(binary->encode()).encode() != binary->encode()) __builtin_trap();
    }
  } catch (const bank::BadRecord&) {
  }

  std::size_t line = 0;
  while (!records.empty()) {
    const std::size_t end = records.find('\n');
    const std::string_view text = records.substr(0, end);
    records = end == std::string_view::npos ? std::string_view{} : records.substr(end + 1);
    try {
      bank::Transaction t = reader.read(text);
      if (binary && !scorer.state().find(t.customer)) scorer.state().set(t.customer, *binary);
      scorer.add("line " + std::to_string(++line), std::move(t));
    } catch (const bank::BadRecord&) {
    } catch (const floresta::Error&) {
    }
  }
  try {
    for (const bank::Scored& s : scorer.score()) bank::to_json(s, bank::FeatureDefinition::built_in(), true).dump();
  } catch (const floresta::Error&) {
  }
  return 0;
}
