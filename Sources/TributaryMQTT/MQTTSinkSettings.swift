import TributaryCore

/// Settings of a `type = "mqtt"` sink.
public struct MQTTSinkSettings: SinkSettings {
    public static let type = "mqtt"

    /// `url`: the broker.
    public var broker: MQTTBroker
    /// `client_id`; nil: `tributary-DEVICE-SINK`.
    public var clientID: String?
    /// `qos`: 0, 1 or 2.
    public var qos = 1
    /// `topic_template`: `{device}`, `{topic}`, `{partition}` and `{sensor}` are filled in.
    public var topicTemplate = "devices/{device}/{topic}/{sensor}"
    /// `max_inflight`: messages awaiting the broker's acknowledgement at once.
    public var maxInflight = 100
    /// `username` and `password_file`.
    public var username: String?
    public var password: Secret?

    public init(broker: MQTTBroker) { self.broker = broker }

    public static func read(_ table: TableReader) -> MQTTSinkSettings? {
        let broker = MQTTBroker.read("url", table)
        let clientID = table.string("client_id", expected: "an MQTT client id")
        let qos = table.integer("qos", in: 0...2, expected: "0, 1 or 2")
        let template = table.string("topic_template", expected: "a topic like \"devices/{device}/{topic}/{sensor}\"")
        if let template, template.isEmpty || template.contains("+") || template.contains("#") {
            table.report("topic_template", "expected a topic without wildcards (+ #), found \"\(template)\"")
        }
        let maxInflight = table.integer("max_inflight", in: 1...65_535, expected: "a number of messages from 1 to 65535")
        let username = table.string("username", expected: "a user name")
        let password = table.secretFile("password_file")
        guard let broker else { return nil }
        var settings = MQTTSinkSettings(broker: broker)
        settings.clientID = clientID
        settings.qos = qos ?? settings.qos
        settings.topicTemplate = template ?? settings.topicTemplate
        settings.maxInflight = maxInflight ?? settings.maxInflight
        settings.username = username
        settings.password = password
        return settings
    }

    public var summary: String { "MQTT to \(broker) at QoS \(qos)" }

    public func makeSink(name: String, context: PluginContext) throws -> any Sink {
        try MQTTSink(name: name, settings: self, context: context)
    }

    /// The topic a reading is published to. `+` and `#` in a sensor id
    /// (wildcards, not allowed in a published topic) become `_`.
    func topic(device: String, topic: String, partition: Int, sensor: String) -> String {
        let safeSensor = String(sensor.map { $0 == "+" || $0 == "#" ? "_" : $0 })
        return topicTemplate.replacing("{device}", with: device).replacing("{topic}", with: topic)
            .replacing("{partition}", with: "\(partition)").replacing("{sensor}", with: safeSensor)
    }
}

/// An MQTT broker's address, from a `mqtt://HOST:PORT` URL (port 1883 by default).
public struct MQTTBroker: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int = 1883) {
        self.host = host
        self.port = port
    }

    public var description: String { "mqtt://\(host):\(port)" }

    /// Parses `mqtt://host[:port]`; nil when it is not one.
    public init?(url: String) {
        guard url.hasPrefix("mqtt://") else { return nil }
        let rest = url.dropFirst("mqtt://".count)
        let hostPort = rest.hasSuffix("/") ? rest.dropLast() : rest
        var host = Substring(hostPort)
        var port = 1883
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            guard let parsed = Int(hostPort[hostPort.index(after: colon)...]), (1...65_535).contains(parsed) else {
                return nil
            }
            port = parsed
            host = hostPort[..<colon]
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, !host.contains("/") else { return nil }
        self.init(host: String(host), port: port)
    }

    /// Reads `key` as a broker URL, reporting what is wrong with it.
    static func read(_ key: String, _ table: TableReader) -> MQTTBroker? {
        let expected = "a broker URL like \"mqtt://broker.example.com:1883\""
        guard table.contains(key) else {
            table.reportMissing(key, expected: expected)
            return nil
        }
        guard let url = table.string(key, expected: expected) else { return nil }
        if url.hasPrefix("mqtts://") {
            table.report(key, "TLS (mqtts://) is not supported yet by this version of tributary; use mqtt://")
            return nil
        }
        guard let broker = MQTTBroker(url: url) else {
            table.report(key, "expected \(expected), found \"\(url)\"")
            return nil
        }
        return broker
    }
}
