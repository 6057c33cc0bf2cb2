#include "core/base/mark.h"

#include <map>
#include <string>

namespace grape {
namespace {
// Per thread: sweeps run one simulated world per thread, and a test reads its own thread's marks.
std::map<std::string, uint64_t, std::less<>>& marks() {
  thread_local std::map<std::string, uint64_t, std::less<>> counts;
  return counts;
}
}  // namespace

void mark_hit(std::string_view name) {
  auto& counts = marks();
  auto it = counts.find(name);
  if (it == counts.end()) it = counts.emplace(std::string(name), 0).first;
  ++it->second;
}

uint64_t mark_count(std::string_view name) {
  const auto& counts = marks();
  auto it = counts.find(name);
  return it == counts.end() ? 0 : it->second;
}

}  // namespace grape
