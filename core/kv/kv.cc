#include "core/kv/kv.h"

namespace grape::kv {

namespace {

constexpr uint8_t kHasExpected = 1;

void put_u32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}

void put_string(Bytes& out, const std::string& s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  out.insert(out.end(), p, p + s.size());
}

class Reader {
 public:
  explicit Reader(const Bytes& bytes) : bytes_(bytes) {}

  bool u8(uint8_t& v) {
    if (pos_ + 1 > bytes_.size()) return false;
    v = static_cast<uint8_t>(bytes_[pos_++]);
    return true;
  }
  bool string(std::string& s) {
    if (pos_ + 4 > bytes_.size()) return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(bytes_[pos_ + i]) << (8 * i);
    pos_ += 4;
    if (n > bytes_.size() - pos_) return false;
    s.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  const Bytes& bytes_;
  size_t pos_ = 0;
};

}  // namespace

Bytes encode_command(const Command& command) {
  Bytes out;
  out.reserve(10 + command.key.size() + command.value.size() +
              (command.expected ? 4 + command.expected->size() : 0));
  out.push_back(static_cast<std::byte>(command.op));
  out.push_back(static_cast<std::byte>(command.expected ? kHasExpected : 0));
  put_string(out, command.key);
  put_string(out, command.value);
  if (command.expected) put_string(out, *command.expected);
  return out;
}

Expected<Command, DecodeError> decode_command(const Bytes& bytes) {
  Reader in(bytes);
  uint8_t op = 0;
  uint8_t flags = 0;
  Command command;
  if (!in.u8(op) || !in.u8(flags) || !in.string(command.key) || !in.string(command.value)) {
    return Unexpected(DecodeError{"truncated command"});
  }
  if (op < static_cast<uint8_t>(Op::kPut) || op > static_cast<uint8_t>(Op::kCas)) {
    return Unexpected(DecodeError{"unknown op " + std::to_string(op)});
  }
  command.op = static_cast<Op>(op);
  if ((flags & kHasExpected) != 0) {
    std::string expected;
    if (!in.string(expected)) return Unexpected(DecodeError{"truncated cas expectation"});
    command.expected = std::move(expected);
  }
  if (!in.done()) return Unexpected(DecodeError{"trailing bytes after command"});
  return command;
}

Result KvStore::apply(const Command& command) {
  switch (command.op) {
    case Op::kPut:
      put(command.key, command.value);
      return Result{true, std::nullopt};
    case Op::kGet:
      return Result{true, get(command.key)};
    case Op::kDelete:
      erase(command.key);
      return Result{true, std::nullopt};
    case Op::kCas: {
      std::optional<std::string> current = get(command.key);
      if (current != command.expected) return Result{false, std::move(current)};
      put(command.key, command.value);
      return Result{true, std::move(current)};
    }
  }
  return Result{false, std::nullopt};
}

void KvStore::put(const std::string& key, const std::string& value) {
  auto [it, inserted] = data_.try_emplace(key);
  if (inserted) {
    bytes_ += key.size();
  } else {
    bytes_ -= it->second.size();
  }
  bytes_ += value.size();
  it->second = value;
}

void KvStore::erase(const std::string& key) {
  auto it = data_.find(key);
  if (it == data_.end()) return;
  bytes_ -= it->first.size() + it->second.size();
  data_.erase(it);
}

Bytes KvStore::encode_snapshot() const {
  Bytes out;
  put_u32(out, static_cast<uint32_t>(data_.size()));
  for (const auto& [key, value] : data_) {
    put_string(out, key);
    put_string(out, value);
  }
  return out;
}

Status<DecodeError> KvStore::restore(const Bytes& snapshot) {
  Reader in(snapshot);
  uint8_t b[4];
  for (uint8_t& x : b) {
    if (!in.u8(x)) return Unexpected(DecodeError{"snapshot too short"});
  }
  const uint32_t count = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  std::map<std::string, std::string> data;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < count; ++i) {
    std::string key, value;
    if (!in.string(key) || !in.string(value)) {
      return Unexpected(DecodeError{"snapshot entry " + std::to_string(i) + " is cut short"});
    }
    const uint64_t entry_bytes = key.size() + value.size();
    if (data.emplace(std::move(key), std::move(value)).second) bytes += entry_bytes;
  }
  data_ = std::move(data);
  bytes_ = bytes;
  return Status<DecodeError>::ok();
}

std::optional<std::string> KvStore::get(const std::string& key) const {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

}  // namespace grape::kv
