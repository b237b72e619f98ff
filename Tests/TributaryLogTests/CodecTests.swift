import Testing
@testable import TributaryLog

/// Encodes `batches` one after another with one encoder and decodes them with
/// one decoder, checking each header; returns what was decoded per batch.
func codecRoundTrip(_ batches: [[Reading]], keyInterval: Int = .max,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> [[Reading]] {
    var encoder = BatchEncoder()
    var decoder = BatchDecoder()
    var base: Int64 = 1000
    var decoded: [[Reading]] = []
    for batch in batches {
        var bytes: [UInt8] = []
        encoder.encode(batch, baseOffset: base, keyInterval: keyInterval, into: &bytes)
        var readings: [Reading] = []
        try bytes.withUnsafeBytes { raw in
            let header = try BatchHeader.parse(raw).get()
            #expect(header.length == raw.count, sourceLocation: sourceLocation)
            #expect(header.baseOffset == base, sourceLocation: sourceLocation)
            #expect(header.count == batch.count, sourceLocation: sourceLocation)
            #expect(header.minTimestamp == batch.map(\.timestamp).min(), sourceLocation: sourceLocation)
            #expect(header.maxTimestamp == batch.map(\.timestamp).max(), sourceLocation: sourceLocation)
            #expect(BatchHeader.verify(raw, checksum: header.checksum), sourceLocation: sourceLocation)
            var expectedOffset = base
            try decoder.decode(raw, header: header) { offset, reading in
                #expect(offset == expectedOffset, sourceLocation: sourceLocation)
                expectedOffset += 1
                readings.append(reading)
            }
        }
        decoded.append(readings)
        base += Int64(batch.count)
    }
    return decoded
}

/// One sensor's values over time, to round-trip both in one batch and one
/// reading per batch (so deltas against state from earlier batches are used).
struct ValueSequence: CustomTestStringConvertible, Sendable {
    var name: String
    var values: [Value]
    var testDescription: String { name }

    static let all: [ValueSequence] = [
        .init(name: "special doubles", values: [
            .double(.nan), .double(-.nan), .double(Double(nan: 0x1234, signaling: false)),
            .double(Double(bitPattern: 0x7FF0_0000_0000_0001)), // signalling NaN, payload 1
            .double(Double(bitPattern: 0xFFF8_0000_DEAD_BEEF)), // negative NaN with a payload
            .double(.nan), .double(.infinity), .double(-.infinity), .double(.infinity),
            .double(0.0), .double(-0.0), .double(0.0), .double(-0.0), .double(-0.0),
            .double(.leastNonzeroMagnitude), .double(-.leastNonzeroMagnitude),
            .double(.leastNormalMagnitude), .double(Double(bitPattern: 0x0000_1234_5678_9ABC)), .double(.ulpOfOne),
            .double(.greatestFiniteMagnitude), .double(-.greatestFiniteMagnitude), .double(.pi),
        ]),
        .init(name: "decimal doubles", values: [
            .double(21.5), .double(21.5), .double(21.6), .double(21.4), .double(0.1 + 0.2), .double(0.3),
            .double(0.1), .double(-273.15), .double(1e15), .double(9_007_199_254_740_992), .double(1e16),
            .double(123_456_789.123_456_789), .double(0.000_000_001), .double(0.000_000_000_1),
            .double(21.5), .double(-0.0), .double(21.5), .double(1), .double(-1), .double(21.25), .double(21.5),
        ]),
        .init(name: "integers with wrapping deltas", values: [
            .int(0), .int(1), .int(-1), .int(.max), .int(.min), .int(.max), .int(0), .int(.min), .int(.min),
            .int(-1), .int(.max - 1), .int(1 << 32), .int(-(1 << 40)), .int(42), .int(42), .int(43),
        ]),
        .init(name: "booleans", values: [.bool(true), .bool(true), .bool(false), .bool(false), .bool(true)]),
        .init(name: "strings", values: [
            .string(""), .string(""), .string("ok"), .string(""), .string(String(repeating: "x", count: 100_000)),
            .string("温度 °C 🌡️"), .string("a\u{0}b"), .string("ok"), .string("e\u{301}"), .string("é"),
            .string(String(repeating: "ünïcödé ", count: 5_000)), .string("ok"), .string(""),
        ]),
        .init(name: "bytes", values: [
            .bytes([]), .bytes([]), .bytes([0]), .bytes([UInt8](repeating: 0xFF, count: 3)),
            .bytes((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }), .bytes([]), .bytes([1, 2, 3]),
        ]),
    ]
}

/// A value of each kind the encoder treats differently.
enum ValueKind: CaseIterable, Sendable {
    case int, decimalDouble, rawDouble, bool, string, bytes

    func value(_ variant: Int) -> Value {
        switch self {
        case .int: return .int(Int64(variant) * 1_000_003 - 7)
        case .decimalDouble: return .double(21.5 + Double(variant) / 10)
        case .rawDouble: return .double(Double.pi * Double(variant + 1))
        case .bool: return .bool(variant % 2 == 0)
        case .string: return .string("state-\(variant % 2)")
        case .bytes: return .bytes([UInt8(variant), 0xAB])
        }
    }
}

@Suite("Codec")
struct CodecTests {
    @Test("every value round-trips bit for bit, in one batch and across batches", arguments: ValueSequence.all)
    func valuesRoundTrip(sequence: ValueSequence) throws {
        let readings = sequence.values.enumerated().map { i, value in
            Reading(sensor: "s", timestamp: 1_767_225_600_000 + Int64(i) * 1000, value: value)
        }
        #expect(try codecRoundTrip([readings]).flatMap { $0 } == readings)
        #expect(try codecRoundTrip(readings.map { [$0] }).flatMap { $0 } == readings)
        // Interleaved with a second sensor of the same values, in batches of 3.
        let interleaved = readings.flatMap { [$0, Reading(sensor: "t", timestamp: $0.timestamp, value: $0.value)] }
        let chunks = stride(from: 0, to: interleaved.count, by: 3).map {
            Array(interleaved[$0..<min($0 + 3, interleaved.count)])
        }
        let decoded = try codecRoundTrip(chunks).flatMap { $0 }
        #expect(decoded == interleaved)
        // String equality is canonical; the log must keep the exact bytes.
        for (a, b) in zip(decoded, interleaved) {
            if case let .string(x) = a.value, case let .string(y) = b.value {
                #expect(Array(x.utf8) == Array(y.utf8))
            }
        }
    }

    @Test("a sensor switching value types decodes every switch", arguments: ValueKind.allCases, ValueKind.allCases)
    func sensorSwitchesType(from: ValueKind, to: ValueKind) throws {
        let values = [from.value(0), from.value(1), to.value(2), to.value(3), from.value(4), to.value(4)]
        let readings = values.enumerated().map { Reading(sensor: "x", timestamp: Int64($0) * 10, value: $1) }
        #expect(try codecRoundTrip([readings]).flatMap { $0 } == readings)
        #expect(try codecRoundTrip(readings.map { [$0] }).flatMap { $0 } == readings)
    }

    @Test("extreme and out-of-order timestamps round-trip")
    func timestamps() throws {
        let times: [Int64] = [.min, .max, 0, -1, .min, .max - 1, 1_767_225_600_000, 1_767_225_599_000, .min + 1,
                              -1_767_225_600_000, .max, .max, 5, 4, 3, .min, 0]
        for sensors in [1, 3] {
            let readings = times.enumerated().map {
                Reading(sensor: "clock-\($0 % sensors)", timestamp: $1, value: .int(Int64($0)))
            }
            #expect(try codecRoundTrip([readings]).flatMap { $0 } == readings)
            #expect(try codecRoundTrip(readings.map { [$0] }).flatMap { $0 } == readings)
            #expect(try codecRoundTrip([Array(readings[..<5]), Array(readings[5...])]).flatMap { $0 } == readings)
        }
    }

    @Test("ten thousand distinct sensors in one batch, then again in another order")
    func manySensors() throws {
        var generator = SeededGenerator(seed: testSeed(10_000, "many sensors"))
        let first = (0..<10_000).map {
            Reading(sensor: "plant/line-\($0 / 100)/sensor-\($0)", timestamp: 1_000_000 + Int64($0),
                    value: .double(Double($0) / 10))
        }
        let same = first.map { Reading(sensor: $0.sensor, timestamp: $0.timestamp + 1000, value: .int(1)) }
        let shuffled = same.shuffled(using: &generator)
            .map { Reading(sensor: $0.sensor, timestamp: $0.timestamp + 1000, value: .string("v")) }
        let batches = [first, same, shuffled]
        #expect(try codecRoundTrip(batches) == batches)
    }

    @Test("an empty sensor name and a very long one round-trip")
    func sensorNames() throws {
        let readings = [
            Reading(sensor: "", timestamp: 1, value: .int(1)),
            Reading(sensor: String(repeating: "n", count: 70_000), timestamp: 2, value: .int(2)),
            Reading(sensor: "", timestamp: 3, value: .int(3)),
            Reading(sensor: "🌡️/温度", timestamp: 4, value: .int(4)),
        ]
        #expect(try codecRoundTrip([readings]).flatMap { $0 } == readings)
        #expect(try codecRoundTrip(readings.map { [$0] }).flatMap { $0 } == readings)
    }

    @Test("a decoder can start at any key batch, and refuses a non-key batch without state")
    func keyBatches() throws {
        let readings = sampleReadings(400, sensors: 7)
        let batches = stride(from: 0, to: 400, by: 25).map { Array(readings[$0..<($0 + 25)]) }
        var encoder = BatchEncoder()
        var encoded: [[UInt8]] = []
        var keys: [Bool] = []
        for (i, batch) in batches.enumerated() {
            var bytes: [UInt8] = []
            keys.append(encoder.encode(batch, baseOffset: Int64(i * 25), keyInterval: 100, into: &bytes))
            encoded.append(bytes)
        }
        // A key batch every 100 readings: batches 0, 4, 8, 12.
        #expect(keys == (0..<16).map { $0 % 4 == 0 })
        for start in 0..<encoded.count {
            var decoder = BatchDecoder()
            var got: [Reading] = []
            var refused = false
            for bytes in encoded[start...] {
                try bytes.withUnsafeBytes { raw in
                    let header = try BatchHeader.parse(raw).get()
                    do {
                        try decoder.decode(raw, header: header) { _, reading in got.append(reading) }
                    } catch BatchDecoder.Failure.needsKeyBatch {
                        refused = true
                    }
                }
                if refused { break }
            }
            if keys[start] {
                #expect(got == Array(readings[(start * 25)...]), "decoding from batch \(start)")
            } else {
                #expect(refused && got.isEmpty, "batch \(start) has no key: decoding it alone must fail")
            }
        }
    }

    @Test("the header's key flag is covered by the checksum")
    func keyFlagIsChecksummed() throws {
        var encoder = BatchEncoder()
        var bytes: [UInt8] = []
        encoder.encode(sampleReadings(10), baseOffset: 0, keyInterval: 1000, into: &bytes)
        var second: [UInt8] = []
        encoder.encode(sampleReadings(10, first: 10), baseOffset: 10, keyInterval: 1000, into: &second)
        for var batch in [bytes, second] {
            batch[3] ^= 1
            try batch.withUnsafeBytes { raw in
                let header = try BatchHeader.parse(raw).get()
                #expect(!BatchHeader.verify(raw, checksum: header.checksum),
                        "a batch whose key flag flipped must fail its checksum, or it decodes against the wrong state")
            }
        }
    }

    @Test("every byte after the fixed fields is covered by the checksum")
    func checksumCoversThePayload() throws {
        var encoder = BatchEncoder()
        var bytes: [UInt8] = []
        encoder.encode(sampleReadings(30), baseOffset: 77, keyInterval: 1000, into: &bytes)
        for position in 12..<bytes.count {
            bytes[position] ^= 0x10
            bytes.withUnsafeBytes { raw in
                let header = BatchHeader.parse(raw)
                if case let .success(header) = header {
                    #expect(!BatchHeader.verify(raw, checksum: header.checksum), "byte \(position)")
                }
            }
            bytes[position] ^= 0x10
        }
    }

    @Test("a batch header with bad fields is rejected with the reason")
    func headerRejections() throws {
        var encoder = BatchEncoder()
        var good: [UInt8] = []
        encoder.encode(sampleReadings(5), baseOffset: 3, keyInterval: 100, into: &good)
        func parse(_ bytes: [UInt8]) -> Result<BatchHeader, BatchHeader.Problem> {
            bytes.withUnsafeBytes { BatchHeader.parse($0) }
        }
        func with(_ change: (inout [UInt8]) -> Void) -> [UInt8] {
            var copy = good
            change(&copy)
            return copy
        }
        func setLength(_ value: UInt32) -> [UInt8] {
            with { bytes in withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(4..<8, with: $0) } }
        }
        let header = try parse(good).get()
        #expect(header.baseOffset == 3 && header.count == 5 && header.isKey && header.length == good.count)
        #expect(parse(Array(good[..<39])) == .failure(.truncated))
        #expect(parse([]) == .failure(.truncated))
        #expect(parse([UInt8](repeating: 0, count: 40)) == .failure(.zeroes))
        #expect(parse(with { $0[0] ^= 0xFF }) == .failure(.badMagic))
        #expect(parse(with { $0[1] = 0 }) == .failure(.badMagic))
        #expect(parse(with { $0[2] = 2 }) == .failure(.unsupportedVersion(2)))
        #expect(parse(with { $0[2] = 0 }) == .failure(.unsupportedVersion(0)))
        #expect(parse(setLength(40)) == .failure(.badLength(40)))
        #expect(parse(setLength(0)) == .failure(.badLength(0)))
        #expect(parse(setLength(UInt32(BatchHeader.maximumLength + 1))) ==
            .failure(.badLength(BatchHeader.maximumLength + 1)))
        #expect(parse(setLength(.max)) == .failure(.badLength(Int(UInt32.max))))
        #expect(parse(with { $0.replaceSubrange(20..<24, with: [0, 0, 0, 0]) }) == .failure(.badCount))
        // More readings than the payload has bits (each takes at least one).
        func setCount(_ value: UInt32) -> [UInt8] {
            with { bytes in withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(20..<24, with: $0) } }
        }
        let bits = UInt32(8 * (good.count - BatchHeader.size))
        #expect((try? parse(setCount(bits)).get())?.count == Int(bits))
        #expect(parse(setCount(bits + 1)) == .failure(.badCount))
        #expect(parse(setCount(.max)) == .failure(.badCount))
        // Base offsets outside 0 ... 2^62 - 1, so `nextOffset` can never overflow.
        func setBase(_ value: Int64) -> [UInt8] {
            with { bytes in withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(12..<20, with: $0) } }
        }
        for bad: Int64 in [-1, .min, BatchHeader.maximumBaseOffset + 1, .max] {
            #expect(parse(setBase(bad)) == .failure(.badOffset(bad)))
        }
        let highest = try parse(setBase(BatchHeader.maximumBaseOffset)).get()
        #expect(highest.nextOffset == BatchHeader.maximumBaseOffset + 5)
        // Zeroes after the first 40 bytes do not matter; zeroes in them do.
        #expect(parse([UInt8](repeating: 0, count: 40) + [1, 2, 3]) == .failure(.zeroes))
        #expect(parse([0x42, 0] + [UInt8](repeating: 0, count: 38)) == .failure(.badMagic))
    }

    @Test("the universal code reads back every bucket boundary, in any bit alignment")
    func universalCodeBoundaries() throws {
        var values: [UInt64] = [0, .max, .max - 1, 1 << 63]
        for boundary: UInt64 in [1, 3, 7, 23, 279, 65_815, 65_815 + (1 << 32)] {
            values += [boundary - 1, boundary, boundary + 1]
        }
        for misalignment in 0..<8 {
            var writer = BitWriter()
            writer.write(0, bits: misalignment)
            for value in values {
                writer.writeCode(value)
                writer.writeBit(true)
                writer.writeEscape()
                writer.writeSigned(Int64(bitPattern: value))
            }
            let bytes = writer.finish()
            try bytes.withUnsafeBytes { raw throws in
                var reader = BitReader(raw)
                #expect(try reader.read(bits: misalignment) == 0)
                for value in values {
                    #expect(try reader.readCode() == value)
                    #expect(try reader.readBit())
                    #expect(try reader.readCode() == nil, "escape after \(value)")
                    #expect(try reader.readSigned() == Int64(bitPattern: value))
                }
            }
        }
    }

    @Test("the universal code uses the documented number of bits per bucket",
          arguments: codeLengths)
    func universalCodeLengths(value: UInt64, bits: Int) {
        // Eight copies take exactly `bits` bytes.
        var writer = BitWriter()
        for _ in 0..<8 { writer.writeCode(value) }
        #expect(writer.finish().count == bits)
    }

    static let codeLengths: [(UInt64, Int)] = [(0, 1), (1, 3), (2, 3), (3, 5), (6, 5), (7, 8), (22, 8), (23, 13), (278, 13),
                      (279, 22), (65_814, 22), (65_815, 39), (65_815 + (1 << 32) - 1, 39),
                      (65_815 + (1 << 32), 72), (.max, 72)]

    @Test("reading past the end of the bit stream throws instead of inventing bits")
    func bitReaderOverrun() throws {
        var writer = BitWriter()
        writer.writeCode(65_815 + 5)
        let bytes = writer.finish()
        try bytes.withUnsafeBytes { raw throws in
            var whole = BitReader(raw)
            #expect(try whole.readCode() == 65_820)
            let cut = UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 1)])
            var short = BitReader(cut)
            #expect(throws: BitReader.Overrun.self) { try short.readCode() }
        }
        var empty = BitReader(UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(throws: BitReader.Overrun.self) { try empty.readBit() }
    }

    @Test("zig-zag maps signed extremes and back", arguments: [Int64.min, .min + 1, -1, 0, 1, .max - 1, .max])
    func zigZag(value: Int64) {
        #expect(ZigZag.decode(ZigZag.encode(value)) == value)
        #expect(ZigZag.encode(value) == (value >= 0 ? UInt64(value) * 2 : UInt64(-(value + 1)) * 2 + 1))
    }

    @Test("varints round-trip and reject truncation and overlong encodings")
    func varInts() {
        for value: UInt64 in [0, 1, 127, 128, 16_383, 16_384, 1 << 35, .max] {
            var bytes: [UInt8] = []
            VarInt.append(value, to: &bytes)
            bytes.withUnsafeBytes { raw in
                var index = 0
                #expect(VarInt.read(raw, at: &index) == value)
                #expect(index == raw.count)
                var cutIndex = 0
                #expect(VarInt.read(UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 1)]), at: &cutIndex) == nil)
            }
        }
        [UInt8](repeating: 0x80, count: 11).withUnsafeBytes { raw in
            var index = 0
            #expect(VarInt.read(raw, at: &index) == nil)
        }
    }

    @Test("a damaged payload with a valid checksum is reported as malformed, not decoded")
    func malformedPayload() throws {
        var encoder = BatchEncoder()
        var bytes: [UInt8] = []
        encoder.encode(sampleReadings(20), baseOffset: 0, keyInterval: 100, into: &bytes)
        // Cut the payload short, then reseal so the checksum passes.
        var cut = Array(bytes[..<(bytes.count - 4)])
        cut.withUnsafeMutableBytes { raw in
            BatchHeader.seal(raw, isKey: true, baseOffset: 0, count: 20, minTimestamp: 0, maxTimestamp: 0)
        }
        try cut.withUnsafeBytes { raw in
            let header = try BatchHeader.parse(raw).get()
            var decoder = BatchDecoder()
            #expect(throws: BatchDecoder.Failure.malformed) {
                try decoder.decode(raw, header: header) { _, _ in }
            }
            #expect(!decoder.hasState)
        }
    }
}
