#include "net/wire.h"

#include <cstring>
#include <sstream>

#include <cereal/archives/portable_binary.hpp>

#include "core/storage/codec.h"
#include "core/storage/crc32c.h"
#include "net/batch_wire.h"

namespace grape::net {
namespace {

// The decoder's budget: no list may claim more elements than bytes remain in the payload, so a
// forged length never makes us allocate more than the frame itself.
struct Budget {
  uint64_t bytes = 0;
};
using OutArchive = cereal::PortableBinaryOutputArchive;

// The input archive with the decoder's budget.
struct InArchive {
  cereal::PortableBinaryInputArchive archive;
  Budget budget;
  template <class... T>
  void operator()(T&&... values) {
    archive(std::forward<T>(values)...);
  }
};

void check_count(InArchive& ar, uint64_t count) {
  if (count > ar.budget.bytes) {
    throw cereal::Exception("a list claims " + std::to_string(count) + " elements, more than the " +
                            "frame holds");
  }
}

template <class Tag>
void save_id(OutArchive& ar, StrongId<Tag> id) {
  ar(id.value);
}
template <class Id>
Id load_id(InArchive& ar) {
  uint64_t v = 0;
  ar(v);
  return Id(v);
}

void save_bytes(OutArchive& ar, const Bytes& bytes) {
  ar(static_cast<uint64_t>(bytes.size()));
  ar(cereal::binary_data(bytes.data(), bytes.size()));
}
void load_bytes(InArchive& ar, Bytes& bytes) {
  uint64_t n = 0;
  ar(n);
  check_count(ar, n);
  bytes.resize(n);
  if (n > 0) ar(cereal::binary_data(bytes.data(), n));
}

void save_ids(OutArchive& ar, const std::vector<NodeId>& ids) {
  ar(static_cast<uint64_t>(ids.size()));
  for (NodeId id : ids) save_id(ar, id);
}
void load_ids(InArchive& ar, std::vector<NodeId>& ids) {
  uint64_t n = 0;
  ar(n);
  check_count(ar, n);
  ids.clear();
  for (uint64_t i = 0; i < n; ++i) ids.push_back(load_id<NodeId>(ar));
}

void save_message(OutArchive& ar, const raft::Message& m) {
  ar(static_cast<uint8_t>(m.type));
  save_id(ar, m.from);
  save_id(ar, m.to);
  ar(m.term.value, m.log_term.value, m.index.value, m.commit.value);
  ar(static_cast<uint64_t>(m.entries.size()));
  for (const raft::Entry& e : m.entries) {
    ar(e.term.value, e.index.value, static_cast<uint8_t>(e.type));
    save_bytes(ar, e.data);
  }
  ar(m.reject, m.reject_hint.value, m.transfer, m.context);
  save_ids(ar, m.conf_state.voters);
  save_ids(ar, m.conf_state.voters_outgoing);
  save_ids(ar, m.conf_state.learners);
  save_ids(ar, m.conf_state.learners_next);
  ar(m.offset);
  save_bytes(ar, m.data);
  ar(m.done);
}

void load_message(InArchive& ar, raft::Message& m) {
  uint8_t type = 0;
  ar(type);
  if (type >= raft::kMessageTypeCount) {
    throw cereal::Exception("unknown message type " + std::to_string(type));
  }
  m.type = static_cast<raft::MessageType>(type);
  m.from = load_id<NodeId>(ar);
  m.to = load_id<NodeId>(ar);
  ar(m.term.value, m.log_term.value, m.index.value, m.commit.value);
  uint64_t entries = 0;
  ar(entries);
  check_count(ar, entries);
  m.entries.resize(entries);
  for (raft::Entry& e : m.entries) {
    uint8_t entry_type = 0;
    ar(e.term.value, e.index.value, entry_type);
    if (entry_type > 1) throw cereal::Exception("unknown entry type " + std::to_string(entry_type));
    e.type = static_cast<raft::EntryType>(entry_type);
    load_bytes(ar, e.data);
  }
  ar(m.reject, m.reject_hint.value, m.transfer, m.context);
  load_ids(ar, m.conf_state.voters);
  load_ids(ar, m.conf_state.voters_outgoing);
  load_ids(ar, m.conf_state.learners);
  load_ids(ar, m.conf_state.learners_next);
  ar(m.offset);
  load_bytes(ar, m.data);
  ar(m.done);
}

uint32_t get_u32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

Bytes encode_frame(FrameKind kind, std::span<const std::byte> payload) {
  Bytes out;
  out.reserve(kFrameHeaderBytes + payload.size());
  storage::put<uint32_t>(out, static_cast<uint32_t>(payload.size()));
  out.push_back(std::byte{kWireVersion});
  out.push_back(static_cast<std::byte>(kind));
  out.push_back(std::byte{0});
  out.push_back(std::byte{0});
  uint32_t crc = storage::crc32c(std::span<const std::byte>(out).first(8));
  crc = storage::crc32c(payload, crc);
  storage::put<uint32_t>(out, crc);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

void FrameReader::feed(std::span<const std::byte> bytes) {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Expected<std::optional<Frame>, std::string> FrameReader::next() {
  const size_t available = buffer_.size() - start_;
  if (available < kFrameHeaderBytes) return std::optional<Frame>();
  const std::byte* h = buffer_.data() + start_;
  const uint32_t length = get_u32(h);
  const auto version = static_cast<uint8_t>(h[4]);
  const auto kind = static_cast<uint8_t>(h[5]);
  if (version != kWireVersion) {
    return Unexpected("wire format version " + std::to_string(version) + ", expected " +
                      std::to_string(kWireVersion));
  }
  if (kind == 0 || kind > kFrameKindMax) {
    return Unexpected("unknown frame kind " + std::to_string(kind));
  }
  if (h[6] != std::byte{0} || h[7] != std::byte{0}) return Unexpected(std::string("bad frame header"));
  if (length > max_) {
    return Unexpected("frame of " + std::to_string(length) + " bytes, more than the limit of " +
                      std::to_string(max_));
  }
  if (available < kFrameHeaderBytes + length) return std::optional<Frame>();
  const std::span<const std::byte> header(h, 8);
  const std::span<const std::byte> payload(h + kFrameHeaderBytes, length);
  uint32_t crc = storage::crc32c(header);
  crc = storage::crc32c(payload, crc);
  if (crc != get_u32(h + 8)) return Unexpected(std::string("frame checksum mismatch"));
  Frame frame{static_cast<FrameKind>(kind), Bytes(payload.begin(), payload.end())};
  start_ += kFrameHeaderBytes + length;
  return std::optional<Frame>(std::move(frame));
}

Bytes encode_message(const raft::Message& message) {
  std::ostringstream out(std::ios::binary);
  {
    OutArchive ar(out);
    save_message(ar, message);
  }
  const std::string s = out.str();
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return Bytes(p, p + s.size());
}

Expected<raft::Message, std::string> decode_message(std::span<const std::byte> payload) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(payload.data()), payload.size()),
                        std::ios::binary);
  try {
    InArchive ar{cereal::PortableBinaryInputArchive(in), Budget{payload.size()}};
    raft::Message m;
    load_message(ar, m);
    if (in.peek() != std::char_traits<char>::eof()) {
      return Unexpected(std::string("bytes after the message"));
    }
    return m;
  } catch (const std::exception& e) {
    return Unexpected(std::string("message does not decode: ") + e.what());
  }
}

Bytes encode_messages(std::span<const raft::Message* const> messages) {
  std::ostringstream out(std::ios::binary);
  {
    OutArchive ar(out);
    ar(static_cast<uint32_t>(messages.size()));
    for (const raft::Message* m : messages) save_message(ar, *m);
  }
  const std::string s = out.str();
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return Bytes(p, p + s.size());
}

Expected<std::vector<raft::Message>, std::string> decode_messages(std::span<const std::byte> payload) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(payload.data()), payload.size()),
                        std::ios::binary);
  try {
    InArchive ar{cereal::PortableBinaryInputArchive(in), Budget{payload.size()}};
    uint32_t count = 0;
    ar(count);
    check_count(ar, count);
    std::vector<raft::Message> messages(count);
    for (raft::Message& m : messages) load_message(ar, m);
    if (in.peek() != std::char_traits<char>::eof()) {
      return Unexpected(std::string("bytes after the messages"));
    }
    return messages;
  } catch (const std::exception& e) {
    return Unexpected(std::string("messages do not decode: ") + e.what());
  }
}

