@testable import TributaryLog

/// Segment index files: the input is an index file whose checksum is made right
/// (so the fuzzer gets past it). Parsing refuses it or returns an index that
/// serializes to bytes that parse to the same index.
enum IndexFuzz: FuzzTarget {
    static let name = "index"

    static func seeds() throws -> [[UInt8]] {
        try withSampleLog { segments in segments.map(\.index).filter { !$0.isEmpty } }
    }

    static func check(_ input: [UInt8]) -> Bool {
        guard input.count >= 4, let index = SegmentIndex.parse(resealed(input)) else { return false }
        precondition(SegmentIndex.parse(index.serialized()) == index, "an index does not survive serializing")
        return true
    }
}
