#include "transaction.hpp"

#include <simdjson.h>

#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

namespace bank {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// The fields read, in the order they are checked (so a record with several faults is named by
// the first, as before).
enum Field : std::size_t {
  kId, kCustomer, kTimestamp, kTransacao, kCategoria, kMetodo, kStatus, kValor, kSaldo, kLatitude, kLongitude,
  kDevice, kBeneficiary, kFields
};
constexpr std::array<std::string_view, kFields> kNames = {
    "id_transacao", "id_cliente", "timestamp", "transacao", "categoria_transacao", "metodo_pagamento",
    "status_transacao", "valor_transacao", "saldo", "latitude", "longitude", "id_dispositivo", "id_beneficiario"};

using Slots = std::array<std::optional<element>, kFields>;

std::string name_of(Field f) { return std::string(kNames[f]); }

const element& present(const Slots& slots, Field f) {
  if (!slots[f] || slots[f]->is_null()) throw BadRecord(name_of(f) + ": missing");
  return *slots[f];
}

std::string text(const Slots& slots, Field f) {
  std::string_view s;
  if (present(slots, f).get_string().get(s)) throw BadRecord(name_of(f) + ": not a string");
  return std::string(s);
}

// Ids: strings, or integers written as numbers (7 and "7" are the same id); null, "" or absent
// is missing.
std::optional<std::string> id(const Slots& slots, Field f, bool required) {
  const std::optional<element>& v = slots[f];
  std::string_view s;
  if (!v || v->is_null() || (v->is_string() && v->get_string().value_unsafe().empty())) {
    if (required) throw BadRecord(name_of(f) + ": missing");
    return std::nullopt;
  }
  if (!v->get_string().get(s)) return std::string(s);
  if (v->type() == element_type::INT64) return std::to_string(v->get_int64().value_unsafe());
  if (v->type() == element_type::UINT64) return std::to_string(v->get_uint64().value_unsafe());
  throw BadRecord(name_of(f) + ": not a string or an integer");
}

double number(const Slots& slots, Field f, double lowest, double highest) {
  double x = 0;
  if (!present(slots, f).is_number() || slots[f]->get_double().get(x)) throw BadRecord(name_of(f) + ": not a number");
  if (!std::isfinite(x) || x < lowest || x > highest)
    throw BadRecord(name_of(f) + ": " + nlohmann::json(x).dump() + " out of range");
  return x;
}

// Whole seconds from 1970 to the end of 9999. The bound is not cosmetic: a customer's state
// keeps the last timestamp and later ones must exceed it, so one record dated 2^63 - 1 would
// get every later transaction of its customer rejected (and overflow the features' arithmetic).
int64_t seconds(const Slots& slots, Field f) {
  const element& v = present(slots, f);
  int64_t t = 0;
  if (v.type() == element_type::INT64) {
    t = v.get_int64().value_unsafe();
  } else if (v.type() == element_type::DOUBLE) {
    const double x = v.get_double().value_unsafe();
    if (!(std::isfinite(x) && std::floor(x) == x && std::fabs(x) < 9e15))
      throw BadRecord(name_of(f) + ": not a whole number of seconds");
    t = static_cast<int64_t>(x);
  } else if (v.type() == element_type::UINT64) {
    t = -1;  // over 2^63 - 1: out of range below
  } else {
    throw BadRecord(name_of(f) + ": not a whole number of seconds");
  }
  if (t < 0 || t > kLatestTimestamp)
    throw BadRecord(name_of(f) + ": " + (t < 0 && v.type() == element_type::UINT64 ? std::to_string(v.get_uint64().value_unsafe())
                                                                                   : std::to_string(t)) +
                    " out of range (1970 to 9999)");
  return t;
}

}  // namespace

std::string record_too_large(std::size_t bytes, std::size_t most) {
  return "record too large: " + std::to_string(bytes) + " bytes, more than --max-record-bytes " + std::to_string(most);
}

struct TransactionReader::Parser {
  simdjson::dom::parser parser;
  std::vector<char> padded;  // the text, followed by the padding simdjson reads past the end
};

TransactionReader::TransactionReader() : parser_(std::make_unique<Parser>()) {}
TransactionReader::~TransactionReader() = default;

Transaction TransactionReader::read(std::string_view json_text) {
  last_id_.reset();
  std::vector<char>& buffer = parser_->padded;
  buffer.resize(json_text.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(buffer.data(), json_text.data(), json_text.size());
  element doc;
  if (const auto error = parser_->parser.parse(buffer.data(), json_text.size(), false).get(doc))
    throw BadRecord(std::string("cannot parse the record as JSON: ") + simdjson::error_message(error));
  simdjson::dom::object object;
  if (doc.get_object().get(object)) throw BadRecord("a transaction must be a JSON object");
  Slots slots;
  std::optional<Field> repeated;
  for (const simdjson::dom::key_value_pair field : object)
    for (std::size_t f = 0; f < kFields; ++f)
      if (field.key == kNames[f]) {
        if (slots[f] && !repeated) repeated = static_cast<Field>(f);
        slots[f] = field.value;
      }
  try {
    if (repeated != kId) last_id_ = id(slots, kId, false);
  } catch (const BadRecord&) {  // reported below, in its turn
  }
  // A key the scorer reads given twice is rejected, not resolved: JSON does not say which one
  // counts (parsers differ: first, last, error), so the record means different things to
  // different readers of the same stream.
  if (repeated) throw BadRecord(name_of(*repeated) + ": the key appears more than once");
  Transaction t;
  t.id = *id(slots, kId, true);
  t.customer = *id(slots, kCustomer, true);
  t.timestamp = seconds(slots, kTimestamp);
  t.transacao = text(slots, kTransacao);
  t.categoria = text(slots, kCategoria);
  t.metodo = text(slots, kMetodo);
  t.status = text(slots, kStatus);
  const double huge = 1e15;
  t.valor = number(slots, kValor, -huge, huge);
  t.saldo = number(slots, kSaldo, -huge, huge);
  t.latitude = number(slots, kLatitude, -90.0, 90.0);
  t.longitude = number(slots, kLongitude, -180.0, 180.0);
  t.device = id(slots, kDevice, false);
  t.beneficiary = id(slots, kBeneficiary, false);
  return t;
}

}  // namespace bank
