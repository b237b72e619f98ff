import CMosquitto
import Dispatch
import Synchronization
import TributaryCore

/// A `type = "mqtt"` sink: publishes every reading of its topics to a
/// central MQTT broker (MQTT v5, through libmosquitto) at QoS 1 unless told
/// otherwise: one JSON message per reading, or a delivery's readings in one
/// message (a JSON array, or line protocol).
///
/// A delivery is acknowledged once the broker acknowledged every one of its
/// messages (PUBACK at QoS 1, PUBCOMP at QoS 2, sent at QoS 0); a refusal
/// (an MQTT v5 reason code of 0x80 or more) fails it. While the broker is
/// unreachable `send` fails at once, so the backlog stays in the log, not in
/// the client's memory; when the connection drops, every delivery in flight
/// fails and goes out again after the reconnect. Every message carries its
/// identity (device, topic, partition, offset) in its payload and as user
/// properties, so the central side can drop repeats.
///
/// The sink hands libmosquitto at most `max_inflight` messages at a time
/// and keeps the rest of its deliveries' messages itself, live deliveries
/// ahead of backfill ones: a new reading does not queue behind a backlog
/// in libmosquitto's own first-come queue.
public final class MQTTSink: Sink, Sendable {
    public let name: String
    /// Deliveries in flight: enough to keep `max_inflight` messages going while the next is read.
    public let window = 4
    private let settings: MQTTSinkSettings
    private let topics: TopicTemplate
    private let logger: Logger
    private let client: MosquittoClient
    private let state = Mutex(State())
    /// Whether a thread is handing messages to libmosquitto (`pump`), and whether another asked for it meanwhile.
    private let pumping = Atomic(false)
    private let pumpRequested = Atomic(false)

    /// A delivery whose messages are not all handed to libmosquitto yet.
    /// Messages are made when they are published, so a delivery waiting
    /// here costs its readings, not their JSON too.
    private struct Outgoing {
        var delivery: Delivery
        /// `topic_template` filled in for the delivery's batch, but for the sensor.
        var topicPieces: [String?]
        /// The identity every message of the delivery shares: device, topic and partition.
        var identity: [(String, String)]
        var messages: Int
        var next = 0
    }

    /// One message to make and publish: the `index`th of `outgoing`'s delivery.
    private struct Next {
        var delivery: Delivery
        var topicPieces: [String?]
        var identity: [(String, String)]
        var index: Int
    }

    /// The buffer messages are made in; only the thread holding `pumping` touches it.
    private final class Scratch: @unchecked Sendable {
        var payload: [UInt8] = []
    }

    private let scratch = Scratch()

    private struct State {
        var connected = false
        var lastError: String?
        /// Deliveries with messages to publish, in the order sent: live ones, and backfill ones after them.
        var live: [Outgoing] = []
        var backfill: [Outgoing] = []
        /// Messages handed to libmosquitto and not acknowledged yet.
        var inFlight = 0
        /// The delivery each message in flight belongs to.
        var deliveries: [Int32: Delivery] = [:]
        /// Per delivery in flight: its messages not acknowledged yet.
        var remaining: [ObjectIdentifier: Int] = [:]
        /// True while `pump` is inside a publish call: an acknowledgement
        /// may come back before the call has returned the message's id.
        var publishing = false
        /// Acknowledgements (reason codes by message id) that came back during the publish call.
        var early: [Int32: Int32] = [:]
        var published: Int64 = 0
        var acknowledged: Int64 = 0
        var refused: Int64 = 0
        var connects: Int64 = 0
        /// `start` waiting for the broker's first answer, by id.
        var startWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        var answered = false

        /// The next message to publish, live deliveries first.
        mutating func takeNext() -> Next? {
            if let next = Self.take(from: &live) { return next }
            return Self.take(from: &backfill)
        }

        private static func take(from queue: inout [Outgoing]) -> Next? {
            guard !queue.isEmpty else { return nil }
            let next = Next(delivery: queue[0].delivery, topicPieces: queue[0].topicPieces, identity: queue[0].identity,
                            index: queue[0].next)
            queue[0].next += 1
            if queue[0].next == queue[0].messages { queue.removeFirst() }
            return next
        }

        /// Forgets everything in flight and queued; returns the deliveries concerned, once each.
        mutating func dropAll() -> [Delivery] {
            var seen = Set<ObjectIdentifier>()
            let all = Array(deliveries.values) + (live + backfill).map(\.delivery)
            deliveries.removeAll()
            remaining.removeAll()
            live.removeAll()
            backfill.removeAll()
            inFlight = 0
            return all.filter { seen.insert(ObjectIdentifier($0)).inserted }
        }

        /// Forgets `delivery` (failed): its messages still queued and its count.
        mutating func drop(_ delivery: Delivery) {
            let key = ObjectIdentifier(delivery)
            remaining[key] = nil
            live.removeAll { ObjectIdentifier($0.delivery) == key }
            backfill.removeAll { ObjectIdentifier($0.delivery) == key }
        }
    }

