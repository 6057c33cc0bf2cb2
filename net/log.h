#pragma once
// The node's log: one line per event on stderr, through spdlog (Debian's libspdlog):
//
//   2026-11-30T10:20:02.123456Z info  n1 term=4 became leader
//
// time (UTC, microseconds), level, node id, the node's current term, then the event. The term
// is kept by set_term() as Raft moves, so that every line says in which term it happened.

#include <cstdint>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace grape::net::log {

// Installs the format and the level ("debug", "info", "warn", "error"); false for another level.
bool init(const std::string& node, const std::string& level);
void set_term(uint64_t term);

template <class... Args>
void info(spdlog::format_string_t<Args...> format, Args&&... args) {
  spdlog::info(format, std::forward<Args>(args)...);
}
template <class... Args>
void warn(spdlog::format_string_t<Args...> format, Args&&... args) {
  spdlog::warn(format, std::forward<Args>(args)...);
}
template <class... Args>
void error(spdlog::format_string_t<Args...> format, Args&&... args) {
  spdlog::error(format, std::forward<Args>(args)...);
}
template <class... Args>
void debug(spdlog::format_string_t<Args...> format, Args&&... args) {
  spdlog::debug(format, std::forward<Args>(args)...);
}

}  // namespace grape::net::log
