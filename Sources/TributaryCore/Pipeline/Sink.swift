import TributaryLog

/// Where stored readings are forwarded: the central Kafka cluster, an MQTT
/// broker, standard output. One value per configured `[[sinks]]`.
///
/// The sink's forwarder reads the log and calls `deliver` with one batch at
/// a time, in offset order per partition; it commits the sink's offset only
/// after `deliver` returns, so `deliver` must return only once the upstream
/// has acknowledged every reading in the batch (a Kafka delivery report, an
/// MQTT PUBACK, a completed write). Throwing means nothing in the batch
/// counts as delivered: the forwarder sends it again after a pause
/// (at-least-once; records carry device, topic, partition and offset so the
/// central side can drop repeats).
public protocol Sink: Sendable {
    /// The configured name; it also names the sink's committed offsets on disk.
    var name: String { get }

    /// Delivers `batch`, returning once the upstream acknowledged all of it.
    /// Should give up with an error (not hang) when the upstream is gone, and
    /// return promptly when the task is cancelled.
    func deliver(_ batch: SinkBatch) async throws
}

/// Readings of one partition, consecutive in offset order, for a sink.
public struct SinkBatch: Sendable {
    /// The device the readings come from (`device.id`).
    public var deviceID: String
    public var topic: String
    public var partition: Int
    /// Readings with their offsets, ascending; offsets may skip readings the
    /// log lost to damage or retention.
    public var readings: [StoredReading]

    public init(deviceID: String, topic: String, partition: Int, readings: [StoredReading]) {
        self.deviceID = deviceID
        self.topic = topic
        self.partition = partition
        self.readings = readings
    }
}
