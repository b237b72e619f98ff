import CRdKafka
import TributaryCore

/// Settings of a `type = "kafka"` sink.
public struct KafkaSinkSettings: SinkSettings {
    public static let type = "kafka"

    /// `brokers`: the bootstrap list, `host:port` each.
    public var brokers: [String]
    /// `topic_template`: `{device}`, `{topic}` and `{partition}` are filled in.
    public var topicTemplate = "iot.{topic}"
    /// `key`: what a record's key is, and so which readings share a Kafka partition.
    public var key = Key.sensor
    /// `value`: what a record's value holds.
    public var value = Value.json
    /// `compression`.
    public var compression = Compression.lz4
    /// `linger`: how long the producer waits to fill a batch (`linger.ms`).
    public var lingerMilliseconds: Int64 = 5
    /// `batch_bytes`: the largest batch of records per partition in one request (`batch.size`).
    public var batchBytes: Int64 = 1 << 20
    /// `delivery_timeout`: how long librdkafka tries a record before its
    /// delivery fails and the sink sends it again from the log (`message.timeout.ms`).
    public var deliveryTimeoutMilliseconds: Int64 = 300_000
    /// `client_id`; nil: `tributary-DEVICE-NAME`.
    public var clientID: String?
    /// `tls = true` and its files.
    public var tls: TLS?
    /// `sasl_mechanism`, `username`, `password_file`.
    public var sasl: SASL?
    /// `[sinks.librdkafka]`: librdkafka properties, by librdkafka's names,
    /// applied after tributary's own (so an expert's word wins).
    public var librdkafka: [Property] = []

    public struct Property: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public enum Key: String, Sendable, CaseIterable {
        /// The reading's sensor id: one sensor stays in one Kafka partition, in order.
        case sensor
        /// `device.id`: a device's readings stay in one Kafka partition, in order.
        case device
        /// No key: records spread over the partitions (order only per local partition batch).
        case none
    }

    public enum Value: String, Sendable, CaseIterable {
        /// One reading as a JSON object (as the MQTT sink's `json` payload).
        case json
        /// One reading as an InfluxDB line protocol line.
        case lineProtocol = "line-protocol"

        /// The `content-type` header.
        var contentType: String { self == .json ? "application/json" : "text/plain; charset=utf-8" }
    }

    public enum Compression: String, Sendable, CaseIterable {
        case none, lz4, zstd, gzip
    }

