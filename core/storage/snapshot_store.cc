#include "core/storage/snapshot_store.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/storage/codec.h"
#include "core/storage/crc32c.h"

namespace grape::storage {
namespace {

constexpr char kMagic[8] = {'G', 'R', 'A', 'P', 'E', 'S', 'N', 'P'};
constexpr uint32_t kVersion = 1;
constexpr const char* kSuffix = ".snap";

void put_ids(Bytes& out, const std::vector<NodeId>& ids) {
  put<uint32_t>(out, static_cast<uint32_t>(ids.size()));
  for (NodeId id : ids) put<uint64_t>(out, id.value);
}

bool get_ids(Reader& in, std::vector<NodeId>& ids) {
  uint32_t n = 0;
  if (!in.get(n)) return false;
  ids.clear();
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t v = 0;
    if (!in.get(v)) return false;
    ids.push_back(NodeId(v));
  }
  return true;
}

std::string hex16(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The 16 lowercase hex digits at `at` in `name`, or nullopt.
std::optional<uint64_t> parse_hex16(const std::string& name, size_t at) {
  if (name.size() < at + 16) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = at; i < at + 16; ++i) {
    const char c = name[i];
    if (c >= '0' && c <= '9') {
      v = v * 16 + static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = v * 16 + static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
  }
  return v;
}

// The group a snapshot file's name starts with ("<16 hex>-...").
std::optional<GroupId> parse_group(const std::string& name) {
  if (name.size() < 17 || name[16] != '-') return std::nullopt;
  const std::optional<uint64_t> group = parse_hex16(name, 0);
  return group ? std::optional<GroupId>(GroupId(*group)) : std::nullopt;
}

// "<group>-<index>.snap" -> index, for this group; nullopt for any other name.
std::optional<uint64_t> parse_name(const std::string& name, GroupId group) {
  const std::string prefix = hex16(group.value) + "-";
  if (name.size() != prefix.size() + 16 + std::strlen(kSuffix) || !name.starts_with(prefix) ||
      !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  return parse_hex16(name, prefix.size());
}

SnapshotError from_disk(const DiskError& e) { return SnapshotError{e.code, false, e.detail}; }

}  // namespace

std::string snapshot_file_name(GroupId group, LogIndex index) {
  return hex16(group.value) + "-" + hex16(index.value) + kSuffix;
}

Bytes encode_snapshot_file(GroupId group, const raft::Snapshot& snapshot) {
  Bytes out;
  out.reserve(snapshot.data.size() + 128);
  for (char c : kMagic) out.push_back(static_cast<std::byte>(c));
  put<uint32_t>(out, kVersion);
  put<uint64_t>(out, group.value);
  put<uint64_t>(out, snapshot.meta.index.value);
  put<uint64_t>(out, snapshot.meta.term.value);
  const raft::ConfState& c = snapshot.meta.conf_state;
  put_ids(out, c.voters);
  put_ids(out, c.voters_outgoing);
  put_ids(out, c.learners);
  put_ids(out, c.learners_next);
  put<uint64_t>(out, snapshot.data.size());
  out.insert(out.end(), snapshot.data.begin(), snapshot.data.end());
  put<uint32_t>(out, crc32c(out));
  return out;
}

Expected<raft::Snapshot, std::string> decode_snapshot_file(std::span<const std::byte> bytes,
                                                           GroupId group) {
  if (bytes.size() < 12) return Unexpected(std::string("too short for a snapshot"));
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  if (crc32c(bytes.first(bytes.size() - 4)) != stored) {
    return Unexpected(std::string("checksum mismatch"));
  }
  Reader in(bytes.first(bytes.size() - 4));
  char magic[8];
  uint32_t version;
  uint64_t g, index, term, size;
  raft::Snapshot s;
  if (!in.get(magic) || std::memcmp(magic, kMagic, 8) != 0 || !in.get(version) ||
      version != kVersion || !in.get(g) || g != group.value || !in.get(index) || !in.get(term) ||
      !get_ids(in, s.meta.conf_state.voters) || !get_ids(in, s.meta.conf_state.voters_outgoing) ||
      !get_ids(in, s.meta.conf_state.learners) || !get_ids(in, s.meta.conf_state.learners_next) ||
      !in.get(size) || !in.get_bytes(size, s.data) || in.pos() != bytes.size() - 4) {
    return Unexpected(std::string("not a snapshot of group ") + std::to_string(group.value) +
                      " in format version " + std::to_string(kVersion));
  }
  s.meta.index = LogIndex(index);
  s.meta.term = Term(term);
  return s;
}

Status<SnapshotError> SnapshotStore::save(GroupId group, const raft::Snapshot& snapshot) {
  if (auto made = disk_->make_dir(dir_); !made) return Unexpected(from_disk(made.error()));
  const std::string name = snapshot_file_name(group, snapshot.meta.index);
  const std::string path = join_path(dir_, name);
  const std::string tmp = path + ".tmp";
  {
    auto file = disk_->open(tmp, OpenMode::kCreate);
    if (!file) return Unexpected(from_disk(file.error()));
    if (auto t = (*file)->truncate(0); !t) return Unexpected(from_disk(t.error()));
    const Bytes bytes = encode_snapshot_file(group, snapshot);
    if (auto w = (*file)->write(0, bytes); !w) return Unexpected(from_disk(w.error()));
    if (auto s = (*file)->sync(); !s) return Unexpected(from_disk(s.error()));
  }
  if (auto r = disk_->rename(tmp, path); !r) return Unexpected(from_disk(r.error()));
  if (auto d = disk_->sync_dir(dir_); !d) return Unexpected(from_disk(d.error()));
  // Older snapshots of the group are no longer needed (the new one is durable). Failing to
  // remove one only costs space: load_latest picks the newest.
  if (auto names = disk_->list(dir_)) {
    for (const std::string& n : *names) {
      auto index = parse_name(n, group);
      if (index && *index < snapshot.meta.index.value) (void)disk_->remove(join_path(dir_, n));
      if (n.ends_with(".tmp") && n != name + ".tmp") (void)disk_->remove(join_path(dir_, n));
    }
  }
  return Status<SnapshotError>::ok();
}

Status<SnapshotError> SnapshotStore::remove_all(const std::set<GroupId>& groups) {
  if (groups.empty()) return Status<SnapshotError>::ok();
  auto names = disk_->list(dir_);
  if (!names) {
    if (names.error().code == DiskErrorCode::kNotFound) return Status<SnapshotError>::ok();
    return Unexpected(from_disk(names.error()));
  }
  bool removed = false;
  for (const std::string& n : *names) {
    // "<group>-<index>.snap", or its ".tmp" left by a crash during save()
    const std::string stem = n.ends_with(".tmp") ? n.substr(0, n.size() - 4) : n;
    const std::optional<GroupId> group = parse_group(stem);
    if (!group || !groups.count(*group) || !parse_name(stem, *group)) continue;
    if (auto gone = disk_->remove(join_path(dir_, n)); !gone) return Unexpected(from_disk(gone.error()));
    removed = true;
  }
  if (removed) {
    if (auto d = disk_->sync_dir(dir_); !d) return Unexpected(from_disk(d.error()));
  }
  return Status<SnapshotError>::ok();
}

Expected<std::shared_ptr<const raft::Snapshot>, SnapshotError> SnapshotStore::load_latest(
    GroupId group) {
  auto names = disk_->list(dir_);
  if (!names) {
    if (names.error().code == DiskErrorCode::kNotFound) {
      return std::shared_ptr<const raft::Snapshot>();
    }
    return Unexpected(from_disk(names.error()));
  }
  std::optional<uint64_t> newest;
  std::string newest_name;
  for (const std::string& n : *names) {
    auto index = parse_name(n, group);
    if (index && (!newest || *index > *newest)) {
      newest = index;
      newest_name = n;
    }
  }
  if (!newest) return std::shared_ptr<const raft::Snapshot>();
  const std::string path = join_path(dir_, newest_name);
  auto bytes = read_all(*disk_, path);
  if (!bytes) return Unexpected(from_disk(bytes.error()));
  auto snapshot = decode_snapshot_file(*bytes, group);
  if (!snapshot) {
    return Unexpected(SnapshotError{DiskErrorCode::kIo, true,
                                    path + ": " + snapshot.error() +
                                        "; restore this node from its peers (move the data "
                                        "directory aside and let the leader send a snapshot)"});
  }
  if (snapshot->meta.index.value != *newest) {
    return Unexpected(SnapshotError{DiskErrorCode::kIo, true,
                                    path + ": holds index " +
                                        std::to_string(snapshot->meta.index.value) +
                                        ", its name says " + std::to_string(*newest)});
  }
  return std::shared_ptr<const raft::Snapshot>(
      std::make_shared<raft::Snapshot>(std::move(*snapshot)));
}

}  // namespace grape::storage
