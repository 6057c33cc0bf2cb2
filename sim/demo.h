#pragma once
// The guided tour behind `grape demo`: a simulated 5-node cluster taking client writes through a
// leader crash and a network partition, narrated in plain words as it happens.

#include <cstdint>
#include <ostream>

namespace grape::sim {

struct DemoResult {
  bool safe = false;        // every safety check held
  uint64_t trace_hash = 0;  // the same seed always gives the same hash
};

DemoResult run_demo(std::ostream& out, uint64_t seed);

}  // namespace grape::sim
