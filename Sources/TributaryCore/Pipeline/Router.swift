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
        try handOver(route(readings, to: topic), untilWritten: untilWritten)
    }

    /// Hands each group (from `route`) to its writer in turn, calling
    /// `accepted` with each group a writer took; stops at the first refusal.
    /// With `untilWritten`, every group is queued before waiting, so the
    /// writers write them in parallel, and it returns (or throws) once all
    /// the groups taken are written.
    func handOver(_ groups: [(PartitionWriter, [Reading])], untilWritten: Bool,
                  accepted: ([Reading]) -> Void = { _ in }) throws {
        let written = DispatchGroup()
        var failure: (any Error)?
        for (writer, group) in groups {
            do {
                if untilWritten {
                    written.enter()
                    try writer.handOver(group, whenWritten: { written.leave() })
                } else {
                    try writer.handOver(group)
                }
            } catch {
                if untilWritten { written.leave() }
                failure = error
                break
            }
            accepted(group)
        }
        written.wait()
        if let failure { throw failure }
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
