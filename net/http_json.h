#pragma once
// JSON answers of the HTTP API (http_api.cc, http_shards.cc). Private to net/.

#include <openssl/crypto.h>

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/raft/raft.h"
#include "net/runtime_impl.h"

namespace grape::net {

using json = nlohmann::json;

inline std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

inline HttpResponse json_response(unsigned status, const json& body) {
  return HttpResponse{status, "application/json", dump(body), {}};
}

inline HttpResponse error_response(unsigned status, const std::string& message, json extra = json::object()) {
  extra["error"] = message;
  return json_response(status, extra);
}

inline const char* role_name(raft::Role role) {
  switch (role) {
    case raft::Role::kFollower: return "follower";
    case raft::Role::kPreCandidate: return "pre-candidate";
    case raft::Role::kCandidate: return "candidate";
    case raft::Role::kLeader: return "leader";
  }
  return "?";
}

inline json node_or_null(NodeId id) { return id == kNoNode ? json(nullptr) : json(node_name(id)); }

inline bool authorized(const Runtime& runtime, const HttpRequest& request) {
  const std::string expected = "Bearer " + runtime.config().token;
  return !runtime.config().token.empty() && request.authorization.size() == expected.size() &&
         CRYPTO_memcmp(request.authorization.data(), expected.data(), expected.size()) == 0;
}

inline std::optional<json> parse_json(const std::string& body) {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

// An admin call's gate: the cluster token, then the leadership of group 1 (`raft`). The answer
// to give when the call may not go on: 401, or 503 naming the leader.
inline std::optional<HttpResponse> refuse_admin(const Runtime& runtime, const HttpRequest& request,
                                                const raft::Raft& raft) {
  if (!authorized(runtime, request)) {
    return error_response(401, "admin call: needs Authorization: Bearer <cluster token>");
  }
  if (raft.role() != raft::Role::kLeader) {
    return error_response(503, "not the leader: send this to the leader",
                          json{{"leader", node_or_null(raft.leader())}});
  }
  return std::nullopt;
}

// The routes of http_shards.cc: /v1/shards, /v1/shards/{id}, /v1/route, /v1/rebalance.
void handle_shard_api(Runtime& runtime, const HttpRequest& request, Respond respond);
// 503 from a node that holds no replica of the metadata group, naming those that do.
HttpResponse no_meta_response(Runtime& runtime);

}  // namespace grape::net
