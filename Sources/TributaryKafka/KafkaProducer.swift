import CRdKafka
import Dispatch
import Synchronization
import TributaryCore

/// One librdkafka producer and the thread of its own that both produces
/// its records and polls it, which is where librdkafka calls back: a
/// delivery report per record, errors, statistics. One thread for both
/// keeps each record's memory on the thread that made it (a record freed
/// on another thread than the one that made it contended for glibc's
/// allocator: a third of the sink's time). When librdkafka says a producer
/// must go (a fatal error of the idempotent producer), its owner closes it
/// and makes another.
final class KafkaProducer: Sendable {
    /// One delivery's records, to be produced on the producer's thread.
    struct Job: Sendable {
        var tracked: PendingDelivery
        var records: RecordMaker
        var topic: String
    }

    /// What the producer tells its owner, on the producer's thread.
    struct Callbacks: Sendable {
        /// `count` records of a job went to librdkafka.
        var produced: @Sendable (Int) -> Void
        /// The last `count` records of a job could not be produced, for `error`.
        var notProduced: @Sendable (PendingDelivery, KafkaError, Int) -> Void
        /// A record's delivery report: the opaque given to `produce`, and its error (`NO_ERROR`: acknowledged).
        var delivered: @Sendable (UnsafeMutableRawPointer?, rd_kafka_resp_err_t) -> Void
        /// An error: librdkafka's code, its words, and whether it is fatal (the producer must be replaced).
        var error: @Sendable (rd_kafka_resp_err_t, String, Bool) -> Void
        /// librdkafka's statistics, as JSON.
        var statistics: @Sendable ([UInt8]) -> Void
        /// A line librdkafka logs, with its syslog level.
        var log: @Sendable (Int32, String) -> Void
    }

    /// The callbacks, where librdkafka's C callbacks find them (the configuration's opaque).
    private final class Box: Sendable {
        let callbacks: Callbacks
        init(_ callbacks: Callbacks) { self.callbacks = callbacks }
    }

    private nonisolated(unsafe) let handle: OpaquePointer
    private let box: Box
    /// Topic handles by name, made once each (looking a topic up by name per record costs a lock and a hash).
    private let topics = Mutex<[String: SendablePointer]>([:])
    private let polling = Atomic(true)
    private let pollerDone = DispatchSemaphore(value: 0)
    /// Jobs waiting for the producer's thread, and whether it still takes them.
    private let jobs = Mutex<(waiting: [Job], open: Bool)>(([], true))
    private let closed = Atomic(false)

    private struct SendablePointer: @unchecked Sendable {
        var pointer: OpaquePointer
    }

