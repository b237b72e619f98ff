import CTributaryShims

/// CRC-32C (Castagnoli) over bytes, hardware-accelerated where the CPU allows.
public enum CRC32C {
    /// The checksum of `bytes`, continuing from `previous` (0 to start).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        tributary_crc32c(previous, bytes.baseAddress, bytes.count)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// True when this process uses the CPU's CRC32C instructions.
    public static var isHardwareAccelerated: Bool {
        tributary_crc32c_hardware_available() != 0
    }
}
