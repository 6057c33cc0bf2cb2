#pragma once
// Expected<T, E>: a value or an error, shaped like C++23 std::expected (which g++ 12 lacks in
// C++20). Expected outcomes (not leader, bad input, disk full) travel as values; broken invariants
// are GRAPE_ASSERTs. Both types are [[nodiscard]]: an ignored error is a bug.

#include <utility>
#include <variant>

#include "core/base/assert.h"

namespace grape {

template <class E>
struct Unexpected {
  E error;
};
template <class E>
Unexpected(E) -> Unexpected<E>;

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Expected(Unexpected<E> error)                                              // NOLINT: implicit
      : storage_(std::in_place_index<1>, std::move(error.error)) {}

  bool has_value() const { return storage_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    GRAPE_ASSERT(has_value(), "value() of an Expected holding an error");
    return std::get<0>(storage_);
  }
  const T& value() const& {
    GRAPE_ASSERT(has_value(), "value() of an Expected holding an error");
    return std::get<0>(storage_);
  }
  T&& value() && {
    GRAPE_ASSERT(has_value(), "value() of an Expected holding an error");
    return std::get<0>(std::move(storage_));
  }
  const E& error() const {
    GRAPE_ASSERT(!has_value(), "error() of an Expected holding a value");
    return std::get<1>(storage_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, E> storage_;
};

// Success or an error of type E.
template <class E>
class [[nodiscard]] Status {
 public:
  static Status ok() { return Status(); }
  Status(Unexpected<E> error) : error_(std::move(error.error)), failed_(true) {}  // NOLINT

  bool is_ok() const { return !failed_; }
  explicit operator bool() const { return is_ok(); }
  const E& error() const {
    GRAPE_ASSERT(failed_, "error() of an ok Status");
    return error_;
  }

 private:
  Status() = default;
  E error_{};
  bool failed_ = false;
};

}  // namespace grape