Bytes encode_forwarded_request(const ForwardedRequest& request) {
  Bytes out;
  storage::put<uint64_t>(out, request.id);
  storage::put<uint64_t>(out, request.group.value);
  storage::put<uint64_t>(out, request.epoch.value);
  const Bytes command = kv::encode_command(request.command);
  out.insert(out.end(), command.begin(), command.end());
  return out;
}

Expected<ForwardedRequest, std::string> decode_forwarded_request(
    std::span<const std::byte> payload) {
  storage::Reader r(payload);
  ForwardedRequest request;
  if (!r.get(request.id) || !r.get(request.group.value) || !r.get(request.epoch.value)) {
    return Unexpected(std::string("forwarded request too short"));
  }
  auto command = kv::decode_command(Bytes(payload.begin() + 24, payload.end()));
  if (!command) return Unexpected("forwarded request: " + command.error().detail);
  request.command = std::move(*command);
  return request;
}

Bytes encode_forwarded_reply(const ForwardedReply& reply) {
  Bytes out;
  storage::put<uint64_t>(out, reply.id);
  storage::put<uint8_t>(out, static_cast<uint8_t>(reply.status));
  storage::put<uint64_t>(out, reply.leader_hint.value);
  storage::put<uint64_t>(out, reply.index.value);
  storage::put<uint8_t>(out, reply.result.ok ? 1 : 0);
  storage::put<uint8_t>(out, reply.result.value ? 1 : 0);
  const std::string value = reply.result.value.value_or("");
  storage::put<uint32_t>(out, static_cast<uint32_t>(value.size()));
  const auto* p = reinterpret_cast<const std::byte*>(value.data());
  out.insert(out.end(), p, p + value.size());
  storage::put<uint64_t>(out, reply.group.value);
  storage::put<uint8_t>(out, reply.route ? 1 : 0);
  if (reply.route) put_route(out, *reply.route);
  return out;
}

