#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import Synchronization
import TributaryCore

/// A `type = "mqtt"` source: subscribes to topics on a broker (usually the
/// box's own) and turns every message into readings, through libmosquitto.
///
/// It keeps a persistent session (clean start off; for MQTT 5 a session
/// expiry), so what is published while tributary restarts waits at the
/// broker. Subscriptions are made on every connect; filters subscribed at
/// an earlier start and no longer configured are unsubscribed (they are
/// remembered in the state directory), since the session would keep them.
///
/// The network loop runs on a thread of the source's own, and a message is
/// acknowledged only once the log has written its readings: libmosquitto
/// (2.0.11) queues a QoS 1 PUBACK before it calls back with the message,
/// but that packet reaches the socket only when the loop next writes. So
/// the loop reads what the socket holds, hands the readings over until
/// written, and only then writes. A kill -9 loses nothing the broker
/// considers delivered; a power cut loses at most what the log's flush
/// policy leaves unsynced (`fsync_interval`, or nothing with `every-batch`),
/// as for every other source. QoS 2 cannot do as well: libmosquitto sends
/// PUBREC and keeps the message until PUBREL before calling back, and the
/// broker forgets the message at PUBREC.
final class MQTTSource: Source, Sendable {
    let name: String
    let settings: MQTTSourceSettings
    private let clientID: String
    private let logger: Logger
    private let stateFile: String?

    init(name: String, settings: MQTTSourceSettings, context: PluginContext) {
        self.name = name
        self.settings = settings
        self.clientID = settings.connection.clientID(name: name, deviceID: context.deviceID)
        var logger = context.logger
        logger[metadataKey: "source"] = "\(name)"
        self.logger = logger
        self.stateFile = context.stateDirectory.map { "\($0)/mqtt-\(name).subscriptions" }
    }

    func run(output: SourceOutput) async throws {
        let session = try MQTTSourceSession(source: self, output: output, clientID: clientID, logger: logger,
                                            stateFile: stateFile)
        try await session.run()
    }
}

/// One run of an MQTT source: the client, its loop thread, and what the
/// loop has read but not handed over yet. Everything but `stopping` and
/// the thread's end is touched on the loop thread only (libmosquitto calls
/// back from `read`, which the loop calls).
private final class MQTTSourceSession: @unchecked Sendable {
    private let settings: MQTTSourceSettings
    private let output: SourceOutput
    private let logger: Logger
    private let stateFile: String?
    private var client: MosquittoClient!  // set once in init
    /// A pipe written to wake the loop from `poll` when the source is stopping.
    private let wake: (read: Int32, write: Int32)
    private let end = Mutex(End())

    private struct End {
        var stopping = false
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    // Loop thread only:
    private var pending: [Reading] = []
    private var malformed: [(raw: [UInt8], problem: MalformedPayload, at: Int64)] = []
    private var connected = false
    private var everConnected = false
    private var failedAttempts = 0
    /// When to try connecting again after a failure.
    private var retryAt: ContinuousClock.Instant?
    /// Why the broker refused the last CONNECT (bad credentials, say), which says more than the disconnect after it.
    private var refusal: String?
    private var unsubscribing: Set<Int32> = []
    private var subscriptionsByMid: [Int32: MQTTSourceSettings.Subscription] = [:]

    init(source: MQTTSource, output: SourceOutput, clientID: String, logger: Logger, stateFile: String?) throws {
        settings = source.settings
        self.output = output
        self.logger = logger
        self.stateFile = stateFile
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw MQTTError.client(operation: "pipe", code: MOSQ_ERR_ERRNO.rawValue, detail: String(cString: strerror(errno)))
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        wake = (ends[0], ends[1])
        let options = MosquittoClient.Options(
            connection: settings.connection, clientID: clientID, protocolVersion: settings.protocolVersion.code,
            cleanSession: false, sessionExpirySeconds: settings.sessionExpirySeconds, ownLoop: true)
        let owner = ClientOwner<MQTTSourceSession>()
        do {
            client = try MosquittoClient(options: options) { event in owner.owner?.handle(event) }
        } catch {
            close(wake.read)
            close(wake.write)
            throw error
        }
        owner.owner = self
    }