    public var statistics: [SinkStatistic] {
        state.withLock { state in
            [SinkStatistic(name: "messages_published_total", value: Double(state.published),
                           help: "Messages handed to the MQTT client"),
             SinkStatistic(name: "messages_acknowledged_total", value: Double(state.acknowledged),
                           help: "Messages the MQTT broker acknowledged (PUBACK at QoS 1)"),
             SinkStatistic(name: "messages_refused_total", value: Double(state.refused),
                           help: "Messages the MQTT broker refused (MQTT v5 reason code 0x80 or more)"),
             SinkStatistic(name: "messages_in_flight", value: Double(state.inFlight),
                           help: "Messages published and not acknowledged by the MQTT broker yet"),
             SinkStatistic(name: "messages_queued", value: Double((state.live + state.backfill).reduce(0) {
                 $0 + $1.messages - $1.next
             }), help: "Messages of deliveries in flight waiting for a place among max_inflight"),
             SinkStatistic(name: "reconnects_total", value: Double(max(0, state.connects - 1)),
                           help: "Connections to the MQTT broker after the first"),
             SinkStatistic(name: "connected", value: state.connected ? 1 : 0,
                           help: "1 while connected to the MQTT broker")]
        }
    }

    public var problem: String? { state.withLock { $0.connected ? nil : $0.lastError } }

    init(name: String, settings: MQTTSinkSettings, context: PluginContext) throws {
        self.name = name
        self.settings = settings
        self.topics = TopicTemplate(settings.topicTemplate)
        var logger = context.logger
        logger[metadataKey: "sink"] = "\(name)"
        self.logger = logger
        let options = MosquittoClient.Options(
            connection: settings.connection,
            clientID: settings.connection.clientID(name: name, deviceID: context.deviceID),
            maxInflight: UInt32(settings.maxInflight))
        // The handler needs the sink; the sink needs the client: bridge through a box filled below.
        let owner = ClientOwner<MQTTSink>()
        self.client = try MosquittoClient(options: options) { event in owner.owner?.handle(event) }
        owner.owner = self
    }

