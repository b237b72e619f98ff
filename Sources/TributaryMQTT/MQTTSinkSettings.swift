import TributaryCore

/// Settings of a `type = "mqtt"` sink.
public struct MQTTSinkSettings: SinkSettings {
    public static let type = "mqtt"

    /// `url`, `client_id`, credentials and TLS.
    public var connection: MQTTConnectionSettings
    /// `qos`: 0, 1 or 2.
    public var qos = 1
    /// `payload`: what a message holds.
    public var payload = Payload.json
    /// `topic_template`: `{device}`, `{topic}`, `{partition}` and (one
    /// reading per message only) `{sensor}` are filled in.
    public var topicTemplate = "devices/{device}/{topic}/{sensor}"
    /// `max_inflight`: messages awaiting the broker's acknowledgement at once.
    public var maxInflight = 100

    /// What one message holds.
    public enum Payload: String, Sendable, CaseIterable {
        /// One reading, as a JSON object.
        case json
        /// A delivery's readings (up to `max_batch`), as a JSON array.
        case jsonBatch = "json-batch"
        /// A delivery's readings as InfluxDB line protocol, a line each.
        case lineProtocol = "line-protocol"

        /// Whether a message holds several readings (so `{sensor}` cannot name its topic).
        var isBatch: Bool { self != .json }

        var defaultTopicTemplate: String { isBatch ? "devices/{device}/{topic}" : "devices/{device}/{topic}/{sensor}" }
    }

    public init(broker: MQTTBroker) { self.connection = MQTTConnectionSettings(broker: broker) }

    public static func read(_ table: TableReader) -> MQTTSinkSettings? {
        let connection = MQTTConnectionSettings.read(table)
        let qos = table.integer("qos", in: 0...2, expected: "0, 1 or 2")
        let payload = table.choice("payload", among: Payload.allCases) ?? .json
        let template = table.string("topic_template", expected: "a topic like \"devices/{device}/{topic}/{sensor}\"")
        if let template, template.isEmpty || template.contains("+") || template.contains("#") {
            table.report("topic_template", "expected a topic without wildcards (+ #), found \"\(template)\"")
        } else if let template, payload.isBatch, template.contains("{sensor}") {
            table.report("topic_template", "{sensor} names one reading, but payload \"\(payload.rawValue)\" puts "
                + "several in a message; use {device}, {topic} and {partition}")
        }
        let maxInflight = table.integer("max_inflight", in: 1...65_535, expected: "a number of messages from 1 to 65535")
        guard let connection else { return nil }
        var settings = MQTTSinkSettings(broker: connection.broker)
        settings.connection = connection
        settings.qos = qos ?? settings.qos
        settings.payload = payload
        settings.topicTemplate = template ?? payload.defaultTopicTemplate
        settings.maxInflight = maxInflight ?? settings.maxInflight
        return settings
    }

    public var summary: String { "MQTT to \(connection.broker) at QoS \(qos), \(payload.rawValue)" }

    public func makeSink(name: String, context: PluginContext) throws -> any Sink {
        try MQTTSink(name: name, settings: self, context: context)
    }
}
