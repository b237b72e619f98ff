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

    /// Lines formatted per write: bounds the buffer (about 0.7 MiB) however large a batch is.
    private static let linesPerWrite = 4096

    public func deliver(_ batch: SinkBatch) async throws {
        let output = self.output
        var start = batch.readings.startIndex
        while start < batch.readings.endIndex {
            let end = min(start + Self.linesPerWrite, batch.readings.endIndex)
            var lines: [UInt8] = []
            lines.reserveCapacity((end - start) * 180)
            for stored in batch.readings[start..<end] {
                ReadingJSON.writeLine(stored, partition: batch.partition, to: &lines,
                                      origin: (device: batch.deviceID, topic: batch.topic))
            }
            let bytes = lines
            try await worker.perform {
                _ = try bytes.withUnsafeBytes { try output.writeAll($0) }
            }
            start = end
        }
    }
}
