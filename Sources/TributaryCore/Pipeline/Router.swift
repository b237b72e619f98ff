import TributaryLog

/// Picks each reading's partition and hands it to that partition's writer.
/// The partition is a stable hash of the sensor id (`Log.partition(forSensor:partitions:)`),
/// so one sensor's readings always land in one partition, in the order sent.
public struct Router: Sendable {
    private let writers: [String: [PartitionWriter]]

    /// `writers`: for each topic, its partitions' writers in partition order.
    public init(writers: [String: [PartitionWriter]]) {
        self.writers = writers
    }

    /// Sends `readings` to `topic`'s writers, suspending while a writer's
    /// queue is full (backpressure reaches the source).
    public func send(_ readings: [Reading], to topic: String) async throws {
        guard let partitions = writers[topic], !partitions.isEmpty else {
            throw PipelineError.unknownTopic(topic)
        }
        if partitions.count == 1 { return try await partitions[0].send(readings) }
        var groups = [[Reading]](repeating: [], count: partitions.count)
        for reading in readings {
            groups[Log.partition(forSensor: reading.sensor, partitions: partitions.count)].append(reading)
        }
        for (index, group) in groups.enumerated() where !group.isEmpty {
            try await partitions[index].send(group)
        }
    }
}
