#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// The sensors of a `sim` source: what each reports at a given moment. Pure
/// and deterministic for a given seed, so the demo and the tests can predict
/// every value; timing (the rate) is the source's job, not this type's.
///
/// Sensor `i` is named `<prefix>-<i>` and follows `shapes[i % shapes.count]`.
/// Values are rounded to two decimals, as a real sensor reports them.
public struct SimulatedSensors: Sendable {
    public let configuration: SimulatedSourceConfiguration
    public let names: [String]
    private var random: SplitMix64
    /// The random walks' current values, per sensor (unused by other shapes).
    private var walks: [Double]

    public init(configuration: SimulatedSourceConfiguration, prefix: String, seed: UInt64) {
        self.configuration = configuration
        self.names = (0..<configuration.sensors).map { "\(prefix)-\($0)" }
        self.random = SplitMix64(seed: seed)
        self.walks = Array(repeating: Self.midpoint, count: configuration.sensors)
    }

    static let midpoint = 20.0
    static let amplitude = 10.0

    /// One reading from every sensor, all stamped `timestamp` (ms since the epoch).
    public mutating func round(at timestamp: Int64) -> [Reading] {
        var readings: [Reading] = []
        readings.reserveCapacity(names.count)
        appendRound(at: timestamp, to: &readings)
        return readings
    }

    /// `round(at:)` appended to `readings`, without an array of its own.
    public mutating func appendRound(at timestamp: Int64, to readings: inout [Reading]) {
        for index in names.indices {
            readings.append(Reading(sensor: names[index], timestamp: timestamp,
                                    value: .double(value(of: index, at: timestamp))))
        }
    }

    private mutating func value(of sensor: Int, at timestamp: Int64) -> Double {
        let period = Double(max(configuration.periodMilliseconds, 1))
        // Where in its period the sensor is, in [0, 1); sensors are spread over the period.
        let position = Double(timestamp) / period + Double(sensor) / Double(names.count)
        let phase = position - position.rounded(.down)  // not fmod: a fifth of the source's time
        let unit: Double
        switch configuration.shapes[sensor % configuration.shapes.count] {
        case .sine: unit = sin(2 * Double.pi * phase)
        case .square: unit = phase < 0.5 ? 1 : -1
        case .sawtooth: unit = 2 * phase - 1
        case .constant: unit = 0
        case .noise: unit = 2 * random.nextUnit() - 1
        case .randomWalk:
            let step = (random.nextUnit() - 0.5) * 0.2 * Self.amplitude
            walks[sensor] = min(Self.midpoint + Self.amplitude, max(Self.midpoint - Self.amplitude, walks[sensor] + step))
            unit = (walks[sensor] - Self.midpoint) / Self.amplitude
        }
        return ((Self.midpoint + Self.amplitude * unit) * 100).rounded() / 100
    }
}

/// SplitMix64: small, fast, and the same on every platform.
struct SplitMix64: Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform number in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