    /// Makes the producer from `properties` and starts polling it.
    /// - Throws: `KafkaError.configuration` when librdkafka refuses a
    ///   property or their combination, in its words.
    init(properties: [KafkaSinkSettings.Property], name: String, callbacks: Callbacks) throws {
        let conf = rd_kafka_conf_new()!
        for property in properties {
            if let problem = LibrdkafkaConfiguration.set(conf, property.name, property.value) {
                rd_kafka_conf_destroy(conf)
                throw KafkaError.configuration(property: property.name, reason: problem)
            }
        }
        let box = Box(callbacks)
        self.box = box
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(box).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message, let opaque else { return }
            Unmanaged<Box>.fromOpaque(opaque).takeUnretainedValue().callbacks
                .delivered(message.pointee._private, message.pointee.err)
        }
        rd_kafka_conf_set_error_cb(conf) { handle, number, reason, opaque in
            guard let opaque else { return }
            let code = rd_kafka_resp_err_t(rawValue: number)
            var words = reason.map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(code))
            var fatal = false
            if code == RD_KAFKA_RESP_ERR__FATAL, let handle {
                var buffer = [CChar](repeating: 0, count: 512)
                let original = rd_kafka_fatal_error(handle, &buffer, buffer.count)
                let name = String(cString: rd_kafka_err2name(original))
                words = "fatal: \(name): \(LibrdkafkaConfiguration.text(buffer))"
                fatal = true
            }
            Unmanaged<Box>.fromOpaque(opaque).takeUnretainedValue().callbacks.error(code, words, fatal)
        }
        rd_kafka_conf_set_stats_cb(conf) { _, json, length, opaque in
            guard let opaque, let json else { return 0 }
            let bytes = [UInt8](UnsafeRawBufferPointer(start: json, count: length))
            Unmanaged<Box>.fromOpaque(opaque).takeUnretainedValue().callbacks.statistics(bytes)
            return 0  // librdkafka frees the JSON
        }
        rd_kafka_conf_set_log_cb(conf) { handle, level, facility, text in
            guard let handle, let opaque = rd_kafka_opaque(handle) else { return }
            let line = "\(facility.map { String(cString: $0) } ?? ""): \(text.map { String(cString: $0) } ?? "")"
            Unmanaged<Box>.fromOpaque(opaque).takeUnretainedValue().callbacks.log(level, line)
        }
        var error = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &error, error.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError.configuration(property: nil, reason: LibrdkafkaConfiguration.text(error))
        }
        self.handle = handle
        do {
            try DedicatedThread.start(name: "kafka-\(name)") { [self] in
                while polling.load(ordering: .acquiring) {
                    let taken = jobs.withLock { jobs in
                        defer { jobs.waiting.removeAll(keepingCapacity: true) }
                        return jobs.waiting
                    }
                    for job in taken { produce(job) }
                    // Reports, errors, statistics; `submit` cuts the wait short.
                    rd_kafka_poll(self.handle, taken.isEmpty ? 100 : 0)
                }
                pollerDone.signal()
            }
        } catch {
            rd_kafka_destroy(handle)
            throw error
        }
    }

    /// Queues `job` for the producer's thread; false once the producer is closed.
    func submit(_ job: Job) -> Bool {
        let taken = jobs.withLock { jobs in
            if jobs.open { jobs.waiting.append(job) }
            return jobs.open
        }
        if taken { rd_kafka_yield(handle) }
        return taken
    }

    /// How long a job waits for room when librdkafka's queue is full before the rest of it fails.
    private static let queueFullWait: Duration = .seconds(1)

    /// Produces a job's records, on the producer's thread; when librdkafka's
    /// queue is full, polls (its reports make room) for up to `queueFullWait`.
    private func produce(_ job: Job) {
        let topic = topicHandle(job.topic)
        let count = job.records.count
        var index = 0
        var waitedSince: ContinuousClock.Instant?
        while index < count {
            let code = job.records.produce(index, to: handle, topic: topic,
                                           opaque: Unmanaged.passRetained(job.tracked).toOpaque())
            if code == RD_KAFKA_RESP_ERR_NO_ERROR {
                index += 1
                continue
            }
            Unmanaged.passUnretained(job.tracked).release()  // no report will come for it
            let now = ContinuousClock.now
            if code == RD_KAFKA_RESP_ERR__QUEUE_FULL, now - (waitedSince ?? now) < Self.queueFullWait {
                waitedSince = waitedSince ?? now
                rd_kafka_poll(handle, 10)
                continue
            }
            box.callbacks.produced(index)
            let error = KafkaError.produce(topic: job.topic, code: String(cString: rd_kafka_err2name(code)),
                                           reason: String(cString: rd_kafka_err2str(code)))
            box.callbacks.notProduced(job.tracked, error, count - index)
            return
        }
        box.callbacks.produced(count)
    }

    /// The handle of topic `name`; valid until `close`.
    private func topicHandle(_ name: String) -> OpaquePointer {
        topics.withLock { topics in
            if let known = topics[name] { return known.pointer }
            let made = rd_kafka_topic_new(handle, name, nil)!
            topics[name] = SendablePointer(pointer: made)
            return made
        }
    }

    /// The producer's thread holds the producer until this is called.
    /// Stops polling, waits up to `flush` for what is in flight (its
    /// reports arrive meanwhile), purges the rest (each purged record is
    /// reported failed) and destroys the producer. Blocks: not for the
    /// cooperative pool. Returns whether every record produced has had its
    /// report (false only if librdkafka held some past a 5 s deadline).
    @discardableResult
    func close(flush: Duration) -> Bool {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return true }
        polling.store(false, ordering: .releasing)
        rd_kafka_yield(handle)
        pollerDone.wait()
        // Jobs the thread never took: none of their records went.
        let left = jobs.withLock { jobs in
            jobs.open = false
            return jobs.waiting
        }
        for job in left {
            box.callbacks.notProduced(job.tracked, .noProducer(reason: "the producer was closed"), job.records.count)
        }
        if flush > .zero { _ = rd_kafka_flush(handle, Int32(flush.milliseconds)) }
        _ = rd_kafka_purge(handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        // The purged records' reports, each failed.
        let deadline = ContinuousClock.now + .seconds(5)
        while rd_kafka_outq_len(handle) > 0, ContinuousClock.now < deadline { rd_kafka_poll(handle, 50) }
        let complete = rd_kafka_outq_len(handle) == 0
        for topic in topics.withLock({ $0.values }) { rd_kafka_topic_destroy(topic.pointer) }
        rd_kafka_destroy(handle)
        return complete
    }
}

/// Setting librdkafka properties, and librdkafka's words when it refuses one.
enum LibrdkafkaConfiguration {
    /// Sets `name` to `value` in `conf`; nil when librdkafka took it, else its reason.
    static func set(_ conf: OpaquePointer, _ name: String, _ value: String) -> String? {
        var error = [CChar](repeating: 0, count: 512)
        guard rd_kafka_conf_set(conf, name, value, &error, error.count) == RD_KAFKA_CONF_OK else { return text(error) }
        return nil
    }

    /// A C string in a buffer librdkafka filled.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
