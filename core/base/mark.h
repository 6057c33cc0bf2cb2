#pragma once
// GRAPE_MARK("name"): counts a pass through a rare branch so that one named test can assert the
// branch was reached (as TigerBeetle's coverage marks do). Cheap enough for rare paths only.
// Counts are per thread: each core runs single-threaded, and a sweep runs one world per thread.

#include <cstdint>
#include <string_view>

namespace grape {

void mark_hit(std::string_view name);
uint64_t mark_count(std::string_view name);

}  // namespace grape

#define GRAPE_MARK(name) ::grape::mark_hit(name)