    deinit {
        close(wake.read)
        close(wake.write)
    }

    /// Runs the loop thread until the task is cancelled.
    func run() async throws {
        try DedicatedThread.start(name: "mqtt-\(output.source)") { [self] in
            loop()
            let waiter = end.withLock { end in
                end.finished = true
                return end.waiter.take()
            }
            waiter?.resume()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let finished = end.withLock { end in
                    if !end.finished { end.waiter = continuation }
                    return end.finished
                }
                if finished { continuation.resume() }
            }
        } onCancel: {
            end.withLock { $0.stopping = true }
            var byte: UInt8 = 1
            _ = Glibc.write(wake.write, &byte, 1)
        }
    }

    private var stopping: Bool { end.withLock { $0.stopping } }

    // MARK: The loop

    private func loop() {
        while !stopping {
            if client.socket < 0 {
                if let retryAt, retryAt > .now {
                    var fd = pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)
                    _ = poll(&fd, 1, Int32(((retryAt - .now) / .milliseconds(1)).rounded(.up)))
                    continue
                }
                if let failure = client.connect() {
                    connectionFailed("cannot connect to \(settings.connection.broker): \(failure)")
                    continue
                }
            }
            var fds = [pollfd(fd: client.socket, events: Int16(POLLIN) | (client.wantsToWrite ? Int16(POLLOUT) : 0),
                              revents: 0),
                       pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 2, 1000)
            if fds[0].revents != 0 { readAvailable() }
            if client.socket >= 0, client.wantsToWrite { _ = client.write() }
            if client.socket >= 0 { _ = client.housekeeping() }
        }
        handOverPending()
        if client.socket >= 0 {
            client.disconnect()
            _ = client.write()
        }
        if everConnected { logger.notice("disconnected from the MQTT broker", metadata: ["broker": "\(settings.connection.broker)"]) }
    }

    /// Reads every packet the socket holds (at most 1,000 at a time), then
    /// hands their readings over until written: only after that may the
    /// acknowledgements libmosquitto queued go out.
    private func readAvailable() {
        var packets = 0
        while client.read() {
            packets += 1
            guard packets < 1000, Self.readable(client.socket) else { break }
        }
        handOverPending()
    }

    private static func readable(_ socket: Int32) -> Bool {
        var fd = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&fd, 1, 0) > 0
    }

    private func handOverPending() {
        if !pending.isEmpty {
            do {
                try output.handOver(pending, untilWritten: true)
            } catch {
                // Only a stopping log refuses: the readings are counted as refused, and the
                // broker, not having the PUBACKs, sends them again at the next start.
                logger.warning("the log refused readings; the broker will send them again",
                               metadata: ["count": "\(pending.count)", "error": "\(error)"])
            }
            pending.removeAll(keepingCapacity: true)
        }
        for (raw, problem, at) in malformed {
            output.handOverMalformed(raw, reason: problem.reason.rawValue, detail: problem.detail, at: at,
                                     untilWritten: true)
        }
        malformed.removeAll()
    }

    /// Reports `reason` and schedules the next attempt: 1 s doubling to
    /// 30 s, less a random quarter so that boxes restarted together do not
    /// reconnect in step.
    private func connectionFailed(_ reason: String) {
        output.reportError(reason)
        let delay = min(30.0, Double(1 << min(failedAttempts, 5))) * Double.random(in: 0.75...1)
        failedAttempts += 1
        retryAt = .now + .seconds(delay)
    }

    // MARK: Events, on the loop thread

    private func handle(_ event: MosquittoClient.Event) {
        switch event {
        case let .connected(code, reason):
            guard code == 0 else {
                // The disconnect that follows schedules the retry.
                refusal = reason
                return
            }
            refusal = nil
            connected = true
            failedAttempts = 0
            if everConnected { output.reportReconnect() }
            everConnected = true
            output.reportRecovered()
            logger.notice("connected to the MQTT broker", metadata: ["broker": "\(settings.connection.broker)"])
            subscribe()
        case let .disconnected(code, reason):
            let wasConnected = connected
            connected = false
            guard code != 0, !stopping else { return }
            if wasConnected {
                logger.warning("lost the connection to the MQTT broker; reconnecting",
                               metadata: ["broker": "\(settings.connection.broker)", "reason": "\(reason)"])
            }
            connectionFailed(refusal.map { "the MQTT broker \(settings.connection.broker) refused the connection: \($0)" }
                ?? "no connection to the MQTT broker \(settings.connection.broker): \(reason)")
        case let .message(topic, payload):
            received(topic: topic, payload: Array(payload))
        case let .subscribed(mid, granted):
            subscribed(mid: mid, granted: granted)
        case let .unsubscribed(mid):
            if unsubscribing.remove(mid) != nil, unsubscribing.isEmpty { rememberSubscriptions() }
        case .published:
            break  // the source publishes nothing
        }
    }

    private func received(topic: String, payload: [UInt8]) {
        let now = SystemClock.wallMilliseconds()
        guard let subscription = settings.subscriptions.first(where: { Self.matches($0.filter, topic) }) else {
            malformed.append((payload, MalformedPayload(.missingField, "no configured subscription matches \(topic)"), now))
            return
        }
        do {
            try subscription.mapping.decode(payload, topic: topic, receivedAt: now, into: &pending)
        } catch {
            // An oversize payload is kept up to max_payload, so the dead letter stays a reading's size.
            let kept = error.reason == .oversize ? Array(payload.prefix(subscription.mapping.maxPayload)) : payload
            malformed.append((kept, MalformedPayload(error.reason, "\(topic): \(error.detail)"), now))
        }
    }

    private static func matches(_ filter: String, _ topic: String) -> Bool {
        var result = false
        return mosquitto_topic_matches_sub(filter, topic, &result) == MOSQ_ERR_SUCCESS.rawValue && result
    }

    // MARK: Subscriptions

    private func subscribe() {
        do {
            for subscription in settings.subscriptions {
                let mid = try client.subscribe(subscription.filter, qos: Int32(subscription.qos))
                subscriptionsByMid[mid] = subscription
            }
            let current = Set(settings.subscriptions.map(\.filter))
            for filter in rememberedSubscriptions().subtracting(current).sorted() {
                unsubscribing.insert(try client.unsubscribe(filter))
                logger.notice("unsubscribing from a filter no longer configured", metadata: ["filter": "\(filter)"])
            }
            if unsubscribing.isEmpty { rememberSubscriptions() }
        } catch {
            output.reportError("cannot subscribe: \(error)")
        }
    }

    private func subscribed(mid: Int32, granted: [Int32]) {
        guard let subscription = subscriptionsByMid.removeValue(forKey: mid), let code = granted.first else { return }
        if code >= 0x80 {
            output.reportError("the MQTT broker refused the subscription to \(subscription.filter): "
                + String(cString: mosquitto_reason_string(code)))
        } else if code < subscription.qos {
            logger.warning("the MQTT broker granted a lower QoS than configured", metadata: [
                "filter": "\(subscription.filter)", "qos": "\(subscription.qos)", "granted": "\(code)",
            ])
        }
    }

    /// The filters subscribed at earlier starts, which the persistent session still holds.
    private func rememberedSubscriptions() -> Set<String> {
        guard let stateFile, let text = try? TextFile.read(stateFile) else { return [] }
        return Set(text.split(separator: "\n").map(String.init))
    }

    private func rememberSubscriptions() {
        guard let stateFile else { return }
        let text = settings.subscriptions.map(\.filter).sorted().joined(separator: "\n") + "\n"
        do {
            try TextFile.replace(stateFile, with: text)
        } catch {
            logger.warning("cannot remember the subscriptions; a filter removed later may stay subscribed",
                           metadata: ["file": "\(stateFile)", "error": "\(error)"])
        }
    }
}

/// Lets a client's callbacks reach the client's owner without the client owning it.
final class ClientOwner<Owner: AnyObject>: @unchecked Sendable {
    /// Set once, before the client starts; read on the loop thread.
    weak var owner: Owner?
}
