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
/// identity (device, topic, partition, offset) in the JSON body and as user
/// properties, so the central side can drop repeats.
public final class MQTTSink: Sink, Sendable {
    public let name: String
    /// Deliveries in flight: enough to keep `max_inflight` messages going while the next is read.
    public let window = 4
    private let settings: MQTTSinkSettings
    private let deviceID: String
    private let logger: Logger
    private let client: MosquittoClient
    private let state = Mutex(State())

    private struct State {
        var connected = false
        var lastError: String?
        /// The delivery each message in flight belongs to.
        var deliveries: [Int32: Delivery] = [:]
        /// Per delivery in flight: its messages not acknowledged yet.
        var remaining: [ObjectIdentifier: Int] = [:]
        /// True while `send` is inside a publish call: an acknowledgement
        /// may come back before the call has returned the message's id.
        var publishing = false
        /// Acknowledgements (reason codes by message id) that came back during the publish call.
        var early: [Int32: Int32] = [:]
        var published: Int64 = 0
        var acknowledged: Int64 = 0
        var refused: Int64 = 0
        var connects: Int64 = 0
    }

    public var statistics: [SinkStatistic] {
        state.withLock { state in
            [SinkStatistic(name: "messages_published_total", value: Double(state.published),
                           help: "Messages handed to the MQTT client"),
             SinkStatistic(name: "messages_acknowledged_total", value: Double(state.acknowledged),
                           help: "Messages the MQTT broker acknowledged (PUBACK at QoS 1)"),
             SinkStatistic(name: "messages_refused_total", value: Double(state.refused),
                           help: "Messages the MQTT broker refused (MQTT v5 reason code 0x80 or more)"),
             SinkStatistic(name: "messages_in_flight", value: Double(state.deliveries.count),
                           help: "Messages published and not acknowledged by the MQTT broker yet"),
             SinkStatistic(name: "reconnects_total", value: Double(max(0, state.connects - 1)),
                           help: "Connections to the MQTT broker after the first"),
             SinkStatistic(name: "connected", value: state.connected ? 1 : 0,
                           help: "1 while connected to the MQTT broker")]
        }
    }

    init(name: String, settings: MQTTSinkSettings, context: PluginContext) throws {
        self.name = name
        self.settings = settings
        self.deviceID = context.deviceID
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

    public func start() async throws {
        try client.start()
    }

    public func send(_ delivery: Delivery) async throws {
        let (connected, lastError) = state.withLock { ($0.connected, $0.lastError) }
        guard connected else {
            throw MQTTError.connection(broker: settings.connection.broker.description,
                                       reason: lastError ?? client.loggedError ?? "not connected yet")
        }
        let batch = delivery.batch
        let key = ObjectIdentifier(delivery)
        state.withLock { $0.remaining[key] = settings.payload.isBatch ? 1 : batch.readings.count }
        let origin = (device: batch.deviceID, topic: batch.topic)
        var payload: [UInt8] = []
        do {
            switch settings.payload {
            case .json:
                for stored in batch.readings {
                    payload.removeAll(keepingCapacity: true)
                    ReadingJSON.writeLine(stored, partition: batch.partition, to: &payload, origin: origin)
                    payload.removeLast()  // the newline
                    try publish(payload, of: delivery, sensor: stored.reading.sensor, offset: stored.offset)
                }
            case .jsonBatch:
                payload.append(UInt8(ascii: "["))
                for stored in batch.readings {
                    if payload.count > 1 { payload.append(UInt8(ascii: ",")) }
                    ReadingJSON.writeLine(stored, partition: batch.partition, to: &payload, origin: origin)
                    payload.removeLast()
                }
                payload.append(UInt8(ascii: "]"))
                try publish(payload, of: delivery, offset: batch.readings.first?.offset ?? 0)
            case .lineProtocol:
                for stored in batch.readings {
                    ReadingLineProtocol.writeLine(stored, device: batch.deviceID, topic: batch.topic,
                                                  partition: batch.partition, to: &payload)
                }
                try publish(payload, of: delivery, offset: batch.readings.first?.offset ?? 0)
            }
        } catch {
            state.withLock { $0.remaining[key] = nil }
            throw error
        }
    }

    /// Publishes one message of `delivery`: a reading of `sensor` at
    /// `offset`, or (a batch) the readings from `offset` on; its identity
    /// goes as user properties.
    private func publish(_ payload: [UInt8], of delivery: Delivery, sensor: String = "", offset: Int64) throws {
        let batch = delivery.batch
        let topic = settings.topic(device: batch.deviceID, topic: batch.topic, partition: batch.partition,
                                   sensor: sensor)
        var identity = [("device", batch.deviceID), ("topic", batch.topic), ("partition", "\(batch.partition)"),
                        ("offset", "\(offset)")]
        if settings.payload.isBatch { identity.append(("count", "\(batch.readings.count)")) }
        state.withLock { $0.publishing = true }
        let mid: Int32
        do {
            mid = try client.publish(topic: topic, payload: payload, qos: Int32(settings.qos), properties: identity)
        } catch {
            state.withLock { state in
                state.publishing = false
                state.early.removeAll()
            }
            throw error
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
        state.withLock { state in
            state.deliveries.removeAll()
            state.remaining.removeAll()
        }
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
                defer {
                    state.deliveries.removeAll()
                    state.remaining.removeAll()
                }
                var seen = Set<ObjectIdentifier>()
                return (state.deliveries.values.filter { seen.insert(ObjectIdentifier($0)).inserted }, news)
            }
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
                if reasonCode >= 0x80 { state.refused += 1 } else { state.acknowledged += 1 }
                let key = ObjectIdentifier(delivery)
                guard let left = state.remaining[key] else { return nil }
                if reasonCode >= 0x80 {
                    state.remaining[key] = nil
                    return (delivery, false)
                }
                state.remaining[key] = left > 1 ? left - 1 : nil
                return left == 1 ? (delivery, true) : nil
            }
            guard let (delivery, done) = outcome else { return }
            if done {
                delivery.acknowledge()
            } else {
                delivery.fail(MQTTError.refused(topic: delivery.batch.topic,
                                                reason: String(cString: mosquitto_reason_string(reasonCode))))
            }
        }
    }
}
