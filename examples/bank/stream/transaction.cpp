#include "transaction.hpp"

#include <cmath>

namespace bank {
namespace {

const nlohmann::json& field(const nlohmann::json& record, const char* name) {
  const auto it = record.find(name);
  if (it == record.end() || it->is_null()) throw BadRecord(std::string(name) + ": missing");
  return *it;
}

std::string text(const nlohmann::json& record, const char* name) {
  const nlohmann::json& value = field(record, name);
  if (!value.is_string()) throw BadRecord(std::string(name) + ": not a string");
  return value.get<std::string>();
}

// Ids: strings, or integers written as numbers (7 and "7" are the same id).
std::optional<std::string> id(const nlohmann::json& record, const char* name, bool required) {
  const auto it = record.find(name);
  if (it == record.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty())) {
    if (required) throw BadRecord(std::string(name) + ": missing");
    return std::nullopt;
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return it->dump();
  throw BadRecord(std::string(name) + ": not a string or an integer");
}

double number(const nlohmann::json& record, const char* name, double lowest, double highest) {
  const nlohmann::json& value = field(record, name);
  if (!value.is_number()) throw BadRecord(std::string(name) + ": not a number");
  const double x = value.get<double>();
  if (!std::isfinite(x) || x < lowest || x > highest)
    throw BadRecord(std::string(name) + ": " + value.dump() + " out of range");
  return x;
}

}  // namespace

Transaction parse_transaction(const nlohmann::json& record) {
  if (!record.is_object()) throw BadRecord("a transaction must be a JSON object");
  Transaction t;
  t.id = *id(record, "id_transacao", true);
  t.customer = *id(record, "id_cliente", true);
  const nlohmann::json& ts = field(record, "timestamp");
  if (ts.is_number_integer()) t.timestamp = ts.get<int64_t>();
  else if (ts.is_number_float() && std::isfinite(ts.get<double>()) && std::floor(ts.get<double>()) == ts.get<double>() &&
           std::fabs(ts.get<double>()) < 9e15)
    t.timestamp = static_cast<int64_t>(ts.get<double>());
  else throw BadRecord("timestamp: not a whole number of seconds");
  t.transacao = text(record, "transacao");
  t.categoria = text(record, "categoria_transacao");
  t.metodo = text(record, "metodo_pagamento");
  t.status = text(record, "status_transacao");
  const double huge = 1e15;
  t.valor = number(record, "valor_transacao", -huge, huge);
  t.saldo = number(record, "saldo", -huge, huge);
  t.latitude = number(record, "latitude", -90.0, 90.0);
  t.longitude = number(record, "longitude", -180.0, 180.0);
  t.device = id(record, "id_dispositivo", false);
  t.beneficiary = id(record, "id_beneficiario", false);
  return t;
}

}  // namespace bank
