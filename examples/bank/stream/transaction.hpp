// transaction.hpp — one bank transaction as the generator writes it (a JSON Lines record),
// checked field by field: what the features (features.hpp) read, and nothing else.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bank {

// A record that cannot be used; what() names the field and the reason.
struct BadRecord : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The latest timestamp a record or a stored state may hold: 9999-12-31 23:59:59 UTC (Unix
// seconds; the earliest is 0). Later ones would overflow the features' arithmetic.
constexpr int64_t kLatestTimestamp = 253402300799;

// The reason a record over --max-record-bytes is rejected with, unread.
std::string record_too_large(std::size_t bytes, std::size_t most);

struct Transaction {
  std::string id;        // id_transacao
  std::string customer;  // id_cliente
  int64_t timestamp = 0;  // Unix seconds
  std::string transacao, categoria, metodo, status;
  double valor = 0, saldo = 0, latitude = 0, longitude = 0;
  std::optional<std::string> device, beneficiary;  // missing: absent, null or ""
};

// Reads records from their JSON text (a JSON Lines line, a stream entry's `json` field) with
// simdjson (Debian's libsimdjson-dev): the records are most of what the scorer parses, and a
// DOM of maps and strings per record cost more than the features and the model together.
// One reader per thread; it keeps its buffers between records.
class TransactionReader {
 public:
  TransactionReader();
  ~TransactionReader();
  TransactionReader(const TransactionReader&) = delete;
  TransactionReader& operator=(const TransactionReader&) = delete;

  // The transaction in `json_text`; BadRecord names what is wrong: text that is not JSON
  // ("cannot parse ..."), not an object, or a field. Ids are strings or integers (compared as
  // text, as features.json says: 7 and "7" are the same id); amounts, balances and coordinates
  // finite numbers in range; the timestamp a whole number of seconds from 1970 to 9999; a field
  // read given twice is an error (no parser's choice between the two is assumed).
  Transaction read(std::string_view json_text);
  // The id_transacao of the text last read, when it had one (as text), even if read() threw:
  // a rejected record is reported under its id.
  const std::optional<std::string>& last_id() const { return last_id_; }

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
  std::optional<std::string> last_id_;
};

}  // namespace bank
