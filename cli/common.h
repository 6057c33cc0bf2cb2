#pragma once
// What every command of cli/ shares: the output format and the exit codes (docs/scenarios.md).

namespace grape::cli {

enum class Format { kText, kJson };

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;    // a check failed: something was violated
inline constexpr int kExitBadInput = 2;  // flags, files or their contents are wrong
inline constexpr int kExitUnknown = 3;   // a check could not decide (a search hit its limit)

}  // namespace grape::cli