    /// Starts connecting and waits (at most `firstAnswerWait`) for the
    /// broker's answer, so that the first deliveries do not fail (and warn)
    /// for want of a CONNACK that is a moment away.
    public func start() async throws {
        try client.start()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.firstAnswer() }
            group.addTask { try? await Task.sleep(for: Self.firstAnswerWait) }
            await group.next()
            group.cancelAll()
        }
    }

    static let firstAnswerWait: Duration = .seconds(2)

    /// Returns once the broker accepted or refused the first connection, or the task is cancelled.
    private func firstAnswer() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.answered || Task.isCancelled { return true }
                    state.startWaiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.startWaiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Marks the first answer from the broker (or the failure to reach it) and wakes `start`.
    private func answered() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.answered = true
            defer { state.startWaiters.removeAll() }
            return Array(state.startWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    public func send(_ delivery: Delivery) async throws {
        let (connected, lastError) = state.withLock { ($0.connected, $0.lastError) }
        guard connected else {
            throw MQTTError.connection(broker: settings.connection.broker.description,
                                       reason: lastError ?? client.loggedError ?? "not connected yet")
        }
        let batch = delivery.batch
        guard !batch.readings.isEmpty else {
            delivery.acknowledge()
            return
        }
        let outgoing = Outgoing(
            delivery: delivery,
            topicPieces: topics.resolved(device: batch.deviceID, topic: batch.topic, partition: batch.partition),
            identity: [("device", batch.deviceID), ("topic", batch.topic), ("partition", "\(batch.partition)")],
            messages: settings.payload.isBatch ? 1 : batch.readings.count)
        state.withLock { state in
            state.remaining[ObjectIdentifier(delivery)] = outgoing.messages
            if delivery.isBackfill { state.backfill.append(outgoing) } else { state.live.append(outgoing) }
        }
        pump()
    }

    /// Makes message `next` in `scratch.payload` and returns its topic and
    /// identity (for a batch: its first offset and count).
    private func make(_ next: Next) -> (topic: String, properties: [(String, String)]) {
        let batch = next.delivery.batch
        let origin = (device: batch.deviceID, topic: batch.topic)
        scratch.payload.removeAll(keepingCapacity: true)
        var identity = next.identity
        switch settings.payload {
        case .json:
            let stored = batch.readings[next.index]
            ReadingJSON.writeLine(stored, partition: batch.partition, to: &scratch.payload, origin: origin)
            scratch.payload.removeLast()  // the newline
            identity.append(("offset", "\(stored.offset)"))
            return (TopicTemplate.topic(next.topicPieces, sensor: stored.reading.sensor), identity)
        case .jsonBatch:
            scratch.payload.append(UInt8(ascii: "["))
            for stored in batch.readings {
                if scratch.payload.count > 1 { scratch.payload.append(UInt8(ascii: ",")) }
                ReadingJSON.writeLine(stored, partition: batch.partition, to: &scratch.payload, origin: origin)
                scratch.payload.removeLast()
            }
            scratch.payload.append(UInt8(ascii: "]"))
        case .lineProtocol:
            for stored in batch.readings {
                ReadingLineProtocol.writeLine(stored, device: batch.deviceID, topic: batch.topic,
                                              partition: batch.partition, to: &scratch.payload)
            }
        }
        identity += [("offset", "\(batch.readings[0].offset)"), ("count", "\(batch.readings.count)")]
        return (TopicTemplate.topic(next.topicPieces, sensor: ""), identity)
    }

    /// Hands queued messages to libmosquitto while fewer than `max_inflight`
    /// are in flight. Called from `send` and from acknowledgements on the
    /// loop thread; one thread at a time publishes, and a call that finds
    /// another publishing leaves the work to it.
    private func pump() {
        pumpRequested.store(true, ordering: .sequentiallyConsistent)
        while pumpRequested.load(ordering: .sequentiallyConsistent) {
            guard pumping.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged
            else { return }
            pumpRequested.store(false, ordering: .sequentiallyConsistent)
            while let next = state.withLock({ state -> Next? in
                guard state.connected, state.inFlight < settings.maxInflight, let next = state.takeNext() else {
                    return nil
                }
                state.inFlight += 1
                state.publishing = true
                return next
            }) {
                publish(next)
            }
            pumping.store(false, ordering: .sequentiallyConsistent)
        }
    }

    /// Makes and publishes one message; called while holding `pumping`.
    private func publish(_ next: Next) {
        let delivery = next.delivery
        let (topic, properties) = make(next)
        let mid: Int32
        do {
            mid = try client.publish(topic: topic, payload: scratch.payload, qos: Int32(settings.qos),
                                     properties: properties)
        } catch {
            state.withLock { state in
                state.publishing = false
                state.early.removeAll()
                state.inFlight -= 1
                state.drop(delivery)
            }
            delivery.fail(error)
            return
        }
        let early = state.withLock { state -> Int32? in
            defer {
                state.publishing = false
                state.early.removeAll()
            }
            state.deliveries[mid] = delivery
            state.published += 1
            return state.early[mid]
        }
        if let early { handle(.published(mid: mid, reasonCode: early)) }
    }

    public func stop() async {
        // Joining libmosquitto's loop thread blocks: not on the cooperative pool.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { [client] in
                client.stop()
                done.resume()
            }
        }
        // What is still in flight is released unacknowledged: it goes out again at the next start.
        _ = state.withLock { $0.dropAll() }
    }

    /// Runs on libmosquitto's loop thread.
    private func handle(_ event: MosquittoClient.Event) {
        switch event {
        case let .connected(code, reason):
            let wasDown = state.withLock { state -> Bool in
                defer {
                    state.connected = code == 0
                    state.lastError = code == 0 ? nil : reason
                    if code == 0 { state.connects += 1 }
                }
                return !state.connected
            }
            answered()
            if code == 0, wasDown {
                logger.notice("connected to the MQTT broker", metadata: ["broker": "\(settings.connection.broker)"])
            } else if code != 0 {
                logger.warning("the MQTT broker refused the connection", metadata: [
                    "broker": "\(settings.connection.broker)", "reason": "\(reason)",
                ])
            }
        case let .disconnected(code, reason):
            let (failed, news) = state.withLock { state -> ([Delivery], Bool) in
                // Logged when the link goes down or the reason changes, not at every retry.
                let news = state.connected || state.lastError != reason
                state.connected = false
                state.lastError = reason
                return (state.dropAll(), news)
            }
            answered()
            let error = MQTTError.connection(broker: settings.connection.broker.description, reason: reason)
            for delivery in failed { delivery.fail(error) }
            if code != 0, news {
                logger.warning("lost the connection to the MQTT broker; reconnecting", metadata: [
                    "broker": "\(settings.connection.broker)", "reason": "\(reason)",
                ])
            }
        case .message, .subscribed, .unsubscribed:
            break  // the sink subscribes to nothing
        case let .published(mid, reasonCode):
            let outcome = state.withLock { state -> (Delivery, done: Bool)? in
                guard let delivery = state.deliveries.removeValue(forKey: mid) else {
                    // Ours, before `publish` returned its id; or a message dropped at a disconnect.
                    if state.publishing { state.early[mid] = reasonCode }
                    return nil
                }
                state.inFlight -= 1
                if reasonCode >= 0x80 { state.refused += 1 } else { state.acknowledged += 1 }
                let key = ObjectIdentifier(delivery)
                guard let left = state.remaining[key] else { return nil }
                if reasonCode >= 0x80 {
                    state.drop(delivery)
                    return (delivery, false)
                }
                state.remaining[key] = left > 1 ? left - 1 : nil
                return left == 1 ? (delivery, true) : nil
            }
            if let (delivery, done) = outcome {
                if done {
                    delivery.acknowledge()
                } else {
                    delivery.fail(MQTTError.refused(topic: delivery.batch.topic,
                                                    reason: String(cString: mosquitto_reason_string(reasonCode))))
                }
            }
            pump()  // a place among max_inflight is free
        }
    }
}
