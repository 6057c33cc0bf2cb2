#include "sim/history_io.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

namespace grape::sim {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;  // the writer keeps the documented field order
using Fail = Unexpected<HistoryReadError>;

constexpr size_t kShownBytesMax = 40;  // of a bad value quoted in an error message

// ---------------------------------------------------------------------------------------------
// Writing

ordered_json op_value(const std::optional<std::string>& value) {
  return value ? ordered_json(*value) : ordered_json(nullptr);
}

// One line of `op`: the invocation (`type` "invoke") or its completion.
ordered_json make_line(const Operation& op, std::string_view type, int64_t time_ns) {
  ordered_json line{
      {"process", op.process}, {"type", type}, {"f", to_string(op.kind)}, {"key", op.key}};
  if (op.kind == OpKind::kCas) line["expected"] = op_value(op.expected);
  const bool read_value = op.kind == OpKind::kGet && type == to_string(OpOutcome::kOk);
  if (op.kind == OpKind::kPut || op.kind == OpKind::kCas || read_value) {
    line["value"] = op_value(op.value);
  }
  line["time_ns"] = time_ns;
  return line;
}

// ---------------------------------------------------------------------------------------------
// Reading

struct Where {
  std::string_view file;
  int line = 0;

  HistoryReadError error(std::string_view field, std::string message) const {
    return {std::string(file), line, std::string(field), std::move(message)};
  }
};

// A value as it appears in the file, cut short: for messages.
std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kShownBytesMax) text = text.substr(0, kShownBytesMax) + "...";
  return text;
}

// A string as JSON writes it (quoted, escaped), cut short: for messages.
std::string shown_text(std::string_view text) { return shown(json(text)); }

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1,
// column 7: " prefix: the column is reported on its own.
std::string parse_error_reason(const json::parse_error& error) {
  const std::string what = error.what();
  const size_t column = what.find("column ");
  const size_t colon = column == std::string::npos ? column : what.find(": ", column);
  std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
  // It quotes the bytes last read, raw: keep control bytes of a binary file off the terminal.
  for (char& c : reason) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return reason;
}

Expected<json, HistoryReadError> parse_line(std::string_view text, const Where& at) {
  try {
    json object = json::parse(text);
    if (!object.is_object()) {
      return Fail{at.error("", "expected a JSON object, got " + std::string(object.type_name()))};
    }
    return object;
  } catch (const json::parse_error& error) {
    return Fail{at.error("", "malformed JSON at column " + std::to_string(error.byte) + ": " +
                                 parse_error_reason(error))};
  }
}

Expected<const json*, HistoryReadError> require(const json& object, const char* name,
                                                const Where& at) {
  const auto it = object.find(name);
  if (it == object.end()) return Fail{at.error(name, "missing")};
  return &*it;
}

// A string or null (absent), as `value` and `expected` are.
Expected<std::optional<std::string>, HistoryReadError> to_value(const json& field, const char* name,
                                                                const Where& at) {
  if (field.is_null()) return std::optional<std::string>{};
  if (!field.is_string()) {
    return Fail{at.error(name, "expected a string or null, got " + shown(field))};
  }
  return std::optional<std::string>{field.get<std::string>()};
}

Expected<std::optional<std::string>, HistoryReadError> require_value(const json& object,
                                                                     const char* name,
                                                                     const Where& at) {
  auto field = require(object, name, at);
  if (!field) return Fail{field.error()};
  return to_value(**field, name, at);
}

// One of a fixed set of words; the message lists them.
template <class T, size_t N>
Expected<T, HistoryReadError> require_choice(const json& object, const char* name,
                                             const std::pair<std::string_view, T> (&choices)[N],
                                             const Where& at) {
  auto field = require(object, name, at);
  if (!field) return Fail{field.error()};
  if ((*field)->is_string()) {
    const auto& text = (*field)->get_ref<const std::string&>();
    for (const auto& [word, choice] : choices) {
      if (text == word) return choice;
    }
  }
  std::string words;
  for (const auto& [word, choice] : choices)
    words += (words.empty() ? "" : ", ") + std::string(word);
  return Fail{at.error(name, "expected one of " + words + ", got " + shown(**field))};
}

enum class LineType : uint8_t { kInvoke, kOk, kFail, kInfo };

constexpr std::pair<std::string_view, LineType> kLineTypes[] = {{"invoke", LineType::kInvoke},
                                                                {"ok", LineType::kOk},
                                                                {"fail", LineType::kFail},
                                                                {"info", LineType::kInfo}};
constexpr std::pair<std::string_view, OpKind> kOpKinds[] = {{"put", OpKind::kPut},
                                                            {"get", OpKind::kGet},
                                                            {"delete", OpKind::kDelete},
                                                            {"cas", OpKind::kCas}};

