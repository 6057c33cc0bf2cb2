#pragma once
// Virtual time: nanoseconds since the start of a simulated run. Nothing in sim/ reads a clock.

#include <compare>
#include <cstdint>
#include <ostream>

namespace grape::sim {

struct Duration {
  int64_t ns = 0;
  constexpr auto operator<=>(const Duration&) const = default;
  constexpr Duration operator+(Duration other) const { return {ns + other.ns}; }
  constexpr Duration operator-(Duration other) const { return {ns - other.ns}; }
  constexpr Duration operator*(int64_t k) const { return {ns * k}; }
  constexpr int64_t operator/(Duration other) const { return ns / other.ns; }
  constexpr int64_t ms() const { return ns / 1'000'000; }
};

struct VirtualTime {
  int64_t ns = 0;
  constexpr auto operator<=>(const VirtualTime&) const = default;
  constexpr VirtualTime operator+(Duration d) const { return {ns + d.ns}; }
  constexpr Duration operator-(VirtualTime other) const { return {ns - other.ns}; }
  constexpr int64_t ms() const { return ns / 1'000'000; }
};

constexpr Duration nanoseconds(int64_t n) { return {n}; }
constexpr Duration microseconds(int64_t n) { return {n * 1'000}; }
constexpr Duration milliseconds(int64_t n) { return {n * 1'000'000}; }
constexpr Duration seconds(int64_t n) { return {n * 1'000'000'000}; }

inline std::ostream& operator<<(std::ostream& out, VirtualTime t) {
  return out << t.ns / 1'000'000 << "." << (t.ns / 1'000) % 1'000 / 100 << "ms";
}

}  // namespace grape::sim
