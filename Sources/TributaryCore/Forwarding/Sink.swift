/// Where stored readings are forwarded: the central Kafka cluster, an MQTT
/// broker, standard output. One value per configured `[[sinks]]`.
///
/// The sink's forwarder reads the log ahead, many on-disk batches per
/// `Delivery`, and keeps up to `window` deliveries in flight. The sink
/// reports each delivery's outcome through the delivery itself, from any
/// thread, as the upstream answers (a librdkafka delivery report, an MQTT
/// PUBACK, a completed write), in any order. Per partition, the forwarder
/// commits only over the contiguous run of acknowledged deliveries; a failed
/// one is sent again from its first offset (at-least-once: records carry
/// device, topic, partition and offset so the central side can drop repeats).
///
/// Lifecycle: `start` before the first `send`, `stop` after the last outcome
/// the forwarder waits for; both are called by the forwarder, once.
public protocol Sink: Sendable {
    /// The configured name; it also names the sink's committed offsets on disk.
    var name: String { get }

    /// Deliveries the sink may hold unacknowledged at once (at least 1). The
    /// forwarder's memory for the sink is bounded by this times `max_batch`,
    /// plus at most one on-disk batch read ahead per partition.
    var window: Int { get }

    /// Starts the sink's own machinery (a client's network thread, a worker
    /// for blocking writes). Throwing stops the daemon's start-up.
    func start() async throws

    /// Takes `delivery` for sending and returns without waiting for the
    /// upstream: its outcome is reported later through
    /// `delivery.acknowledge()` or `delivery.fail(_:)`, exactly once.
    /// May suspend briefly while the client's own queue is full, and must
    /// return promptly when its task is cancelled. Throwing fails the
    /// delivery (the sink then reports nothing for it).
    func send(_ delivery: Delivery) async throws

    /// Flushes what is in flight as far as the upstream allows (briefly: the
    /// daemon's stop is bounded), reporting the outcomes, and releases the
    /// sink's machinery. Called once, after the forwarder stopped sending.
    func stop() async

    /// The sink's own figures (messages published, reconnects, its client's
    /// connection), shown in `/status` and exported as
    /// `tributary_sink_<name>` with the sink's name as a label. Read often:
    /// it must be quick and must not block.
    var statistics: [SinkStatistic] { get }

    /// Why the sink cannot deliver now, in its client's words (no broker
    /// reachable, authentication refused), nil while it can. A client that
    /// holds deliveries through an outage (librdkafka retries them until
    /// its message timeout) fails none meanwhile, so without this the
    /// status would show the link up. Read often: quick, never blocking.
    var problem: String? { get }
}

extension Sink {
    public var window: Int { 1 }
    public func start() async throws {}
    public func stop() async {}
    public var statistics: [SinkStatistic] { [] }
    public var problem: String? { nil }
}

/// One figure of a sink's own, such as the messages its client published.
public struct SinkStatistic: Sendable, Codable, Equatable {
    /// Lower-case words joined by `_`, like `messages_published_total`; a
    /// counter's name ends in `_total`.
    public var name: String
    public var value: Double
    /// What it counts, for the metrics' HELP line.
    public var help: String

    public init(name: String, value: Double, help: String) {
        self.name = name
        self.value = value
        self.help = help
    }

    /// A counter only goes up while the daemon runs.
    public var isCounter: Bool { name.hasSuffix("_total") }
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
