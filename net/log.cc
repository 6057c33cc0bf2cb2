#include "net/log.h"

#include <atomic>
#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace grape::net::log {
namespace {

std::atomic<uint64_t> current_term{0};

// %T in the pattern: "term=<n>", the term the node is in when the line is written.
class TermFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string text = "term=" + std::to_string(current_term.load(std::memory_order_relaxed));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TermFlag>();
  }
};

}  // namespace

bool init(const std::string& node, const std::string& level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return false;
  auto logger = std::make_shared<spdlog::logger>(
      node, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<TermFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %-5l %n %* %v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return true;
}

void set_term(uint64_t term) { current_term.store(term, std::memory_order_relaxed); }

}  // namespace grape::net::log
