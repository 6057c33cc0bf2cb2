#include "sim/history.h"

#include <sstream>

namespace grape::sim {

std::string_view to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kPut:
      return "put";
    case OpKind::kGet:
      return "get";
    case OpKind::kDelete:
      return "delete";
    case OpKind::kCas:
      return "cas";
  }
  return "unknown";
}

std::string_view to_string(OpOutcome outcome) {
  switch (outcome) {
    case OpOutcome::kPending:
      return "pending";
    case OpOutcome::kOk:
      return "ok";
    case OpOutcome::kFail:
      return "fail";
    case OpOutcome::kInfo:
      return "info";
  }
  return "unknown";
}

std::string describe_value(const std::optional<std::string>& value) {
  if (!value) return "absent";
  constexpr size_t kShownMax = 40;
  if (value->size() <= kShownMax) return "\"" + *value + "\"";
  return "\"" + value->substr(0, kShownMax) + "...\"";
}

std::string describe(const Operation& op) {
  std::ostringstream out;
  out << "process " << op.process << " " << to_string(op.kind);
  switch (op.kind) {
    case OpKind::kPut:
      out << " " << describe_value(op.value);
      break;
    case OpKind::kGet:
      if (op.outcome == OpOutcome::kOk) out << " -> " << describe_value(op.value);
      break;
    case OpKind::kDelete:
      break;
    case OpKind::kCas:
      out << " " << describe_value(op.expected) << " -> " << describe_value(op.value);
      break;
  }
  out << " [" << op.invoked << " .. ";
  if (op.outcome == OpOutcome::kOk || op.outcome == OpOutcome::kFail) {
    out << op.completed;
  } else {
    out << "?";
  }
  out << ", " << to_string(op.outcome) << "]";
  return out.str();
}

}  // namespace grape::sim
