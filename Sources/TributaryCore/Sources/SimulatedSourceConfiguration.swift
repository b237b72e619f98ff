/// Settings of a `type = "sim"` source: sensors that make up readings.
public struct SimulatedSourceConfiguration: SourceSettings {
    public static let type = "sim"

    /// The waveform a simulated sensor follows.
    public enum Shape: String, Sendable, CaseIterable {
        case sine, square, sawtooth, constant
        /// Each reading a small random step from the last.
        case randomWalk = "random-walk"
        /// Independent random values.
        case noise
    }

    /// `sensors`: how many sensors, 1 to 100000.
    public var sensors = 4
    /// `rate`: readings per second per sensor (> 0, at most 100000).
    public var readingsPerSecond = 1.0
    /// `signals`: shapes assigned to sensors in turn.
    public var shapes: [Shape] = [.sine]
    /// `period`: of the periodic shapes.
    public var periodMilliseconds: Int64 = 60_000
    /// `seed`: for reproducible random shapes; nil means a new seed per run.
    public var seed: UInt64?

    /// The defaults: 4 sine sensors at 1 reading per second.
    public init() {}

    public var summary: String { "\(sensors) sensors at \(readingsPerSecond)/s" }

    public func makeSource(name: String, context: PluginContext) -> any Source {
        SimulatedSource(name: name, configuration: self)
    }

    public static func read(_ table: TableReader) -> SimulatedSourceConfiguration? {
        var sim = SimulatedSourceConfiguration()
        sim.sensors = table.integer("sensors", in: 1...100_000, expected: "a number of sensors from 1 to 100000")
            ?? sim.sensors
        sim.readingsPerSecond = table.number(
            "rate", in: 0.001...100_000,
            expected: "a number of readings per second like 10 or 0.5 (0.001 to 100000)") ?? sim.readingsPerSecond
        let names = Shape.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        if let signals = table.strings("signals", expected: "signal shapes among \(names)") {
            var shapes: [Shape] = []
            for (index, signal) in signals.enumerated() {
                if let shape = Shape(rawValue: signal) {
                    shapes.append(shape)
                } else {
                    table.report("signals", index: index, "expected one of \(names), found \"\(signal)\"")
                }
            }
            if signals.isEmpty { table.report("signals", "expected at least one of \(names), found []") }
            if !shapes.isEmpty { sim.shapes = shapes }
        }
        sim.periodMilliseconds = table.milliseconds("period") ?? sim.periodMilliseconds
        if let seed = table.integer("seed", in: 0...Int.max, expected: "a non-negative whole number") {
            sim.seed = UInt64(seed)
        }
        return sim
    }
}