std::string_view type_name(LineType type) {
  for (const auto& [word, choice] : kLineTypes) {
    if (choice == type) return word;
  }
  return "?";
}

OpOutcome outcome_of(LineType type) {
  switch (type) {
    case LineType::kOk:
      return OpOutcome::kOk;
    case LineType::kFail:
      return OpOutcome::kFail;
    case LineType::kInfo:
      return OpOutcome::kInfo;
    case LineType::kInvoke:
      break;
  }
  return OpOutcome::kPending;
}

// The fields every line has, checked in this order.
struct LineHeader {
  uint64_t process = 0;
  LineType type = LineType::kInvoke;
  OpKind kind = OpKind::kPut;
  std::string key;
  int64_t time_ns = 0;
};

Expected<LineHeader, HistoryReadError> read_header(const json& object, const Where& at) {
  LineHeader header;
  auto process = require(object, "process", at);
  if (!process) return Fail{process.error()};
  if (!(*process)->is_number_unsigned()) {
    return Fail{at.error("process", "expected a non-negative integer, got " + shown(**process))};
  }
  header.process = (*process)->get<uint64_t>();
  auto type = require_choice(object, "type", kLineTypes, at);
  if (!type) return Fail{type.error()};
  header.type = *type;
  auto kind = require_choice(object, "f", kOpKinds, at);
  if (!kind) return Fail{kind.error()};
  header.kind = *kind;
  auto key = require(object, "key", at);
  if (!key) return Fail{key.error()};
  if (!(*key)->is_string()) return Fail{at.error("key", "expected a string, got " + shown(**key))};
  header.key = (*key)->get<std::string>();
  auto time = require(object, "time_ns", at);
  if (!time) return Fail{time.error()};
  const bool too_large = (*time)->is_number_unsigned() &&
                         (*time)->get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()};
  if (!(*time)->is_number_integer() || too_large) {
    return Fail{at.error("time_ns", "expected an integer (nanoseconds), got " + shown(**time))};
  }
  header.time_ns = (*time)->get<int64_t>();
  return header;
}

// Builds the history line by line; a process's invocation stays in flight until its completion.
class JsonlReader {
 public:
  explicit JsonlReader(std::string_view file) : file_(file) {}

  Status<HistoryReadError> read(std::string_view text, int line) {
    const Where at{file_, line};
    auto object = parse_line(text, at);
    if (!object) return Fail{object.error()};
    auto header = read_header(*object, at);
    if (!header) return Fail{header.error()};
    if (header->type == LineType::kInvoke) return on_invoke(*object, *header, at);
    return on_completion(*object, *header, at);
  }

  History take_history() { return std::move(history_); }
  std::vector<OpLines> take_lines() { return std::move(lines_); }

 private:
  struct InFlight {
    uint64_t op = 0;
    int line = 0;
  };

  Status<HistoryReadError> on_invoke(const json& object, const LineHeader& header, const Where& at);
  Status<HistoryReadError> on_completion(const json& object, const LineHeader& header,
                                         const Where& at);
  static Status<HistoryReadError> check_repeated(const json& object, const char* name,
                                                 const std::optional<std::string>& invoked,
                                                 int invoke_line, const Where& at);

  std::string_view file_;
  History history_;
  std::vector<OpLines> lines_;              // by op id
  std::map<uint64_t, InFlight> in_flight_;  // by process
};

Status<HistoryReadError> JsonlReader::on_invoke(const json& object, const LineHeader& header,
                                                const Where& at) {
  if (const auto busy = in_flight_.find(header.process); busy != in_flight_.end()) {
    const Operation& op = history_.ops[busy->second.op];
    return Fail{at.error("process", "process " + std::to_string(header.process) +
                                        " invokes again while its " +
                                        std::string(to_string(op.kind)) + " from line " +
                                        std::to_string(busy->second.line) +
                                        " is in flight (one call at a time per process)")};
  }
  Operation op;
  op.id = history_.ops.size();
  op.process = header.process;
  op.kind = header.kind;
  op.key = header.key;
  op.invoked = VirtualTime{header.time_ns};
  if (op.kind == OpKind::kCas) {
    auto expected = require_value(object, "expected", at);
    if (!expected) return Fail{expected.error()};
    op.expected = std::move(*expected);
  }
  if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) {
    auto value = require_value(object, "value", at);
    if (!value) return Fail{value.error()};
    op.value = std::move(*value);
  }
  in_flight_[op.process] = {op.id, at.line};
  lines_.push_back({.invoke = at.line});
  history_.ops.push_back(std::move(op));
  return Status<HistoryReadError>::ok();
}

