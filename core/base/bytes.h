#pragma once
// Opaque byte strings: commands proposed to Raft, keys and values of the state machines.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace grape {

using Bytes = std::vector<std::byte>;

inline Bytes to_bytes(std::string_view text) {
  const auto* begin = reinterpret_cast<const std::byte*>(text.data());
  return Bytes(begin, begin + text.size());
}

inline std::string to_string(const Bytes& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace grape
