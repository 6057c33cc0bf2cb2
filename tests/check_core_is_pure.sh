#!/usr/bin/env bash
# Fails if anything under core/ includes Asio, threads, clocks, random_device, file I/O, or
# anything from sim/, net/ or cli/. The core must run unchanged in the simulator.
set -u
core=${1:?usage: check_core_is_pure.sh CORE_DIR}
includes='#include *[<"](boost/|asio|thread>|mutex>|future>|condition_variable>|random>|fstream>|filesystem>|chrono>|yaml-cpp/|CLI/|sim/|net/|cli/)'
calls='std::chrono::(steady|system|high_resolution)_clock|random_device|std::this_thread|std::thread'
found=$(grep -rnE "$includes|$calls" "$core" --include='*.h' --include='*.cc' --include='*.in')
if [[ -n "$found" ]]; then
  echo "core/ must stay pure; these lines reach outside it:"
  echo "$found"
  exit 1
fi
echo "core/ is pure: no I/O, threads, clocks, ambient randomness or outward includes."
