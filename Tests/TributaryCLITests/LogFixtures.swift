import TributaryLog
import TributaryTestSupport

/// Writes and reads logs in-process with the engine, so the CLI is checked
/// against the engine's own view rather than against its own output.
enum LogFixtures {
    /// Appends `readings` to `topic`, each to its sensor's partition as
    /// `tributary log append` routes them, and closes the log.
    static func write(_ readings: [Reading], to directory: String, topic: String, partitions: Int) throws {
        var configuration = LogConfiguration(directory: directory)
        configuration.flush = .everyBatch
        let log = try Log.open(configuration)
        let targets = try log.topic(topic, creatingWith: partitions)
        var routed = Array(repeating: [Reading](), count: partitions)
        for reading in readings {
            routed[Log.partition(forSensor: reading.sensor, partitions: partitions)].append(reading)
        }
        for (partition, batch) in zip(targets, routed) where !batch.isEmpty { try partition.append(batch) }
        try log.close()
    }

    /// Every reading of `topic`, per partition, read back read-only.
    static func read(_ directory: String, topic: String) throws -> [[StoredReading]] {
        let log = try Log.open(LogConfiguration(directory: directory), readOnly: true)
        return try (log.partitions(of: topic) ?? []).map { try $0.readAll().readings }
    }

    /// A deterministic generator (xorshift64), so a failure can be reproduced.
    struct Xorshift: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    /// Every value type with its edge cases, many sensors in one batch, and
    /// timestamps across the whole Int64 range.
    static func edgeCases(seed: UInt64) -> [Reading] {
        var random = Xorshift(state: seed)
        let doubles: [Double] = [
            0, -0.0, 1, -1, 0.1, 21.5, 1e-300, -1e300, .pi, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
            .leastNonzeroMagnitude, .leastNormalMagnitude, .infinity, -.infinity, .nan, -.nan,
            Double(bitPattern: 0x7FF8_0000_0000_0001), Double(bitPattern: 0x7FF0_0000_0000_0001),
            Double(bitPattern: 0xFFF8_0000_0000_0000), Double(bitPattern: 0xFFFF_FFFF_FFFF_FFFF),
        ] + (0..<200).map { _ in Double(bitPattern: random.next()) }
        let ints: [Int64] = [0, 1, -1, .max, .min, .max - 1, .min + 1, 1 << 53, -(1 << 53) - 1]
            + (0..<50).map { _ in Int64(bitPattern: random.next()) }
        let strings = ["", "ok", "ünïcødé 😀 中文 עברית", "quote \" backslash \\ slash /", "\n\r\t\u{0}\u{1}\u{7F}\u{1F}",
                       "\u{2028}\u{2029}\u{FEFF}", String(repeating: "long ", count: 4000), "{\"json\": [1, 2]}"]
        let byteValues: [[UInt8]] = [[], [0], [0xFF], Array(0...255), (0..<1000).map { _ in UInt8.random(in: 0...255, using: &random) }]
        let timestamps: [Int64] = [0, -1, 1, .min, .max, 1_767_225_600_000, -62_135_596_800_000, 253_402_300_799_999]
        var values: [Value] = doubles.map(Value.double) + ints.map(Value.int) + [.bool(true), .bool(false)]
        values += strings.map(Value.string) + byteValues.map(Value.bytes)
        let sensors = (0..<200).map { "sensor-\($0)" } + ["", "ü/温度", "with space", "a\"b\\c"]
        return values.enumerated().map { i, value in
            Reading(sensor: sensors[i % sensors.count], timestamp: timestamps[i % timestamps.count], value: value)
        }
    }
}
