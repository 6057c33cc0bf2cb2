// kv::KvStore::bytes(): the size of keys and values held, kept as writes apply (a shard's size,
// which its leader reports for placement and GET /v1/shards), and restored with a snapshot.

#include <gtest/gtest.h>

#include "core/kv/kv.h"

namespace grape::kv {
namespace {

Command put(std::string key, std::string value) { return Command{Op::kPut, std::move(key), std::move(value), {}}; }

TEST(KvBytes, CountsKeysAndValuesThroughEveryKindOfWrite) {
  KvStore store;
  EXPECT_EQ(store.bytes(), 0u);
  store.apply(put("ab", "cde"));
  EXPECT_EQ(store.bytes(), 5u);
  store.apply(put("ab", "x"));  // overwritten: the old value no longer counts
  EXPECT_EQ(store.bytes(), 3u);
  store.apply(put("k", "vv"));
  EXPECT_EQ(store.bytes(), 6u);
  store.apply(Command{Op::kCas, "k", "vvvv", std::string("vv")});
  EXPECT_EQ(store.bytes(), 8u);
  store.apply(Command{Op::kCas, "k", "no", std::string("wrong")});  // refused: unchanged
  EXPECT_EQ(store.bytes(), 8u);
  store.apply(Command{Op::kDelete, "ab", "", {}});
  EXPECT_EQ(store.bytes(), 5u);
  store.apply(Command{Op::kDelete, "missing", "", {}});
  EXPECT_EQ(store.bytes(), 5u);
  store.apply(Command{Op::kGet, "k", "", {}});
  EXPECT_EQ(store.bytes(), 5u);

  KvStore restored;
  restored.apply(put("old", "state"));
  ASSERT_TRUE(restored.restore(store.encode_snapshot()).is_ok());
  EXPECT_EQ(restored.bytes(), 5u);
}

}  // namespace
}  // namespace grape::kv
