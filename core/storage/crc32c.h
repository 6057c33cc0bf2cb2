#pragma once
// CRC32C (Castagnoli), the checksum of every write-ahead-log record. Uses the SSE4.2 crc32
// instruction when the CPU has it (about 20 GB/s here: replay is never checksum-bound) and a
// slicing-by-8 table otherwise; both give the same values (RFC 3720's test vectors).

#include <cstddef>
#include <cstdint>
#include <span>

namespace grape::storage {

// Extends `crc` (0 to start) over `data`.
uint32_t crc32c(std::span<const std::byte> data, uint32_t crc = 0);
// Same, always through the table: the fallback, exposed for tests.
uint32_t crc32c_portable(std::span<const std::byte> data, uint32_t crc = 0);
bool crc32c_is_hardware();

}  // namespace grape::storage
