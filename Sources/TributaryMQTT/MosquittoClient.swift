#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import Dispatch
import Synchronization

/// One libmosquitto client (`struct mosquitto *`): created in `init`,
/// destroyed in `deinit`, its network loop on libmosquitto's own thread
/// (`mosquitto_loop_start`), started by `start` and ended by `stop`.
///
/// libmosquitto calls back on that thread; every callback crosses into Swift
/// here, in one place, and is handed to `events` as an `Event` value. The
/// handler runs on the loop thread: it must be quick and must not call
/// `stop` (which joins that thread).
///
/// Thread-safe: libmosquitto is built thread-safe (`mosquitto_threaded_set`
/// is implied by `mosquitto_loop_start`). No lock of ours is held while
/// libmosquitto runs: its loop thread calls back holding locks of its own.
/// A message's acknowledgement may therefore be reported before `publish`
/// has returned its id (the caller must expect that).
final class MosquittoClient: @unchecked Sendable {
    /// What the loop thread reports.
    enum Event: Sendable {
        /// CONNACK: 0 is accepted; anything else is refused (`reason` says why).
        case connected(code: Int32, reason: String)
        /// The connection ended; `code` 0 means we asked for it.
        case disconnected(code: Int32, reason: String)
        /// The broker acknowledged message `mid` (QoS 1 PUBACK, QoS 2 PUBCOMP,
        /// QoS 0: sent); a `reasonCode` of 0x80 or more is a refusal (MQTT v5).
        case published(mid: Int32, reasonCode: Int32)
    }

    struct Options: Sendable {
        var host: String
        var port: Int
        var clientID: String
        var keepAliveSeconds: Int32 = 30
        var username: String?
        var password: String?
        /// Messages awaiting PUBACK at once; more wait in libmosquitto's queue.
        var maxInflight: UInt32 = 100
    }

    private let handle: OpaquePointer
    private let callbacks: Callbacks
    let options: Options

    /// The Swift side of libmosquitto's `void *obj`: the client owns it, and
    /// libmosquitto's callbacks find it through an unretained pointer.
    private final class Callbacks: Sendable {
        let events: @Sendable (Event) -> Void
        init(_ events: @escaping @Sendable (Event) -> Void) { self.events = events }
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
        guard let handle = mosquitto_new(options.clientID, true, Unmanaged.passUnretained(callbacks).toOpaque())
        else { throw MQTTError.client(operation: "mosquitto_new", code: MOSQ_ERR_NOMEM.rawValue) }
        self.handle = handle
        try check("protocol version", mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5))
        try check("inflight limit", mosquitto_max_inflight_messages_set(handle, options.maxInflight))
        if let username = options.username {
            try check("credentials", mosquitto_username_pw_set(handle, username, options.password))
        }
        // Reconnection is libmosquitto's loop's job: 1 s doubling to 30 s.
        try check("reconnect delay", mosquitto_reconnect_delay_set(handle, 1, 30, true))
        mosquitto_connect_v5_callback_set(handle) { _, object, code, _, _ in
            MosquittoClient.callbacks(object)?.events(.connected(
                code: code, reason: String(cString: mosquitto_reason_string(code))))
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, object, code, _ in
            MosquittoClient.callbacks(object)?.events(.disconnected(
                code: code, reason: String(cString: mosquitto_strerror(code))))
        }
        mosquitto_publish_v5_callback_set(handle) { _, object, mid, reasonCode, _ in
            MosquittoClient.callbacks(object)?.events(.published(mid: mid, reasonCode: reasonCode))
        }
    }

    deinit {
        mosquitto_destroy(handle)
    }

    private static func callbacks(_ object: UnsafeMutableRawPointer?) -> Callbacks? {
        object.map { Unmanaged<Callbacks>.fromOpaque($0).takeUnretainedValue() }
    }

    private func check(_ operation: String, _ code: Int32) throws(MQTTError) {
        guard code == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError.client(operation: operation, code: code) }
    }

    /// Starts the loop thread and connecting, without waiting for the broker.
    /// Once connected, the loop reconnects by itself whenever the connection
    /// drops; a broker that cannot be reached at the first attempt is tried
    /// again here (1 s doubling to 30 s), since the loop only reconnects a
    /// connection it once had.
    func start() throws(MQTTError) {
        try check("loop start", mosquitto_loop_start(handle))
        connect(retryDelay: 1)
    }

    /// Until `stop`: whether the client is stopped, so no retry is scheduled after it.
    private let stopped = Mutex(false)

    private func connect(retryDelay: Double) {
        // Under the lock, so `stop` cannot slip in between (the connect does not block: it is non-blocking).
        let failure = stopped.withLock { stopped -> (code: Int32, reason: String)? in
            guard !stopped else { return nil }
            let code = mosquitto_connect_async(handle, options.host, Int32(options.port), options.keepAliveSeconds)
            guard code != MOSQ_ERR_SUCCESS.rawValue else { return nil }
            let reason = code == MOSQ_ERR_ERRNO.rawValue
                ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(code))
            return (code, reason)
        }
        guard let (code, reason) = failure else { return }
        callbacks.events(.disconnected(code: code, reason: reason))
        // A timer, not the cooperative pool: connecting blocks for as long as the TCP handshake takes.
        DispatchQueue.global().asyncAfter(deadline: .now() + retryDelay) { [self] in
            connect(retryDelay: min(retryDelay * 2, 30))
        }
    }

    /// Disconnects and joins the loop thread. Messages still queued are dropped.
    func stop() {
        stopped.withLock { $0 = true }
        _ = mosquitto_disconnect_v5(handle, 0, nil)
        _ = mosquitto_loop_stop(handle, false)
    }

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
