#pragma once
// The key-value state machine each shard holds: byte keys to byte values, with put, get, delete
// and compare-and-set. Commands travel through the Raft log encoded by encode_command(); apply is
// deterministic, so every replica that applies the same log holds the same map.
//
// Encoding (little-endian): u8 op | u8 flags (bit 0: expected present) | u32 key length | key |
// u32 value length | value | [u32 expected length | expected]. Values stay opaque.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/base/bytes.h"
#include "core/base/expected.h"

namespace grape::kv {

enum class Op : uint8_t { kPut = 1, kGet = 2, kDelete = 3, kCas = 4 };

struct Command {
  Op op = Op::kGet;
  std::string key;
  std::string value;                    // put, cas: what to write
  std::optional<std::string> expected;  // cas: the value required now (nullopt: key absent)

  bool operator==(const Command&) const = default;
};

struct Result {
  bool ok = true;                    // false only for a cas whose expectation did not hold
  std::optional<std::string> value;  // get: the value read (nullopt: absent); cas: the value found

  bool operator==(const Result&) const = default;
};

struct DecodeError {
  std::string detail;
};

Bytes encode_command(const Command& command);
Expected<Command, DecodeError> decode_command(const Bytes& bytes);

class KvStore {
 public:
  Result apply(const Command& command);
  std::optional<std::string> get(const std::string& key) const;
  size_t size() const { return data_.size(); }
  // Bytes of keys and values held (a shard's size, for placement and health).
  uint64_t bytes() const { return bytes_; }
  const std::map<std::string, std::string>& data() const { return data_; }

  // Snapshots: the whole map (u32 count, then each key and value as in commands), and back.
  Bytes encode_snapshot() const;
  [[nodiscard]] Status<DecodeError> restore(const Bytes& snapshot);

 private:
  void put(const std::string& key, const std::string& value);
  void erase(const std::string& key);

  std::map<std::string, std::string> data_;
  uint64_t bytes_ = 0;
};

}  // namespace grape::kv
