import SystemPackage
import TributaryLog

/// A `type = "stdout"` sink: each reading as one JSON line (the format of
/// `tributary log dump`, led by the device and topic) on standard output or
/// another file descriptor. A delivery is acknowledged once its lines are
/// written. For the demo, for debugging, and for piping into other tools.
public struct StdoutSink: Sink {
    public let name: String
    private let output: FileDescriptor
    private let worker: BlockingWorker

    /// - Parameter output: where the lines go; standard output unless given.
    public init(name: String, output: FileDescriptor = .standardOutput) throws {
        self.name = name
        self.output = output
        // Writes to a pipe block while the reader lags: not on the cooperative pool.
        self.worker = try BlockingWorker(name: "sink-\(name)")
    }

    public func deliver(_ batch: SinkBatch) async throws {
        var lines: [UInt8] = []
        lines.reserveCapacity(batch.readings.count * 160)
        for stored in batch.readings {
            ReadingJSON.writeLine(stored, partition: batch.partition, to: &lines,
                                  origin: (device: batch.deviceID, topic: batch.topic))
        }
        let bytes = lines
        let output = self.output
        try await worker.perform {
            _ = try bytes.withUnsafeBytes { try output.writeAll($0) }
        }
    }
}
