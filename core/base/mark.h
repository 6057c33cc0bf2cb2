#pragma once
// GRAPE_MARK("name"): counts a pass through a rare branch so that one named test can assert the
// branch was reached (as TigerBeetle's coverage marks do). Cheap enough for rare paths only.
// Not thread-safe: grape's core runs single-threaded in both worlds.

#include <cstdint>
#include <string_view>

namespace grape {

void mark_hit(std::string_view name);
uint64_t mark_count(std::string_view name);

}  // namespace grape

#define GRAPE_MARK(name) ::grape::mark_hit(name)
