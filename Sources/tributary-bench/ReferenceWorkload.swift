import TributaryLog

/// The reference workload of issue 2, generated one second at a time so that
/// 3.6 M (or 10 M) readings never sit in memory together. Deterministic, so
/// its figures can be compared with other stores fed the same data.
///
/// - Sensors s = 0 ..< 1000, with ids "s0" ... "s999", each report once a
///   second for 3,600 s (3.6 M readings). The timestamp of sensor s at second
///   t is 1767225600000 + 1000 t + s ms (2026-01-01T00:00:00Z onwards).
/// - The kind of sensor s is s mod 10:
///   - 0-6, temperature in °C with 0.1 resolution: starts at
///     (150 + s mod 150) / 10; each second it goes down 0.1 if u < 0.2, up
///     0.1 if 0.2 <= u < 0.4, else stays. It is kept as an integer count of
///     tenths and reported as `.double(Double(tenths) / 10)`, exactly the
///     Double a sensor reporting with 0.1 resolution gives when "15.3" is
///     parsed (no accumulated binary rounding error).
///   - 7, counter: `.int`, starts at 0 and adds floor(u * 6) (0...5) each second.
///   - 8, boolean: `.bool`, starts false and flips if u < 0.01.
///   - 9, status: `.string`, one of "ok", "warn", "fault"; starts "ok"; if
///     u < 0.002 a second draw v picks the new status ["ok", "warn",
///     "fault"][floor(v * 3)] (which may be the current one).
/// - Random numbers: xorshift64 (shifts 13, 7, 17; seed 88172645463325252);
///   u is the top 53 bits of a draw / 2^53. One draw per reading, in the order
///   t then s, plus the second draw of a status change, taken right after the
///   first.
/// - Every second, t = 0 included, the draw moves the sensor's state and the
///   reading then reports the new state (so the readings at t = 0 are already
///   one step from the starting values).
///
/// Past t = 3,599 the same rules simply continue: the bulk benchmark runs
/// t = 0 ..< 10,000 for its 10 M-reading throughput and memory figures, and
/// its first 3.6 M readings are exactly the reference workload.
struct ReferenceWorkload {
    static let sensorCount = 1000
    static let referenceSeconds = 3600
    static let startTimestamp: Int64 = 1_767_225_600_000
    static let statuses = ["ok", "warn", "fault"]

    /// The ids are created once: a reading then costs no allocation.
    let sensorIDs: [String] = (0..<sensorCount).map { "s\($0)" }
    /// The next second to generate.
    private(set) var second = 0
    private var random = Xorshift64()
    /// Per sensor: tenths of a degree, counter, boolean (0/1) or status index, by kind.
    private var state: [Int64]

    init() {
        state = (0..<Self.sensorCount).map { s in
            switch s % 10 {
            case 0...6: return Int64(150 + s % 150)
            default: return 0
            }
        }
    }

    /// Replaces `readings` with the next second's 1,000 readings, sensor 0 first.
    mutating func nextSecond(into readings: inout [Reading]) {
        readings.removeAll(keepingCapacity: true)
        let base = Self.startTimestamp + 1000 * Int64(second)
        for s in 0..<Self.sensorCount {
            let u = random.uniform()
            let value: Value
            switch s % 10 {
            case 0...6:
                if u < 0.2 { state[s] -= 1 } else if u < 0.4 { state[s] += 1 }
                value = .double(Double(state[s]) / 10)
            case 7:
                state[s] += Int64(u * 6)
                value = .int(state[s])
            case 8:
                if u < 0.01 { state[s] ^= 1 }
                value = .bool(state[s] == 1)
            default:
                if u < 0.002 { state[s] = Int64(random.uniform() * 3) }
                value = .string(Self.statuses[Int(state[s])])
            }
            readings.append(Reading(sensor: sensorIDs[s], timestamp: base + Int64(s), value: value))
        }
        second += 1
    }
}
