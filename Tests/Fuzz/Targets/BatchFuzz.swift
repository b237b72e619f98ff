@testable import TributaryLog

/// The batch decoder on payloads that pass their checksum: the input is a run of
/// frames, each `count` (2 bytes), `flags` (1: bit 0 key batch), `minTimestamp` (8),
/// `length` (2), then that many payload bytes, all little-endian. Each frame is
/// sealed as a real batch (so the checksum never stops the fuzzer) and decoded in
/// order by one decoder, as a reader does. A batch decodes to exactly `count`
/// readings or fails; what it decodes, encoded again, decodes to the same readings.
enum BatchFuzz: FuzzTarget {
    static let name = "batch"
    static let frameHeaderSize = 13

    static func seeds() throws -> [[UInt8]] {
        [1, 7, 60].map { count in
            var encoder = BatchEncoder()
            var input: [UInt8] = []
            let readings = sampleReadings(count)
            var start = 0
            while start < readings.count {
                let slice = readings[start..<min(readings.count, start + 25)]
                var batch: [UInt8] = []
                encoder.encode(slice, baseOffset: Int64(start), keyInterval: 40, into: &batch)
                let header = batch.withUnsafeBytes { try! BatchHeader.parse($0).get() }
                appendLittleEndian(UInt16(header.count), to: &input)
                input.append(header.isKey ? 1 : 0)
                appendLittleEndian(header.minTimestamp, to: &input)
                appendLittleEndian(UInt16(batch.count - BatchHeader.size), to: &input)
                input.append(contentsOf: batch[BatchHeader.size...])
                start += slice.count
            }
            return input
        }
    }

    static func check(_ input: [UInt8]) -> Bool {
        var decoder = BatchDecoder()
        var at = 0
        var decodedAll = true
        while at + frameHeaderSize <= input.count {
            let count = Int(littleEndian(UInt16.self, input, at))
            let isKey = input[at + 2] & 1 == 1
            let minTimestamp = littleEndian(Int64.self, input, at + 3)
            let length = min(Int(littleEndian(UInt16.self, input, at + 11)), input.count - at - frameHeaderSize)
            var batch = [UInt8](repeating: 0, count: BatchHeader.size)
            batch.append(contentsOf: input[(at + frameHeaderSize)..<(at + frameHeaderSize + length)])
            at += frameHeaderSize + length
            batch.withUnsafeMutableBytes {
                BatchHeader.seal($0, isKey: isKey, baseOffset: 0, count: count,
                                 minTimestamp: minTimestamp, maxTimestamp: minTimestamp)
            }
            guard let readings = decode(batch, with: &decoder) else { decodedAll = false; continue }
            precondition(readings.count == count, "\(readings.count) readings decoded from a batch of \(count)")
            var again: [UInt8] = []
            var encoder = BatchEncoder()
            encoder.encode(readings, baseOffset: 0, keyInterval: 1, into: &again)
            var fresh = BatchDecoder()
            precondition(decode(again, with: &fresh) == readings, "re-encoded readings decode differently")
        }
        return decodedAll && at == input.count
    }

    /// The batch's readings; nil when its header is refused or it does not decode.
    private static func decode(_ batch: [UInt8], with decoder: inout BatchDecoder) -> [Reading]? {
        batch.withUnsafeBytes { bytes -> [Reading]? in
            guard case let .success(header) = BatchHeader.parse(bytes),
                  BatchHeader.verify(bytes, checksum: header.checksum) else { return nil }
            var readings: [Reading] = []
            do {
                try decoder.decode(bytes, header: header) { _, reading in readings.append(reading) }
            } catch {
                return nil
            }
            return readings
        }
    }
}
