#ifndef TRIBUTARY_CRC32C_H
#define TRIBUTARY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by Kafka's
/// record batches and iSCSI. `crc` is the value returned by a previous call
/// (0 to start); the result is final (pre- and post-inverted), so calls chain.
/// Uses the CPU's CRC32 instructions when present (SSE4.2 on x86-64, the CRC
/// extension on ARMv8), else the portable table-driven code.
uint32_t tributary_crc32c(uint32_t crc, const void *data, size_t length);

/// The portable slicing-by-8 implementation, exposed so tests can check it.
uint32_t tributary_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// The hardware implementation; only call it when
/// `tributary_crc32c_hardware_available()` returns 1.
uint32_t tributary_crc32c_hardware(uint32_t crc, const void *data, size_t length);

/// 1 when this CPU has CRC32C instructions this build can use, else 0.
int tributary_crc32c_hardware_available(void);

#endif
