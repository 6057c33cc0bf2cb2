#include "sim/history.h"

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

}  // namespace grape::sim
