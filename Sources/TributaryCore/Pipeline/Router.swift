import Dispatch
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
        for (writer, group) in try route(readings, to: topic) { try await writer.send(group) }
    }

    /// Like `send`, but blocks the calling thread while a writer's queue is
    /// full (and, with `untilWritten`, until the writers have written
    /// them): for client libraries' own threads, never the cooperative pool.
    public func handOver(_ readings: [Reading], to topic: String, untilWritten: Bool = false) throws {
        for (writer, group) in try route(readings, to: topic) {
            guard untilWritten else {
                try writer.handOver(group)
                continue
            }
            let written = DispatchSemaphore(value: 0)
            try writer.handOver(group, whenWritten: { written.signal() })
            written.wait()
        }
    }

    /// `readings` split by partition, each group in the order given.
    func route(_ readings: [Reading], to topic: String) throws -> [(PartitionWriter, [Reading])] {
        guard let partitions = writers[topic], !partitions.isEmpty else {
            throw PipelineError.unknownTopic(topic)
        }
        if partitions.count == 1 { return [(partitions[0], readings)] }
        var groups = [[Reading]](repeating: [], count: partitions.count)
        for reading in readings {
            groups[Log.partition(forSensor: reading.sensor, partitions: partitions.count)].append(reading)
        }
        return groups.indices.filter { !groups[$0].isEmpty }.map { (partitions[$0], groups[$0]) }
    }
}
