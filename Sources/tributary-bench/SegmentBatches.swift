#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// Walks the record batches of segment files through a 1 MiB window, handing
/// each whole batch (header included) to a closure. Only the header's length
/// field is read: the bytes are the log's, passed on untouched (for the raw
/// write ceiling and the compression probe), so memory stays at the window
/// size however large the log.
struct SegmentBatches {
    /// The segments to walk, each up to its valid length (preallocated space excluded).
    var segments: [SegmentSnapshot]

    static let windowSize = 1 << 20

    func forEach(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var window = [UInt8](repeating: 0, count: Self.windowSize)
        for segment in segments {
            let fd = try FileIO.openForReading(segment.path)
            defer { close(fd) }
            var position: Int64 = 0
            while position + Int64(BatchHeader.size) <= segment.length {
                let wanted = Int(min(Int64(window.count), segment.length - position))
                let got = try window.withUnsafeMutableBytes { buffer in
                    try FileIO.readFully(fd, at: position, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<wanted]),
                                    path: segment.path)
                }
                var consumed = 0
                try window.withUnsafeBytes { buffer in
                    while consumed + BatchHeader.size <= got {
                        let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: consumed + 4,
                                                                                   as: UInt32.self)))
                        guard length > 0, consumed + length <= got else { break }
                        try body(UnsafeRawBufferPointer(rebasing: buffer[consumed..<(consumed + length)]))
                        consumed += length
                    }
                }
                if consumed == 0 {
                    // One batch larger than the window (batches are at most 16 MiB).
                    let length = window.withUnsafeBytes {
                        Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
                    }
                    guard length > window.count else { break }
                    window = [UInt8](repeating: 0, count: length)
                    continue
                }
                position += Int64(consumed)
            }
        }
    }
}
