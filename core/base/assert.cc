#include "core/base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace grape {
namespace {
thread_local CrashHook g_crash_hook = nullptr;  // per thread, like the simulated world it describes
}  // namespace

CrashHook set_crash_hook(CrashHook hook) {
  CrashHook previous = g_crash_hook;
  g_crash_hook = hook;
  return previous;
}

void assert_failed(const char* condition, const char* file, int line, const std::string& message) {
  std::fprintf(stderr, "grape: assertion failed: %s\n  at %s:%d\n  %s\n", condition, file, line,
               message.c_str());
  if (g_crash_hook != nullptr) g_crash_hook();
  std::fflush(stderr);
  std::abort();
}

}  // namespace grape
