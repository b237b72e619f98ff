import TributaryLog

/// A `type = "sim"` source: `sensors` simulated sensors, each reporting
/// `rate` readings per second, named `<name>-0`, `<name>-1`, ...
///
/// Readings are stamped on a fixed schedule (round k at start + k / rate),
/// so the values and timestamps do not depend on when the task happens to
/// wake. It wakes at most every 10 ms and sends every round due by then in
/// one group; when the log cannot keep up, backpressure slows it and it
/// catches up in groups of at most 8,192 readings.
public struct SimulatedSource: Source {
    public let name: String
    public let configuration: SimulatedSourceConfiguration

    public init(name: String, configuration: SimulatedSourceConfiguration) {
        self.name = name
        self.configuration = configuration
    }

    private static let minimumWake: Duration = .milliseconds(10)
    private static let maximumGroup = 8_192

    public func run(output: SourceOutput) async throws {
        var sensors = SimulatedSensors(configuration: configuration, prefix: name,
                                       seed: configuration.seed ?? UInt64.random(in: .min ... .max))
        let roundSeconds = 1 / configuration.readingsPerSecond
        let clock = ContinuousClock()
        let start = clock.now
        let startMilliseconds = SystemClock.wallMilliseconds()
        var round: Int64 = 0
        while !Task.isCancelled {
            let elapsed = (clock.now - start).seconds
            let due = Int64(elapsed / roundSeconds) + 1
            var group: [Reading] = []
            group.reserveCapacity(Int(min(due - round, Int64(Self.maximumGroup / configuration.sensors + 1)))
                                  * configuration.sensors)
            while round < due, group.count < Self.maximumGroup {
                let timestamp = startMilliseconds + Int64((Double(round) * roundSeconds * 1000).rounded(.down))
                sensors.appendRound(at: timestamp, to: &group)
                round += 1
            }
            try await output.send(group)
            if round < due { continue }  // behind schedule: catch up without sleeping
            let nextRound = start + .seconds(Double(round) * roundSeconds)
            try await Task.sleep(until: max(nextRound, clock.now + Self.minimumWake), clock: clock)
        }
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
