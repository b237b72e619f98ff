import TributaryLog

/// The readings the crash test's writer appends: reading `offset` of
/// partition `partition` is a pure function of (seed, partition, offset), so
/// the test can re-derive every reading in the log whichever run of the
/// writer wrote it and however its batches were cut. Covers every value type
/// and the codec's edge cases: NaN and infinities, -0.0, arbitrary double bit
/// patterns, full-range integers, empty, long and non-ASCII strings and
/// sensor ids, empty and binary bytes, huge and negative timestamps, and
/// sensors that change type.
public enum CrashWorkload {
    public static let topic = "crash"
    public static let partitions = 2

    static let sensors = ["s0", "boiler/temp", "ü-ñ-ß/温度", "x", "pump-7/pressure/with-a-rather-long-sensor-name"]
    static let statuses = ["ok", "warn", "fault", ""]
    static let characters: [Character] = Array("abcXYZ019 -_/.€üß漢😀\"\\\n")
    static let specialDoubles: [Double] = [.nan, -.nan, .signalingNaN, .infinity, -.infinity, -0.0, 0.0,
                                           .leastNonzeroMagnitude, .greatestFiniteMagnitude, .ulpOfOne]

    /// The reading at `offset` of `partition`.
    public static func reading(seed: UInt64, partition: Int, offset: Int64) -> Reading {
        var random = Xorshift64(seed: mix(mix(seed ^ 0x5452_4942) &+ UInt64(partition)) ^ UInt64(bitPattern: offset))
        let sensor = random.integer(in: 0...(sensors.count - 1))
        var timestamp = 1_767_225_600_000 + offset * 10 + Int64(random.integer(in: -3...3))
        switch random.integer(in: 0...199) {
        case 0: timestamp = Int64(bitPattern: random.next())
        case 1: timestamp = -timestamp
        default: break
        }
        // Each sensor mostly keeps one kind, as real ones do, but sometimes changes.
        let kind = random.uniform() < 0.8 ? sensor * 2 % 10 : random.integer(in: 0...9)
        return Reading(sensor: sensors[sensor], timestamp: timestamp, value: value(kind: kind, &random))
    }

    private static func value(kind: Int, _ random: inout Xorshift64) -> Value {
        switch kind {
        case 0, 1: return .double(Double(random.integer(in: -10_000...10_000)) / 10)
        case 2: return .double(Double(bitPattern: random.next()))
        case 3: return .double(specialDoubles[random.integer(in: 0...(specialDoubles.count - 1))])
        case 4: return .int(Int64(random.integer(in: -50...50)))
        case 5: return .int(Int64(bitPattern: random.next()))
        case 6: return .bool(random.uniform() < 0.5)
        case 7: return .string(statuses[random.integer(in: 0...(statuses.count - 1))])
        case 8:
            let length = random.uniform() < 0.9 ? random.integer(in: 0...12) : random.integer(in: 13...300)
            return .string(String((0..<length).map { _ in characters[random.integer(in: 0...(characters.count - 1))] }))
        default:
            return .bytes((0..<random.integer(in: 0...64)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        }
    }

    /// splitmix64's finaliser: nearby seeds give unrelated generators.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
