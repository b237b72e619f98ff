import CRdKafka
import Dispatch
import Synchronization
import TributaryCore

/// A `type = "kafka"` sink: produces every reading of its topics to a
/// central Kafka cluster through librdkafka's idempotent producer
/// (`acks=all`), one record per reading, keyed by its sensor id (so one
/// sensor stays in one Kafka partition, in order), with its identity in
/// headers: `device`, `topic`, `partition`, `offset` (what a consumer drops
/// repeats by) and `content-type`.
///
/// A delivery is acknowledged once librdkafka reported every one of its
/// records delivered; any record's failure (message timeout, a refusal, a
/// purge) fails the delivery, and the forwarder sends it again from the log.
/// librdkafka holds at most the forwarder's window of deliveries (8 times
/// `max_batch` records): through an outage the backlog stays in the log.
/// A fatal error of the producer replaces it with a new one; what the old
/// one held is failed and sent again.
public final class KafkaSink: Sink, Sendable {
    public let name: String
    /// Deliveries in flight: enough to keep librdkafka's batches full while the next is read
    /// (8 of max_batch, 10,000 by default, stay under librdkafka's queue of 100,000).
    public let window = 8
    private let settings: KafkaSinkSettings
    private let properties: [KafkaSinkSettings.Property]
    private let topics: TopicTemplate
    private let logger: Logger
    /// The producer; nil before `start`, after `stop`, or when a new one could not be made.
    private let producer = Mutex<KafkaProducer?>(nil)
    private let replacing = Atomic(false)
    private let stopped = Atomic(false)
    /// Whether `State.problem` is set: read at every record's report, so without the lock.
    private let hasProblem = Atomic(false)
    /// Deliveries with records in librdkafka, so that none is forgotten when a producer goes.
    private let pending = Mutex<[ObjectIdentifier: PendingDelivery]>([:])
    private let state = Mutex(State())
    private let produced = Atomic<Int64>(0)
    private let acknowledged = Atomic<Int64>(0)
    private let failed = Atomic<Int64>(0)

    private struct State {
        /// librdkafka's last error since the last record delivered.
        var problem: String?
        /// When a librdkafka error was last logged as a warning.
        var warned: ContinuousClock.Instant?
        var statistics = KafkaStatistics()
        /// Counters of the producers replaced, so the totals do not go back.
        var earlier = KafkaStatistics()
        var replacements: Int64 = 0
    }

    /// While the link stays down, how often one of librdkafka's errors is logged as a warning.
    private static let warningInterval: Duration = .seconds(60)
    /// How long `stop` lets librdkafka deliver what it holds.
    private static let flushTime: Duration = .seconds(2)

    init(name: String, settings: KafkaSinkSettings, context: PluginContext) throws {
        self.name = name
        self.settings = settings
        self.properties = settings.properties(clientID: "tributary-\(context.deviceID)-\(name)")
        self.topics = TopicTemplate(settings.topicTemplate)
        var logger = context.logger
        logger[metadataKey: "sink"] = "\(name)"
        self.logger = logger
    }

    public func start() async throws {
        let made = try makeProducer()
        producer.withLock { $0 = made }
    }

    private func makeProducer() throws -> KafkaProducer {
        let callbacks = KafkaProducer.Callbacks(
            produced: { [weak self] count in self?.produced.add(Int64(count), ordering: .relaxed) },
            notProduced: { [weak self] tracked, error, count in self?.notProduced(tracked, error, records: count) },
            delivered: { [weak self] opaque, code in self?.delivered(opaque, code) },
            error: { [weak self] code, reason, fatal in self?.librdkafkaError(code, reason, fatal: fatal) },
            statistics: { [weak self] json in
                guard let figures = KafkaStatistics(json: json) else { return }
                self?.state.withLock { $0.statistics = figures }
            },
            log: { [logger] level, line in
                // Errors come through the error callback too; the rest is detail.
                logger.debug("librdkafka: \(line)", metadata: ["level": "\(level)"])
            })
        return try KafkaProducer(properties: properties, name: name, callbacks: callbacks)
    }

    /// A new producer in place of one that went, or nil (logged) when librdkafka will not make one now.
    private func remake() -> KafkaProducer? {
        do {
            return try makeProducer()
        } catch {
            logger.error("cannot make a Kafka producer; trying again with the next delivery", metadata: [
                "error": "\(error)",
            ])
            state.withLock { $0.problem = "\(error)" }
            hasProblem.store(true, ordering: .relaxed)
            return nil
        }
    }

