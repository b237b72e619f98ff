import SystemPackage
import TributaryLog

/// Settings of a `type = "stdout"` sink: it has none of its own.
public struct StdoutSinkSettings: SinkSettings {
    public static let type = "stdout"

    public init() {}

    public static func read(_ table: TableReader) -> StdoutSinkSettings? { StdoutSinkSettings() }

    public var summary: String { "JSON lines on standard output" }

    public func makeSink(name: String, context: PluginContext) -> any Sink {
        StdoutSink(name: name, output: context.standardOutput)
    }
}

/// A `type = "stdout"` sink: each reading as one JSON line (the format of
/// `tributary log dump`, led by the device and topic) on standard output or
/// another file descriptor. A delivery is acknowledged once its lines are
/// written. For the demo, for debugging, and for piping into other tools.
///
/// Lines are formatted and written on a thread of the sink's own (writes to
/// a pipe block while the reader lags), started by `start` and stopped by
/// `stop`; deliveries wait their turn there, `window` at most.
public struct StdoutSink: Sink {
    public let name: String
    public let window = 4
    private let output: FileDescriptor
    private let worker: BlockingWorker

    /// - Parameter output: where the lines go; standard output unless given.
    public init(name: String, output: FileDescriptor = .standardOutput) {
        self.name = name
        self.output = output
        self.worker = BlockingWorker(name: "sink-\(name)")
    }

    /// Lines formatted per write: bounds the buffer (about 0.7 MiB) however large a batch is.
    private static let linesPerWrite = 4096

    public func start() async throws {
        try worker.start()
    }

    public func send(_ delivery: Delivery) async throws {
        let output = self.output
        let accepted = worker.submit {
            do {
                try Self.write(delivery.batch, to: output)
                delivery.acknowledge()
            } catch {
                delivery.fail(error)
            }
        }
        if !accepted { throw PipelineError.workerStopped(name: "sink-\(name)") }
    }

    /// Waits for the deliveries already taken to be written, then ends the
    /// thread. A write wedged on a pipe nobody reads is left behind when the
    /// stop is cancelled (its delivery stays unacknowledged).
    public func stop() async {
        _ = try? await worker.perform {}
        worker.stop()
    }

    private static func write(_ batch: SinkBatch, to output: FileDescriptor) throws {
        var start = batch.readings.startIndex
        var lines: [UInt8] = []
        while start < batch.readings.endIndex {
            let end = min(start + linesPerWrite, batch.readings.endIndex)
            lines.removeAll(keepingCapacity: true)
            lines.reserveCapacity((end - start) * 180)
            for stored in batch.readings[start..<end] {
                ReadingJSON.writeLine(stored, partition: batch.partition, to: &lines,
                                      origin: (device: batch.deviceID, topic: batch.topic))
            }
            _ = try lines.withUnsafeBytes { try output.writeAll($0) }
            start = end
        }
    }
}
