import Foundation

/// Debian's `mosquitto` broker on a free 127.0.0.1 port, with a config the
/// test writes, started by the test and stopped with it: a real peer, not a mock.
public final class MosquittoBroker: @unchecked Sendable {
    public let port: Int
    /// The TLS listener's port, when the broker has one.
    public let tlsPort: Int?
    private let scratch: Scratch
    private let configPath: String
    private let logPath: String
    private var process: Process?

    /// Writes the broker's config (anonymous clients, or only `users` with
    /// their passwords if given; no persistence; a TLS listener with `tls`'s
    /// server certificate if given, asking clients for a certificate signed
    /// by the same CA if `requireClientCertificate`; then `extraConfig`
    /// lines) and starts it, unless `start` is false (a broker that is down, for now).
    public init(scratch: Scratch, start: Bool = true, tls: TestCertificates? = nil,
                requireClientCertificate: Bool = false, users: [String: String] = [:],
                extraConfig: String = "") throws {
        self.scratch = scratch
        self.port = try FreePort.find()
        var tlsListener = ""
        if let tls {
            let tlsPort = try FreePort.find()
            self.tlsPort = tlsPort
            tlsListener = """
                listener \(tlsPort) 127.0.0.1
                cafile \(tls.caFile)
                certfile \(tls.serverCertificate)
                keyfile \(tls.serverKey)
                require_certificate \(requireClientCertificate)
                """
        } else {
            tlsPort = nil
        }
        self.configPath = scratch.path("mosquitto-\(port).conf")
        self.logPath = scratch.path("mosquitto-\(port).log")
        let config = """
            listener \(port) 127.0.0.1
            \(try Self.access(users, scratch: scratch))
            persistence false
            user root
            max_queued_messages 100000
            \(tlsListener)
            \(extraConfig)
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
        if start { try self.start() }
    }

    deinit { stop() }

    /// The config lines letting clients in: anyone, or `users` by password (a file mosquitto_passwd writes).
    private static func access(_ users: [String: String], scratch: Scratch) throws -> String {
        guard !users.isEmpty else { return "allow_anonymous true" }
        let file = scratch.path("passwords-\(UUID().uuidString)")
        for (user, password) in users {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_passwd")
            process.arguments = (FileManager.default.fileExists(atPath: file) ? ["-b"] : ["-c", "-b"]) + [file, user, password]
            try ProcessEnvironment.reading { try process.run() }
            guard waitUntil(seconds: 20, { !process.isRunning }), process.terminationStatus == 0 else {
                throw SocketFailure(call: "mosquitto_passwd", errno: 0)
            }
        }
        return "allow_anonymous false\npassword_file \(file)"
    }

    /// What the broker logged.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Starts the broker (again, on the same port) and waits until it accepts connections.
    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        process.arguments = ["-c", configPath]
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try ProcessEnvironment.reading { try process.run() }
        self.process = process
        if waitUntil(seconds: 5, { isListening }) { return }
        throw SocketFailure(call: "connect to mosquitto on \(port)", errno: ECONNREFUSED)
    }

    private var isListening: Bool {
        guard let descriptor = try? LoopbackClient.connect(port: port) else { return false }
        close(descriptor)
        return true
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing is
    /// answered, as when the network to it is down; it keeps what it holds.
    public func freeze() {
        if let process { kill(process.processIdentifier, SIGSTOP) }
    }

    /// Lets a frozen broker go on (SIGCONT).
    public func thaw() {
        if let process { kill(process.processIdentifier, SIGCONT) }
    }

    /// Kills the broker (SIGKILL, as a crash or a power cut would: a test
    /// process may hand SIGTERM down blocked) and waits (at most 10 s)
    /// until its port is free.
    public func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        // Not waitUntilExit (it spins a run loop a test's thread may not have), nor
        // isRunning (the reaping may lag): what a restart needs is the port.
        waitUntil(seconds: 10) { !isListening }
        self.process = nil
    }
}

/// A CA and a server certificate for 127.0.0.1 that it signed, made with
/// openssl for one test, and a second CA that signed nothing (the wrong one).
public struct TestCertificates: Sendable {
    public let caFile: String
    public let serverCertificate: String
    public let serverKey: String
    public let otherCAFile: String
    /// A client certificate the CA signed, and its key.
    public let clientCertificate: String
    public let clientKey: String

    public init(scratch: Scratch) throws {
        caFile = scratch.path("ca.pem")
        serverCertificate = scratch.path("server.pem")
        serverKey = scratch.path("server.key")
        otherCAFile = scratch.path("other-ca.pem")
        clientCertificate = scratch.path("client.pem")
        clientKey = scratch.path("client.key")
        let extensions = scratch.path("server.ext")
        try Data("subjectAltName=IP:127.0.0.1\n".utf8).write(to: URL(fileURLWithPath: extensions))
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(["req", "-x509"] + key + ["-keyout", scratch.path("ca.key"), "-out", caFile, "-days", "2",
                                                   "-subj", "/CN=tributary test CA"])
        try Self.openssl(["req", "-x509"] + key + ["-keyout", scratch.path("other-ca.key"), "-out", otherCAFile,
                                                   "-days", "2", "-subj", "/CN=another CA"])
        try Self.openssl(["req"] + key + ["-keyout", serverKey, "-out", scratch.path("server.csr"),
                                          "-subj", "/CN=127.0.0.1"])
        try Self.openssl(["x509", "-req", "-in", scratch.path("server.csr"), "-CA", caFile,
                          "-CAkey", scratch.path("ca.key"), "-CAcreateserial", "-out", serverCertificate,
                          "-days", "2", "-extfile", extensions])
        try Self.openssl(["req"] + key + ["-keyout", clientKey, "-out", scratch.path("client.csr"), "-subj", "/CN=box-1"])
        try Self.openssl(["x509", "-req", "-in", scratch.path("client.csr"), "-CA", caFile, "-CAkey", scratch.path("ca.key"),
                          "-CAcreateserial", "-out", clientCertificate, "-days", "2"])
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessEnvironment.reading { try process.run() }
        guard waitUntil(seconds: 30, { !process.isRunning }), process.terminationStatus == 0 else {
            throw SocketFailure(call: "openssl \(arguments.joined(separator: " "))", errno: 0)
        }
    }
}

/// `mosquitto_sub` subscribed to `filter` on the broker, collecting what arrives.
public final class MosquittoSubscriber: @unchecked Sendable {
    private let process = Process()
    private let outputPath: String

    /// Starts the subscriber and waits until the broker acknowledged the subscription.
    public init(broker: MosquittoBroker, filter: String, scratch: Scratch) throws {
        outputPath = scratch.path("sub-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        // stdbuf: line by line into the file (stdio would hold it back in a buffer).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/stdbuf")
        // -d prints the SUBACK; -F each message as "topic TAB user properties TAB payload in hex" (one line,
        // whatever the payload holds).
        process.arguments = ["-oL", "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", filter,
                             "-q", "1", "-V", "mqttv5", "-F", "%t\\t%P\\t%x", "-d"]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardError = process.standardOutput
        try ProcessEnvironment.reading { try process.run() }
        guard waitUntil(seconds: 10, { output.contains("received SUBACK") }) else {
            throw SocketFailure(call: "subscribe with mosquitto_sub: \(output)", errno: 0)
        }
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    private var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// The messages received so far, in order, with their MQTT v5 user properties.
    public var messages: [(topic: String, properties: [String: String], payload: String)] {
        output.split(separator: "\n").compactMap { line in
            // -d's own lines ("Client ... received PUBLISH", "Subscribed (mid: 1): 1") have no tabs.
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { return nil }
            var properties: [String: String] = [:]
            for pair in fields[1].split(separator: " ") {
                guard let colon = pair.firstIndex(of: ":") else { continue }
                properties[String(pair[..<colon])] = String(pair[pair.index(after: colon)...])
            }
            var payload: [UInt8] = []
            var hex = fields[2].utf8.makeIterator()
            while let high = hex.next(), let low = hex.next() {
                payload.append(UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) ?? 0)
            }
            return (String(fields[0]), properties, String(decoding: payload, as: UTF8.self))
        }
    }
}

/// `mosquitto_pub` publishing to the broker: one message from bytes, or a
/// stream of lines (one message each) written while it runs.
public final class MosquittoPublisher: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()

    /// Starts `mosquitto_pub -l`: every line written with `send` is a message to `topic`.
    public init(broker: MosquittoBroker, topic: String, qos: Int = 1, clientID: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
        var arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-q", "\(qos)", "-l"]
        if let clientID { arguments += ["-i", clientID] }
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessEnvironment.reading { try process.run() }
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    public func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// Ends the input and waits (at most 60 s) until every message is out (and, at QoS 1, acknowledged).
    @discardableResult
    public func finish() -> Bool {
        try? input.fileHandleForWriting.close()
        return waitUntil(seconds: 60) { !process.isRunning }
    }

    /// Publishes `payload` (any bytes) as one message and waits until it is acknowledged.
    public static func publish(_ payload: [UInt8], to topic: String, broker: MosquittoBroker, qos: Int = 1,
                               scratch: Scratch) throws {
        let file = scratch.path("payload-\(UUID().uuidString)")
        try Data(payload).write(to: URL(fileURLWithPath: file))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
        process.arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-q", "\(qos)", "-f", file]
        try ProcessEnvironment.reading { try process.run() }
        guard waitUntil(seconds: 20, { !process.isRunning }), process.terminationStatus == 0 else {
            throw SocketFailure(call: "mosquitto_pub to \(topic)", errno: 0)
        }
    }
}

/// Polls `condition` every 10 ms, blocking the calling thread, until it holds
/// (true) or `seconds` have passed (false).
@discardableResult
public func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else { return false }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return true
}
