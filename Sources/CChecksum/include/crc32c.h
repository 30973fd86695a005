#ifndef PGBAK_CRC32C_H
#define PGBAK_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Extends a CRC-32C (Castagnoli) over `length` bytes; start with 0xFFFFFFFF and finish by inverting, as
/// PostgreSQL's backup_manifest does (INIT_CRC32C / FIN_CRC32C).
uint32_t pgbak_crc32c_update(uint32_t crc, const void *data, size_t length);

/// The same without SSE 4.2 (slice-by-8 tables): what pgbak_crc32c_update uses on other CPUs.
uint32_t pgbak_crc32c_update_portable(uint32_t crc, const void *data, size_t length);

#endif
