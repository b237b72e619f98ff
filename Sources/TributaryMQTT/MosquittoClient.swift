#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import Dispatch
import Synchronization

/// One libmosquitto client (`struct mosquitto *`): created in `init`,
/// destroyed in `deinit`. Its network loop runs either on libmosquitto's own
/// thread (`start` and `stop`, for the sink) or on a thread of the caller's
/// through `connect`, `read`, `write` and `housekeeping` (the source, which
/// must decide when its acknowledgements go out).
///
/// libmosquitto calls back on the thread running the loop; every callback
/// crosses into Swift here, in one place, and is handed to `events` as an
/// `Event` value. The handler must be quick and must not call `stop` (which
/// joins that thread).
///
/// Thread-safe: libmosquitto is built thread-safe. No lock of ours is held
/// while libmosquitto runs: its loop thread calls back holding locks of its
/// own. A message's acknowledgement may therefore be reported before
/// `publish` has returned its id (the caller must expect that).
final class MosquittoClient: @unchecked Sendable {
    /// What the loop reports.
    enum Event {
        /// CONNACK: 0 is accepted; anything else is refused (`reason` says why).
        case connected(code: Int32, reason: String)
        /// The connection ended; `code` 0 means we asked for it.
        case disconnected(code: Int32, reason: String)
        /// The broker acknowledged message `mid` (QoS 1 PUBACK, QoS 2 PUBCOMP,
        /// QoS 0: sent); a `reasonCode` of 0x80 or more is a refusal (MQTT v5).
        case published(mid: Int32, reasonCode: Int32)
        /// A message arrived on a subscription. Its PUBACK (QoS 1) is queued
        /// already, but goes out only when the loop next writes.
        case message(topic: String, payload: UnsafeRawBufferPointer)
        /// SUBACK: the QoS granted per filter, 0x80 or more where refused.
        case subscribed(mid: Int32, granted: [Int32])
        /// UNSUBACK.
        case unsubscribed(mid: Int32)
    }

    struct Options: Sendable {
        var connection: MQTTConnectionSettings
        var clientID: String
        /// 5 or 4 (MQTT 3.1.1).
        var protocolVersion: Int32 = MQTT_PROTOCOL_V5
        /// False: a persistent session (clean start off), kept by the broker
        /// for `sessionExpirySeconds` (MQTT 5) after the connection ends.
        var cleanSession = true
        var sessionExpirySeconds: UInt32 = 0
        /// Messages awaiting PUBACK at once; more wait in libmosquitto's queue.
        var maxInflight: UInt32 = 100
        /// True: the caller runs the loop (`connect`, `read`, `write`), and
        /// every packet libmosquitto queues, the PUBACKs it queues before
        /// calling back with a message included, waits for `write`.
        var ownLoop = false
    }

    private let handle: OpaquePointer
    private let callbacks: Callbacks
    let options: Options

    /// The Swift side of libmosquitto's `void *obj`: the client owns it, and
    /// libmosquitto's callbacks find it through an unretained pointer.
    private final class Callbacks: Sendable {
        let events: @Sendable (Event) -> Void
        /// The last error libmosquitto logged (an OpenSSL error, for one),
        /// which says more than its error codes do.
        let loggedError = Mutex<String?>(nil)
        init(_ events: @escaping @Sendable (Event) -> Void) { self.events = events }