Expected<ForwardedReply, std::string> decode_forwarded_reply(std::span<const std::byte> payload) {
  storage::Reader r(payload);
  ForwardedReply reply;
  uint8_t status = 0, ok = 0, has_value = 0, has_route = 0;
  uint32_t size = 0;
  Bytes value;
  if (!r.get(reply.id) || !r.get(status) || !r.get(reply.leader_hint.value) ||
      !r.get(reply.index.value) || !r.get(ok) || !r.get(has_value) || !r.get(size) ||
      !r.get_bytes(size, value) || !r.get(reply.group.value) || !r.get(has_route) ||
      has_route > 1) {
    return Unexpected(std::string("forwarded reply does not decode"));
  }
  if (has_route == 1) {
    auto route = get_route(payload.subspan(r.pos()));
    if (!route) return Unexpected(std::string("forwarded reply: its route does not decode"));
    reply.route = std::move(*route);
  } else if (!r.done()) {
    return Unexpected(std::string("forwarded reply: bytes after it"));
  }
  if (status > static_cast<uint8_t>(node::ReplyStatus::kStaleEpoch) || ok > 1 || has_value > 1) {
    return Unexpected(std::string("forwarded reply has an unknown status"));
  }
  reply.status = static_cast<node::ReplyStatus>(status);
  reply.result.ok = ok == 1;
  if (has_value == 1) {
    reply.result.value = std::string(reinterpret_cast<const char*>(value.data()), value.size());
  }
  return reply;
}

}  // namespace grape::net