    public func send(_ delivery: Delivery) async throws {
        let batch = delivery.batch
        guard !batch.readings.isEmpty else {
            delivery.acknowledge()
            return
        }
        let topic = TopicTemplate.topic(topics.resolved(device: batch.deviceID, topic: batch.topic,
                                                        partition: batch.partition), sensor: "")
        let tracked = PendingDelivery(delivery, records: batch.readings.count, topic: topic)
        pending.withLock { $0[ObjectIdentifier(tracked)] = tracked }
        let job = KafkaProducer.Job(tracked: tracked, records: RecordMaker(batch: batch, settings: settings),
                                    topic: topic)
        let submitted = producer.withLock { producer -> Bool in
            if producer == nil, !stopped.load(ordering: .acquiring) { producer = remake() }
            return producer?.submit(job) ?? false
        }
        if !submitted {
            notProduced(tracked, .noProducer(reason: state.withLock { $0.problem } ?? "the sink is stopping"),
                        records: batch.readings.count)
        }
    }

    /// Counts `records` records of `tracked` that never went to librdkafka as failed.
    private func notProduced(_ tracked: PendingDelivery, _ error: KafkaError, records: Int) {
        if tracked.report(.failure(error), records: records) { settle(tracked) }
    }

    /// A record's delivery report, on the producer's thread.
    private func delivered(_ opaque: UnsafeMutableRawPointer?, _ code: rd_kafka_resp_err_t) {
        guard let opaque else { return }
        let tracked = Unmanaged<PendingDelivery>.fromOpaque(opaque).takeRetainedValue()
        let outcome: PendingDelivery.Report
        if code == RD_KAFKA_RESP_ERR_NO_ERROR {
            acknowledged.add(1, ordering: .relaxed)
            outcome = .success
            if hasProblem.load(ordering: .relaxed) { clearProblem() }
        } else {
            failed.add(1, ordering: .relaxed)
            outcome = .failure(.delivery(topic: tracked.topic, code: String(cString: rd_kafka_err2name(code)),
                                         reason: String(cString: rd_kafka_err2str(code))))
        }
        if tracked.report(outcome, records: 1) { settle(tracked) }
    }

    /// Reports a delivery whose records have all been reported.
    private func settle(_ tracked: PendingDelivery) {
        pending.withLock { $0[ObjectIdentifier(tracked)] = nil }
        tracked.settle()
    }

    private func clearProblem() {
        let was = state.withLock { state -> String? in
            defer {
                state.problem = nil
                state.warned = nil
                hasProblem.store(false, ordering: .relaxed)
            }
            return state.problem
        }
        if was != nil { logger.notice("Kafka takes records again") }
    }

    /// An error librdkafka reports (on the poll thread): shown as the sink's
    /// problem until a record is delivered; logged as a warning when the
    /// link was fine, else at most every `warningInterval` (librdkafka
    /// reports every failed reconnection).
    private func librdkafkaError(_ code: rd_kafka_resp_err_t, _ reason: String, fatal: Bool) {
        let now = ContinuousClock.now
        let warn = state.withLock { state -> Bool in
            defer {
                state.problem = reason
                hasProblem.store(true, ordering: .relaxed)
            }
            guard state.problem == nil || state.warned.map({ now - $0 >= Self.warningInterval }) ?? true else {
                return false
            }
            state.warned = now
            return true
        }
        let metadata: Logger.Metadata = ["error": "\(String(cString: rd_kafka_err2name(code)))"]
        if warn || fatal {
            logger.warning("Kafka: \(reason)", metadata: metadata)
        } else {
            logger.debug("Kafka: \(reason)", metadata: metadata)
        }
        if fatal { replaceProducer(because: reason) }
    }

    /// Replaces a producer librdkafka declared dead with a new one (on a
    /// thread of its own: the old one's closing waits for its thread, which
    /// is where this is called from). What the old one held fails.
    private func replaceProducer(because reason: String) {
        guard !replacing.exchange(true, ordering: .acquiringAndReleasing) else { return }
        DispatchQueue.global().async { [self] in
            defer { replacing.store(false, ordering: .releasing) }
            let old = producer.withLock { current -> KafkaProducer? in
                defer { current = stopped.load(ordering: .acquiring) ? nil : remake() }
                return current
            }
            if old?.close(flush: .zero) == false { failPending() }
            state.withLock { state in
                state.replacements += 1
                state.earlier.retries += state.statistics.retries
                state.earlier.errors += state.statistics.errors
                state.earlier.bytesSent += state.statistics.bytesSent
                state.earlier.recordsSent += state.statistics.recordsSent
                state.statistics = KafkaStatistics()
            }
            logger.notice("made a new Kafka producer; the old one's records are sent again", metadata: [
                "reason": "\(reason)",
            ])
        }
    }

