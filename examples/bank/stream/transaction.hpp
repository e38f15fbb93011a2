// transaction.hpp — one bank transaction as the generator writes it (a JSON Lines record),
// checked field by field: what the features (features.hpp) read, and nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace bank {

// A record that cannot be used; what() names the field and the reason.
struct BadRecord : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Transaction {
  std::string id;        // id_transacao
  std::string customer;  // id_cliente
  int64_t timestamp = 0;  // Unix seconds
  std::string transacao, categoria, metodo, status;
  double valor = 0, saldo = 0, latitude = 0, longitude = 0;
  std::optional<std::string> device, beneficiary;  // missing: absent, null or ""
};

// Reads a record (a JSON object) into a Transaction; BadRecord names what is wrong. Ids are
// strings or integers (compared as text, as features.json says); amounts, balances and
// coordinates finite numbers; the timestamp an integral number of seconds.
Transaction parse_transaction(const nlohmann::json& record);

}  // namespace bank
