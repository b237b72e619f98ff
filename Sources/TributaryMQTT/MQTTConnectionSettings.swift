import TributaryCore

/// How to reach an MQTT broker, shared by the source and the sink: `url`,
/// `client_id`, `keepalive`, `username`, `password_file`, and for
/// `mqtts://` the TLS keys `ca_file`, `cert_file`, `key_file` and `insecure`.
public struct MQTTConnectionSettings: Sendable, Equatable {
    public var broker: MQTTBroker
    /// `client_id`; nil: `tributary-DEVICE-NAME`.
    public var clientID: String?
    public var keepAliveSeconds = 30
    public var username: String?
    public var password: Secret?
    /// With an `mqtts://` URL: how the broker is verified and who we are.
    public var tls: TLS?

    /// TLS for an `mqtts://` broker. The broker's certificate is verified
    /// (chain and host name) against `ca_file`, or the system's CAs in
    /// /etc/ssl/certs, unless `insecure = true` is spelled out.
    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        /// No verification of the broker at all: for testing only.
        public var insecure = false

        public init(caFile: String? = nil) { self.caFile = caFile }

        /// Where system CAs are when no `ca_file` is given.
        static let systemCAPath = "/etc/ssl/certs"
    }

    public init(broker: MQTTBroker) {
        self.broker = broker
        if broker.tls { tls = TLS() }
    }

    /// The client id to use for `name` (a source's or sink's) on `deviceID`.
    func clientID(name: String, deviceID: String) -> String { clientID ?? "tributary-\(deviceID)-\(name)" }

    static func read(_ table: TableReader) -> MQTTConnectionSettings? {
        let broker = MQTTBroker.read("url", table)
        let clientID = table.string("client_id", expected: "an MQTT client id")
        if let clientID, clientID.isEmpty || clientID.utf8.count > 65_535 {
            table.report("client_id", "expected 1 to 65535 bytes, found \"\(clientID)\"")
        }
        let keepAlive = table.milliseconds("keepalive", atLeast: 5_000)
        if let keepAlive, keepAlive > 65_535_000 {
            table.report("keepalive", "expected at most 65535s, found \(keepAlive / 1000)s")
        }
        let username = table.string("username", expected: "a user name")
        let password = table.secretFile("password_file")
        if password != nil, username == nil {
            table.report("password_file", "a password needs a username; add username = \"...\"")
        }
        let fileKeys = ["ca_file": "a CA certificate file (PEM)", "cert_file": "a client certificate file (PEM)",
                        "key_file": "a client key file (PEM)"]
        var files: [String: String] = [:]
        for (key, expected) in fileKeys.sorted(by: { $0.key < $1.key }) {
            files[key] = table.readableFile(key, expected: expected)
        }
        let insecure = table.boolean("insecure")
        guard let broker else { return nil }
        var settings = MQTTConnectionSettings(broker: broker)
        settings.clientID = clientID
        settings.keepAliveSeconds = keepAlive.map { Int($0 / 1000) } ?? settings.keepAliveSeconds
        settings.username = username
        settings.password = password
        let tlsKeys = ["ca_file", "cert_file", "key_file", "insecure"].filter { table.contains($0) }
        if !broker.tls, let key = tlsKeys.first {
            table.report(key, "TLS settings need an mqtts:// url, found \"\(broker)\"")
        }
        if table.contains("cert_file") != table.contains("key_file") {
            table.report(table.contains("cert_file") ? "cert_file" : "key_file",
                         "a client certificate needs both cert_file and key_file")
        }
        if broker.tls {
            settings.tls?.caFile = files["ca_file"]
            settings.tls?.certFile = files["cert_file"]
            settings.tls?.keyFile = files["key_file"]
            settings.tls?.insecure = insecure ?? false
        }
        return settings
    }
}

/// An MQTT broker's address, from an `mqtt://HOST:PORT` URL (port 1883 by
/// default) or `mqtts://HOST:PORT` (TLS, port 8883 by default).
public struct MQTTBroker: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var tls: Bool

    public init(host: String, port: Int? = nil, tls: Bool = false) {
        self.host = host
        self.port = port ?? (tls ? 8883 : 1883)
        self.tls = tls
    }

    public var description: String { "\(tls ? "mqtts" : "mqtt")://\(host):\(port)" }

    /// Parses `mqtt://host[:port]` or `mqtts://host[:port]`; nil when it is not one.
    public init?(url: String) {
        let tls = url.hasPrefix("mqtts://")
        guard tls || url.hasPrefix("mqtt://") else { return nil }
        let rest = url.dropFirst(tls ? "mqtts://".count : "mqtt://".count)
        let hostPort = rest.hasSuffix("/") ? rest.dropLast() : rest
        var host = Substring(hostPort)
        var port: Int?
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            guard let parsed = Int(hostPort[hostPort.index(after: colon)...]), (1...65_535).contains(parsed) else {
                return nil
            }
            port = parsed
            host = hostPort[..<colon]
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, !host.contains("/") else { return nil }
        self.init(host: String(host), port: port, tls: tls)
    }

    /// Reads `key` as a broker URL, reporting what is wrong with it.
    static func read(_ key: String, _ table: TableReader) -> MQTTBroker? {
        let expected = "a broker URL like \"mqtt://broker.example.com:1883\" or \"mqtts://broker.example.com:8883\""
        guard table.contains(key) else {
            table.reportMissing(key, expected: expected)
            return nil
        }
        guard let url = table.string(key, expected: expected) else { return nil }
        guard let broker = MQTTBroker(url: url) else {
            table.report(key, "expected \(expected), found \"\(url)\"")
            return nil
        }
        return broker
    }
}
