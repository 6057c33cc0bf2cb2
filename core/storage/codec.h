#pragma once
// Little-endian fixed-width fields, written and read back with bounds checks: the encoding of the
// write-ahead log's records and of snapshot files (this project only builds on little-endian
// machines: wal.cc asserts it).

#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

#include "core/base/bytes.h"

namespace grape::storage {

template <class T>
void put(std::vector<std::byte>& out, T value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

// Reads fields in order from one buffer; every get says whether the field was there.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> data) : data_(data) {}
  template <class T>
  bool get(T& value) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(&value, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_bytes(size_t n, Bytes& out) {
    if (data_.size() - pos_ < n) return false;
    out.assign(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
               data_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

}  // namespace grape::storage
