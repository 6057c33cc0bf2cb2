#pragma once
// GRAPE_ASSERT: checks our own invariants, on in every build. Input from outside (network, disk
// contents, YAML, flags) is validated and answered with an error value, never asserted.
// On failure: prints condition, file:line and the streamed message, runs the crash hook (the
// simulator adds seed, step and the replay command), then aborts.

#include <sstream>
#include <string>

namespace grape {

using CrashHook = void (*)();
// Installs this thread's hook, run before abort; returns the previous one.
CrashHook set_crash_hook(CrashHook hook);

[[noreturn]] void assert_failed(const char* condition, const char* file, int line,
                                const std::string& message);

}  // namespace grape

#define GRAPE_ASSERT(cond, msg)                                                      \
  do {                                                                               \
    if (!(cond)) [[unlikely]] {                                                      \
      std::ostringstream grape_assert_stream_;                                       \
      grape_assert_stream_ << msg;                                                   \
      ::grape::assert_failed(#cond, __FILE__, __LINE__, grape_assert_stream_.str()); \
    }                                                                                \
  } while (0)

#if !defined(NDEBUG) || defined(GRAPE_SLOW_CHECKS)
#define GRAPE_ASSERT_SLOW(cond, msg) GRAPE_ASSERT(cond, msg)
#else
#define GRAPE_ASSERT_SLOW(cond, msg) \
  do {                               \
  } while (0)
#endif