// A put or cas completion may repeat the invocation's `value` and `expected`; if it does, they
// must agree, or the file mixes up two calls.
Status<HistoryReadError> JsonlReader::check_repeated(const json& object, const char* name,
                                                     const std::optional<std::string>& invoked,
                                                     int invoke_line, const Where& at) {
  const auto it = object.find(name);
  if (it == object.end()) return Status<HistoryReadError>::ok();
  auto value = to_value(*it, name, at);
  if (!value) return Fail{value.error()};
  if (*value != invoked) {
    return Fail{at.error(name, shown(*it) + " differs from the invocation on line " +
                                   std::to_string(invoke_line) + " (" +
                                   (invoked ? shown_text(*invoked) : "null") + ")")};
  }
  return Status<HistoryReadError>::ok();
}

Status<HistoryReadError> JsonlReader::on_completion(const json& object, const LineHeader& header,
                                                    const Where& at) {
  const auto flight = in_flight_.find(header.process);
  if (flight == in_flight_.end()) {
    return Fail{
        at.error("type", shown_text(type_name(header.type)) + " for process " +
                             std::to_string(header.process) +
                             ", which has no call in flight (no invoke on an earlier line)")};
  }
  const int invoke_line = flight->second.line;
  Operation& op = history_.ops[flight->second.op];
  const std::string invoked_on = " on line " + std::to_string(invoke_line);
  if (header.kind != op.kind) {
    return Fail{at.error("f", shown_text(to_string(header.kind)) + " differs from the invocation" +
                                  invoked_on + " (" + shown_text(to_string(op.kind)) + ")")};
  }
  if (header.key != op.key) {
    return Fail{at.error("key", shown_text(header.key) + " differs from the invocation" +
                                    invoked_on + " (" + shown_text(op.key) + ")")};
  }
  if (header.time_ns < op.invoked.ns) {
    return Fail{at.error("time_ns", std::to_string(header.time_ns) + " is before the invocation" +
                                        invoked_on + " (" + std::to_string(op.invoked.ns) + ")")};
  }
  if (op.kind == OpKind::kGet && header.type == LineType::kOk) {
    const auto field = object.find("value");
    if (field == object.end()) {
      return Fail{at.error("value",
                           "missing: an ok get carries the value it read, null when the "
                           "key was absent")};
    }
    auto value = to_value(*field, "value", at);
    if (!value) return Fail{value.error()};
    op.value = std::move(*value);
  }
  if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) {
    if (auto s = check_repeated(object, "value", op.value, invoke_line, at); !s) return s;
  }
  if (op.kind == OpKind::kCas) {
    if (auto s = check_repeated(object, "expected", op.expected, invoke_line, at); !s) return s;
  }
  op.outcome = outcome_of(header.type);
  op.completed = VirtualTime{header.time_ns};
  lines_[op.id].complete = at.line;
  in_flight_.erase(flight);
  return Status<HistoryReadError>::ok();
}

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

}  // namespace

std::string to_jsonl(const History& history) {
  struct Line {
    int64_t time_ns;
    // At one instant: by op, each op's invocation before its completion. Ids follow invocation
    // order, so a process's completion comes before its next invocation.
    uint64_t order;
    ordered_json value;
  };
  std::vector<Line> lines;
  for (const Operation& op : history.ops) {
    lines.push_back({op.invoked.ns, op.id * 2, make_line(op, "invoke", op.invoked.ns)});
    if (op.outcome == OpOutcome::kPending) continue;  // an invocation without a completion
    const int64_t completed_ns = std::max(op.completed.ns, op.invoked.ns);
    lines.push_back(
        {completed_ns, op.id * 2 + 1, make_line(op, to_string(op.outcome), completed_ns)});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.order < b.order;
  });
  std::string out;
  for (const Line& line : lines) out += line.value.dump() + "\n";
  return out;
}

std::string HistoryReadError::to_string() const {
  std::string out = file + ":" + std::to_string(line) + ": ";
  if (!field.empty()) out += "field \"" + field + "\": ";
  return out + message;
}

Expected<History, HistoryReadError> read_jsonl(std::string_view text, std::string_view file_name,
                                               std::vector<OpLines>* lines) {
  JsonlReader reader(file_name);
  int line = 0;
  while (!text.empty()) {
    ++line;
    const size_t end = text.find('\n');
    const std::string_view current = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (is_blank(current)) continue;
    if (auto status = reader.read(current, line); !status) return Fail{status.error()};
  }
  if (lines) *lines = reader.take_lines();
  return reader.take_history();
}

}  // namespace grape::sim