    /// Fails every delivery still pending: a producer went without reporting all its records.
    private func failPending() {
        let left = pending.withLock { pending in
            defer { pending.removeAll() }
            return Array(pending.values)
        }
        for tracked in left { tracked.fail(.noProducer(reason: "the producer holding its records was closed")) }
    }

    public func stop() async {
        // Closing joins the producer's thread and flushes: blocking, so not on the cooperative pool.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { [self] in
                stopped.store(true, ordering: .releasing)
                let current = producer.withLock { current in
                    defer { current = nil }
                    return current
                }
                current?.close(flush: Self.flushTime)
                failPending()
                done.resume()
            }
        }
    }

    public var problem: String? { state.withLock { $0.problem } }

    public var statistics: [SinkStatistic] {
        let (now, earlier, replacements) = state.withLock { ($0.statistics, $0.earlier, $0.replacements) }
        return [
            SinkStatistic(name: "records_produced_total", value: Double(produced.load(ordering: .relaxed)),
                          help: "Records handed to librdkafka"),
            SinkStatistic(name: "records_acknowledged_total", value: Double(acknowledged.load(ordering: .relaxed)),
                          help: "Records librdkafka reported delivered (acks=all)"),
            SinkStatistic(name: "records_failed_total", value: Double(failed.load(ordering: .relaxed)),
                          help: "Records librdkafka reported not delivered (they are sent again from the log)"),
            SinkStatistic(name: "records_queued", value: Double(now.queued),
                          help: "Records in librdkafka's queues, waiting or in flight"),
            SinkStatistic(name: "brokers_up", value: Double(now.brokersUp),
                          help: "Brokers librdkafka has a connection up to"),
            SinkStatistic(name: "broker_round_trip_seconds", value: now.roundTripSeconds,
                          help: "Mean of the up brokers' average request round-trip times"),
            SinkStatistic(name: "retries_total", value: Double(earlier.retries + now.retries),
                          help: "Requests librdkafka sent again"),
            SinkStatistic(name: "errors_total", value: Double(earlier.errors + now.errors),
                          help: "Requests that failed or timed out"),
            SinkStatistic(name: "bytes_sent_total", value: Double(earlier.bytesSent + now.bytesSent),
                          help: "Bytes sent to the brokers (compressed records and protocol)"),
            SinkStatistic(name: "records_sent_total", value: Double(earlier.recordsSent + now.recordsSent),
                          help: "Records sent to the brokers, each sending of a record again included"),
            SinkStatistic(name: "producer_replacements_total", value: Double(replacements),
                          help: "Producers replaced after a fatal error"),
            SinkStatistic(name: "connected", value: now.brokersUp > 0 && state.withLock({ $0.problem == nil }) ? 1 : 0,
                          help: "1 while a broker is up and the last record went through"),
        ]
    }
}

/// A delivery whose records are in librdkafka: counts their reports and
/// settles the delivery once every record reported.
final class PendingDelivery: Sendable {
    enum Report { case success, failure(KafkaError) }

    let topic: String
    private let delivery: Delivery
    /// Reports still to come; counted without a lock, one report per record.
    private let remaining: Atomic<Int>
    private let firstError = Mutex<KafkaError?>(nil)

    init(_ delivery: Delivery, records: Int, topic: String) {
        self.delivery = delivery
        self.topic = topic
        self.remaining = Atomic(records)
    }

    /// Counts `records` reports of `outcome`; true when none is left to come.
    func report(_ outcome: Report, records: Int) -> Bool {
        if case let .failure(error) = outcome {
            firstError.withLock { first in if first == nil { first = error } }
        }
        return remaining.subtract(records, ordering: .acquiringAndReleasing).newValue == 0
    }

    /// Acknowledges the delivery, or fails it with its first record's error.
    func settle() {
        if let error = firstError.withLock({ $0 }) { delivery.fail(error) } else { delivery.acknowledge() }
    }

    func fail(_ error: KafkaError) { delivery.fail(error) }
}
