import CMosquitto
import TributaryCore

/// Settings of a `type = "mqtt"` source: a broker (usually the box's own),
/// the subscriptions to make there, and how each one's messages become
/// readings.
public struct MQTTSourceSettings: SourceSettings {
    public static let type = "mqtt"

    /// `url`, `client_id`, `keepalive`, credentials and TLS.
    public var connection: MQTTConnectionSettings
    /// `protocol`: "5" (default) or "3.1.1".
    public var protocolVersion = ProtocolVersion.v5
    /// `session_expiry`: how long the broker keeps the session (and queues
    /// QoS 1 and 2 messages for it) while tributary is away; MQTT 5 only
    /// (3.1.1 sessions last until the broker's own limit).
    public var sessionExpirySeconds: UInt32 = 86_400
    /// `[[sources.subscriptions]]`: at least one.
    public var subscriptions: [Subscription]

    public enum ProtocolVersion: String, Sendable, CaseIterable {
        case v5 = "5"
        case v311 = "3.1.1"

        var code: Int32 { self == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311 }
    }

    /// One topic filter, its QoS, and how its messages become readings.
    public struct Subscription: Sendable, Equatable {
        /// `filter`: a topic filter, `+` and `#` wildcards allowed.
        public var filter: String
        /// `qos`: 0, 1 (default) or 2.
        public var qos = 1
        /// `format`, `sensor`, `value_field`, ...: see `PayloadMapping`;
        /// keys given on the source apply to every subscription that does not set them.
        public var mapping: PayloadMapping

        public init(filter: String, qos: Int = 1, mapping: PayloadMapping = PayloadMapping()) {
            self.filter = filter
            self.qos = qos
            self.mapping = mapping
        }
    }

    public init(broker: MQTTBroker, subscriptions: [Subscription]) {
        self.connection = MQTTConnectionSettings(broker: broker)
        self.subscriptions = subscriptions
    }

    public static func read(_ table: TableReader) -> MQTTSourceSettings? {
        let connection = MQTTConnectionSettings.read(table)
        let version = table.choice("protocol", among: ProtocolVersion.allCases)
        let expiry = table.milliseconds("session_expiry", atLeast: 1000)
        if let expiry, expiry / 1000 > Int64(UInt32.max - 1) {
            table.report("session_expiry", "expected at most 136 years, found \(expiry / 1000)s")
        }
        if version == .v311, expiry != nil {
            table.report("session_expiry", "applies to protocol \"5\" only (3.1.1 sessions last as long as the broker keeps them)")
        }
        let defaults = PayloadMapping.read(table)
        var subscriptions: [Subscription] = []
        if let tables = table.tables("subscriptions") {
            if tables.isEmpty { table.report("subscriptions", "expected at least one [[sources.subscriptions]] table") }
            for subscription in tables {
                if let read = Subscription.read(subscription, defaults: defaults) { subscriptions.append(read) }
                subscription.finish()
            }
        } else {
            table.reportMissing("subscriptions", expected: "[[sources.subscriptions]] tables with a filter each")
        }
        guard let connection, !subscriptions.isEmpty else { return nil }
        var settings = MQTTSourceSettings(broker: connection.broker, subscriptions: subscriptions)
        settings.connection = connection
        settings.protocolVersion = version ?? settings.protocolVersion
        settings.sessionExpirySeconds = expiry.map { UInt32(clamping: $0 / 1000) } ?? settings.sessionExpirySeconds
        return settings
    }

    public var summary: String {
        let filters = subscriptions.map { "\($0.filter) (\($0.mapping.summary))" }.joined(separator: ", ")
        return "MQTT from \(connection.broker): \(filters)"
    }

    public func makeSource(name: String, context: PluginContext) throws -> any Source {
        MQTTSource(name: name, settings: self, context: context)
    }
}

extension MQTTSourceSettings.Subscription {
    static func read(_ table: TableReader, defaults: PayloadMapping) -> Self? {
        let expected = "a topic filter like \"sensors/+/temperature\" or \"plant/#\""
        guard table.contains("filter") else {
            table.reportMissing("filter", expected: expected)
            return nil
        }
        let filter = table.string("filter", expected: expected)
        let qos = table.integer("qos", in: 0...2, expected: "0, 1 or 2")
        let mapping = PayloadMapping.read(table, defaults: defaults)
        guard let filter else { return nil }
        guard mosquitto_sub_topic_check(filter) == MOSQ_ERR_SUCCESS.rawValue else {
            table.report("filter", "expected \(expected) (a wildcard takes a whole level, # only the last), "
                + "found \"\(filter)\"")
            return nil
        }
        return Self(filter: filter, qos: qos ?? 1, mapping: mapping)
    }
}