    /// Words for libmosquitto's error `code`, with the error it logged last
    /// (taken, so it is not repeated) when there is one.
    func reason(_ code: Int32) -> String {
        if code == MOSQ_ERR_SUCCESS.rawValue { return "disconnected on request" }
        let words = code == MOSQ_ERR_ERRNO.rawValue
            ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(code))
        guard let logged = loggedError.withLock({ error -> String? in defer { error = nil }; return error }) else {
            return words
        }
        return "\(words) (\(logged))"
    }
    }

    private static let libraryInitialised: Bool = {
        mosquitto_lib_init()
        return true
    }()

    init(options: Options, events: @escaping @Sendable (Event) -> Void) throws(MQTTError) {
        _ = Self.libraryInitialised
        self.options = options
        let callbacks = Callbacks(events)
        self.callbacks = callbacks
        guard let handle = mosquitto_new(options.clientID, options.cleanSession,
                                         Unmanaged.passUnretained(callbacks).toOpaque())
        else { throw MQTTError.client(operation: "mosquitto_new", code: MOSQ_ERR_NOMEM.rawValue, detail: "out of memory") }
        self.handle = handle
        try check("protocol version", mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, options.protocolVersion))
        try check("inflight limit", mosquitto_max_inflight_messages_set(handle, options.maxInflight))
        // Unthreaded, libmosquitto writes a packet as soon as it is queued (a PUBACK before the
        // message is even handed to us); "threaded" leaves the writing to the loop.
        if options.ownLoop { try check("threading", mosquitto_threaded_set(handle, true)) }
        let connection = options.connection
        if let username = connection.username {
            try check("credentials", mosquitto_username_pw_set(handle, username, connection.password?.value))
        }
        if let tls = connection.tls {
            try check("TLS", mosquitto_tls_set(handle, tls.caFile, tls.caFile == nil ? TLS.systemCAPath : nil,
                                               tls.certFile, tls.keyFile, nil))
            try check("TLS verification", mosquitto_tls_opts_set(handle, tls.insecure ? 0 : 1, nil, nil))
            try check("TLS host name check", mosquitto_tls_insecure_set(handle, tls.insecure))
        }
        // Reconnection by libmosquitto's own loop thread: 1 s, growing to a ceiling between 23 and 30 s
        // picked at random per client, so that boxes cut off together do not come back in step.
        try check("reconnect delay", mosquitto_reconnect_delay_set(handle, 1, UInt32.random(in: 23...30), true))
        mosquitto_connect_v5_callback_set(handle) { handle, object, code, _, _ in
            guard let callbacks = MosquittoClient.callbacks(object) else { return }
            if code == 0 {
                callbacks.loggedError.withLock { $0 = nil }
                // Connected, the log has nothing to tell: libmosquitto formats a line for every
                // packet while a log callback is set (a malloc and a vsnprintf a message).
                mosquitto_log_callback_set(handle, nil)
            }
            callbacks.events(.connected(code: code, reason: String(cString: mosquitto_reason_string(code))))
        }
        mosquitto_disconnect_v5_callback_set(handle) { handle, object, code, _ in
            mosquitto_log_callback_set(handle, MosquittoClient.logErrors)
            guard let callbacks = MosquittoClient.callbacks(object) else { return }
            callbacks.events(.disconnected(code: code, reason: callbacks.reason(code)))
        }
        mosquitto_publish_v5_callback_set(handle) { _, object, mid, reasonCode, _ in
            MosquittoClient.callbacks(object)?.events(.published(mid: mid, reasonCode: reasonCode))
        }
        mosquitto_message_v5_callback_set(handle) { _, object, message, _ in
            guard let message = message?.pointee, let topic = message.topic else { return }
            let payload = UnsafeRawBufferPointer(start: message.payload, count: Int(message.payloadlen))
            MosquittoClient.callbacks(object)?.events(.message(topic: String(cString: topic), payload: payload))
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, object, mid, count, granted, _ in
            let codes = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(count))) } ?? []
            MosquittoClient.callbacks(object)?.events(.subscribed(mid: mid, granted: codes))
        }
        mosquitto_unsubscribe_v5_callback_set(handle) { _, object, mid, _ in
            MosquittoClient.callbacks(object)?.events(.unsubscribed(mid: mid))
        }
        mosquitto_log_callback_set(handle, Self.logErrors)
    }

    /// Keeps the last error libmosquitto logs: while connecting (a failed
    /// TLS handshake, say), the only words it has for what went wrong.
    private static let logErrors: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32,
                                                  UnsafePointer<CChar>?) -> Void = { _, object, level, text in
        guard level & MOSQ_LOG_ERR != 0, let text else { return }
        MosquittoClient.callbacks(object)?.loggedError.withLock { $0 = String(cString: text) }
    }

    private typealias TLS = MQTTConnectionSettings.TLS

    deinit {
        mosquitto_destroy(handle)
    }

    private static func callbacks(_ object: UnsafeMutableRawPointer?) -> Callbacks? {
        object.map { Unmanaged<Callbacks>.fromOpaque($0).takeUnretainedValue() }
    }

    private func check(_ operation: String, _ code: Int32) throws(MQTTError) {
        guard code == MOSQ_ERR_SUCCESS.rawValue else {
            throw MQTTError.client(operation: operation, code: code, detail: callbacks.reason(code))
        }
    }

    /// The last error libmosquitto logged since the last connection: the
    /// only word of a failed TLS handshake, which libmosquitto's own loop
    /// retries without reporting a disconnection.
    var loggedError: String? { callbacks.loggedError.withLock { $0 } }

    // MARK: libmosquitto's loop thread (the sink)

    /// Starts the loop thread and connecting, without waiting for the broker.
    /// Once connected, the loop reconnects by itself whenever the connection
    /// drops; a broker that cannot be reached at the first attempt is tried
    /// again here (1 s doubling to 30 s, each delay less a random quarter),
    /// since the loop only reconnects a connection it once had.
    func start() throws(MQTTError) {
        try check("loop start", mosquitto_loop_start(handle))
        connectAsync(retryDelay: 1)
    }

    /// Until `stop`: whether the client is stopped, so no retry is scheduled after it.
    private let stopped = Mutex(false)

    private func connectAsync(retryDelay: Double) {
        // Under the lock, so `stop` cannot slip in between (the connect does not block: it is non-blocking).
        let failure = stopped.withLock { stopped -> (code: Int32, reason: String)? in
            guard !stopped else { return nil }
            let code = mosquitto_connect_async(handle, options.connection.broker.host,
                                               Int32(options.connection.broker.port),
                                               Int32(options.connection.keepAliveSeconds))
            return code == MOSQ_ERR_SUCCESS.rawValue ? nil : (code, callbacks.reason(code))
        }
        guard let (code, reason) = failure else { return }
        callbacks.events(.disconnected(code: code, reason: reason))
        // A timer, not the cooperative pool: connecting blocks for as long as the TCP handshake takes.
        DispatchQueue.global().asyncAfter(deadline: .now() + retryDelay * Double.random(in: 0.75...1)) { [self] in
            connectAsync(retryDelay: min(retryDelay * 2, 30))
        }
    }

    /// Disconnects and joins the loop thread. Messages still queued are dropped.
    func stop() {
        stopped.withLock { $0 = true }
        _ = mosquitto_disconnect_v5(handle, 0, nil)
        _ = mosquitto_loop_stop(handle, false)
    }

    // MARK: The caller's own loop (the source)

    /// Connects (blocking for the TCP handshake) and queues CONNECT, with
    /// the session expiry for MQTT 5; CONNACK arrives through `read`.
    /// - Returns: nil, or why it could not connect.
    func connect() -> String? {
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        if options.protocolVersion == MQTT_PROTOCOL_V5, options.sessionExpirySeconds > 0 {
            let code = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue),
                                                    options.sessionExpirySeconds)
            guard code == MOSQ_ERR_SUCCESS.rawValue else { return callbacks.reason(code) }
        }
        let broker = options.connection.broker
        let code = mosquitto_connect_bind_v5(handle, broker.host, Int32(broker.port),
                                             Int32(options.connection.keepAliveSeconds), nil, properties)
        return code == MOSQ_ERR_SUCCESS.rawValue ? nil : callbacks.reason(code)
    }

    /// The connection's socket, -1 when there is none.
    var socket: Int32 { mosquitto_socket(handle) }
    /// Whether packets wait to be written.
    var wantsToWrite: Bool { mosquitto_want_write(handle) }

    /// Reads what the socket has (calling back for each packet); a failure
    /// closes the connection and reports `.disconnected`.
    /// - Returns: whether the connection is still up.
    func read() -> Bool { mosquitto_loop_read(handle, 1) == MOSQ_ERR_SUCCESS.rawValue && socket >= 0 }

    /// Writes the packets queued (PUBACKs, SUBSCRIBE, PINGREQ).
    /// - Returns: whether the connection is still up.
    func write() -> Bool { mosquitto_loop_write(handle, 1) == MOSQ_ERR_SUCCESS.rawValue && socket >= 0 }

    /// Keepalive: pings the broker when due and drops a connection that stopped answering.
    /// - Returns: whether the connection is still up.
    func housekeeping() -> Bool { mosquitto_loop_misc(handle) == MOSQ_ERR_SUCCESS.rawValue && socket >= 0 }

    /// Sends DISCONNECT (written by the next `write`).
    func disconnect() {
        _ = mosquitto_disconnect_v5(handle, 0, nil)
    }

    /// Queues SUBSCRIBE for `filter`; SUBACK arrives through `read`.
    /// - Returns: the message id the SUBACK will carry.
    func subscribe(_ filter: String, qos: Int32) throws(MQTTError) -> Int32 {
        var mid: Int32 = 0
        try check("subscribe to \(filter)", mosquitto_subscribe_v5(handle, &mid, filter, qos, 0, nil))
        return mid
    }

    /// Queues UNSUBSCRIBE for `filter`; UNSUBACK arrives through `read`.
    /// - Returns: the message id the UNSUBACK will carry.
    func unsubscribe(_ filter: String) throws(MQTTError) -> Int32 {
        var mid: Int32 = 0
        try check("unsubscribe from \(filter)", mosquitto_unsubscribe_v5(handle, &mid, filter, nil))
        return mid
    }

    // MARK: Publishing

    /// Queues `payload` for `topic` and returns its message id; `properties`
    /// go as MQTT v5 user properties. Its acknowledgement may be reported
    /// (on the loop thread) before this returns.
    func publish(topic: String, payload: [UInt8], qos: Int32, properties: [(String, String)]) throws(MQTTError)
        -> Int32 {
        var list: OpaquePointer?
        defer { mosquitto_property_free_all(&list) }
        for (name, value) in properties {
            try check("user property", mosquitto_property_add_string_pair(&list, Int32(MQTT_PROP_USER_PROPERTY.rawValue),
                                                                          name, value))
        }
        var mid: Int32 = 0
        let code = payload.withUnsafeBytes { bytes in
            mosquitto_publish_v5(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, qos, false, list)
        }
        try check("publish to \(topic)", code)
        return mid
    }
}