    /// TLS to the brokers: verified (chain and host name) against `ca_file`,
    /// or the system's CAs, unless `insecure = true` is spelled out.
    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        public var insecure = false
        public init() {}
    }

    public struct SASL: Sendable, Equatable {
        public enum Mechanism: String, Sendable, CaseIterable {
            case plain = "PLAIN"
            case scramSHA256 = "SCRAM-SHA-256"
            case scramSHA512 = "SCRAM-SHA-512"
        }

        public var mechanism: Mechanism
        public var username: String
        public var password: Secret
        public init(mechanism: Mechanism, username: String, password: Secret) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    public init(brokers: [String]) { self.brokers = brokers }

    public var summary: String {
        "Kafka to \(brokers.joined(separator: ",")) as \(topicTemplate), \(value.rawValue), \(compression.rawValue)"
            + (tls == nil ? "" : ", TLS") + (sasl.map { ", SASL \($0.mechanism.rawValue)" } ?? "")
    }

    public func makeSink(name: String, context: PluginContext) throws -> any Sink {
        try KafkaSink(name: name, settings: self, context: context)
    }

    /// Every librdkafka property of the producer: tributary's, then `librdkafka`'s.
    func properties(clientID defaultClientID: String) -> [Property] {
        var properties: [Property] = [
            Property("bootstrap.servers", brokers.joined(separator: ",")),
            Property("client.id", clientID ?? defaultClientID),
            Property("enable.idempotence", "true"),
            Property("acks", "all"),
            Property("compression.codec", compression.rawValue),
            Property("linger.ms", "\(lingerMilliseconds)"),
            Property("batch.size", "\(batchBytes)"),
            Property("message.timeout.ms", "\(deliveryTimeoutMilliseconds)"),
            // Java clients' partitioner: a key lands where a Java producer would put it.
            Property("partitioner", "murmur2_random"),
            Property("statistics.interval.ms", "5000"),
        ]
        switch (tls != nil, sasl != nil) {
        case (false, false): properties.append(Property("security.protocol", "plaintext"))
        case (true, false): properties.append(Property("security.protocol", "ssl"))
        case (false, true): properties.append(Property("security.protocol", "sasl_plaintext"))
        case (true, true): properties.append(Property("security.protocol", "sasl_ssl"))
        }
        if let tls {
            if let caFile = tls.caFile { properties.append(Property("ssl.ca.location", caFile)) }
            if let certFile = tls.certFile { properties.append(Property("ssl.certificate.location", certFile)) }
            if let keyFile = tls.keyFile { properties.append(Property("ssl.key.location", keyFile)) }
            if tls.insecure {
                properties.append(Property("enable.ssl.certificate.verification", "false"))
                properties.append(Property("ssl.endpoint.identification.algorithm", "none"))
            } else {
                properties.append(Property("ssl.endpoint.identification.algorithm", "https"))
            }
        }
        if let sasl {
            properties.append(Property("sasl.mechanisms", sasl.mechanism.rawValue))
            properties.append(Property("sasl.username", sasl.username))
            properties.append(Property("sasl.password", sasl.password.value))
        }
        return properties + librdkafka
    }

    /// librdkafka properties a sink cannot work with: it counts on a report for every record.
    static let refusedProperties = ["delivery.report.only.error": "the sink needs a report of every delivery"]

    public static func read(_ table: TableReader) -> KafkaSinkSettings? {
        let brokersExpected = "a list of bootstrap brokers like [\"kafka-1.example.com:9092\"]"
        var brokers: [String]?
        if !table.contains("brokers") {
            table.reportMissing("brokers", expected: brokersExpected)
        } else if let listed = table.strings("brokers", expected: brokersExpected) {
            let split = listed.flatMap { $0.split(separator: ",").map { String($0).trimmingSpaces } }
            if split.isEmpty { table.report("brokers", "expected \(brokersExpected), found []") }
            for (position, broker) in split.enumerated() where !isHostPort(broker) {
                table.report("brokers", index: position, "expected host:port, found \"\(broker)\"")
            }
            brokers = split
        }
        let template = table.string("topic_template", expected: "a Kafka topic like \"iot.{topic}\"")
        if let template {
            let literal = ["{device}", "{topic}", "{partition}"].reduce(template) { $0.replacing($1, with: "") }
            if template.contains("{sensor}") {
                table.report("topic_template", "{sensor} cannot name a Kafka topic (one per sensor); the record's "
                    + "key carries the sensor: use {device}, {topic} and {partition}")
            } else if template.isEmpty || !literal.utf8.allSatisfy(isTopicCharacter) {
                table.report("topic_template", "expected a Kafka topic (A-Z a-z 0-9 . _ -) with {device}, {topic} or "
                    + "{partition}, found \"\(template)\"")
            }
        }
        let key = table.choice("key", among: Key.allCases)
        let value = table.choice("value", among: Value.allCases)
        let compression = table.choice("compression", among: Compression.allCases)
        let linger = table.milliseconds("linger", atLeast: 0)
        let batchBytes = table.bytes("batch_bytes", atLeast: 1)
        let timeout = table.milliseconds("delivery_timeout", atLeast: 1_000)
        let clientID = table.string("client_id", expected: "a Kafka client id")
        let tls = readTLS(table)
        let sasl = readSASL(table)
        let librdkafka = readLibrdkafka(table)
        guard let brokers else { return nil }
        var settings = KafkaSinkSettings(brokers: brokers)
        settings.topicTemplate = template ?? settings.topicTemplate
        settings.key = key ?? settings.key
        settings.value = value ?? settings.value
        settings.compression = compression ?? settings.compression
        settings.lingerMilliseconds = linger ?? settings.lingerMilliseconds
        settings.batchBytes = batchBytes ?? settings.batchBytes
        settings.deliveryTimeoutMilliseconds = timeout ?? settings.deliveryTimeoutMilliseconds
        settings.clientID = clientID
        settings.tls = tls
        settings.sasl = sasl
        settings.librdkafka = librdkafka
        return settings
    }

    private static func readTLS(_ table: TableReader) -> TLS? {
        let enabled = table.boolean("tls") ?? false
        let files = [("ca_file", "a CA certificate file (PEM)"), ("cert_file", "a client certificate file (PEM)"),
                     ("key_file", "a client key file (PEM)")].map { key, expected in
            table.readableFile(key, expected: expected)
        }
        let insecure = table.boolean("insecure")
        let tlsKeys = ["ca_file", "cert_file", "key_file", "insecure"].filter { table.contains($0) }
        if !enabled, let key = tlsKeys.first {
            table.report(key, "TLS settings need tls = true")
            return nil
        }
        if table.contains("cert_file") != table.contains("key_file") {
            table.report(table.contains("cert_file") ? "cert_file" : "key_file",
                         "a client certificate needs both cert_file and key_file")
        }
        guard enabled else { return nil }
        var tls = TLS()
        tls.caFile = files[0]
        tls.certFile = files[1]
        tls.keyFile = files[2]
        tls.insecure = insecure ?? false
        return tls
    }

    private static func readSASL(_ table: TableReader) -> SASL? {
        let mechanism = table.choice("sasl_mechanism", among: SASL.Mechanism.allCases)
        let username = table.string("username", expected: "a SASL user name")
        let password = table.secretFile("password_file")
        guard table.contains("sasl_mechanism") else {
            if let key = ["username", "password_file"].first(where: { table.contains($0) }) {
                table.report(key, "a user name and password need sasl_mechanism = \"PLAIN\", \"SCRAM-SHA-256\" "
                    + "or \"SCRAM-SHA-512\"")
            }
            return nil
        }
        if !table.contains("username") { table.reportMissing("username", expected: "the SASL user name") }
        if !table.contains("password_file") {
            table.reportMissing("password_file", expected: "the path of a file holding the SASL password")
        }
        guard let mechanism, let username, let password else { return nil }
        return SASL(mechanism: mechanism, username: username, password: password)
    }

    /// `[sinks.librdkafka]`, each property checked by librdkafka itself.
    private static func readLibrdkafka(_ table: TableReader) -> [Property] {
        guard let passed = table.dottedTable("librdkafka") else { return [] }
        var properties: [Property] = []
        let conf = rd_kafka_conf_new()!
        defer { rd_kafka_conf_destroy(conf) }
        for name in passed.keys {
            guard let value = passed.text(name) else { continue }
            if let reason = refusedProperties[name] {
                passed.report(name, "not allowed: \(reason)")
                continue
            }
            if let problem = LibrdkafkaConfiguration.set(conf, name, value) {
                passed.report(name, "librdkafka refused it: \(problem)")
                continue
            }
            properties.append(Property(name, value))
        }
        return properties
    }

    private static func isTopicCharacter(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    private static func isHostPort(_ text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]) else { return false }
        return (1...65_535).contains(port) && !text[..<colon].contains(where: { $0 == " " || $0 == "/" })
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
