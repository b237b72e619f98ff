import Foundation
import Testing
import TributaryCore
import TributaryTestSupport
@testable import TributaryMQTT

@Suite("MQTT source settings")
struct MQTTSourceSettingsTests {
    private static let plugins = PluginRegistry.builtIn.adding(source: MQTTSourceSettings.self)

    private static func parse(_ source: String) throws(ConfigurationErrors) -> TributaryConfiguration {
        try .parse(pipeline: "[[sources]]\ntype = \"mqtt\"\nname = \"local\"\ntopic = \"readings\"\n" + source, file: "/etc/tributary/t.toml", plugins: plugins)
    }

    @Test("the keys, their defaults, and mapping keys on the source as defaults for its subscriptions")
    func keys() throws {
        let source = try #require(try Self.parse("""
            url = "mqtt://127.0.0.1"
            protocol = "3.1.1"
            format = "text"
            [[sources.subscriptions]]
            filter = "sensors/+/temperature"
            sensor = "{1}.temperature"
            [[sources.subscriptions]]
            filter = "plant/#"
            qos = 2
            format = "json"
            value_field = "reading.value"
            timestamp_field = "ts"
            timestamp_unit = "s"
            max_payload = "1KiB"
            """).sources.first)
        let settings = try #require(source.settings as? MQTTSourceSettings)
        #expect(settings.connection.broker == MQTTBroker(host: "127.0.0.1", port: 1883))
        #expect(settings.protocolVersion == .v311 && settings.sessionExpirySeconds == 86_400)
        #expect(settings.connection.clientID(name: "local", deviceID: "box-1") == "tributary-box-1-local")
        let (first, second) = (settings.subscriptions[0], settings.subscriptions[1])
        #expect(first.filter == "sensors/+/temperature" && first.qos == 1 && first.mapping.format == .text)
        #expect(first.mapping.sensor == (try SensorTemplate("{1}.temperature")))
        #expect(second.qos == 2 && second.mapping.format == .json && second.mapping.valueField == ["reading", "value"])
        #expect(second.mapping.timestampUnit == .s && second.mapping.maxPayload == 1024)
    }

    @Test("TLS settings: mqtts:// verifies against the system's CAs unless a CA file is given")
    func tls() throws {
        let settings = try #require(try Self.parse("""
            url = "mqtts://broker.local"
            ca_file = "/etc/ssl/certs/ca-certificates.crt"
            [[sources.subscriptions]]
            filter = "#"
            """).sources.first?.settings as? MQTTSourceSettings)
        #expect(settings.connection.broker == MQTTBroker(host: "broker.local", port: 8883, tls: true))
        #expect(settings.connection.tls?.caFile == "/etc/ssl/certs/ca-certificates.crt")
        #expect(settings.connection.tls?.insecure == false)
    }

    @Test("mistakes name the file, line and key", arguments: [
        ("url = \"mqtt://h\"", 4, "sources[0].subscriptions", "missing required key"),
        ("url = \"mqtt://h\"\n[[sources.subscriptions]]\nfilter = \"a/#/b\"", 10, "sources[0].subscriptions[0].filter",
         "expected a topic filter"),
        ("url = \"mqtt://h\"\n[[sources.subscriptions]]\nfilter = \"a\"\nqos = 3", 11, "sources[0].subscriptions[0].qos",
         "expected 0, 1 or 2"),
        ("url = \"mqtt://h\"\n[[sources.subscriptions]]\nfilter = \"a\"\nsensor = \"{level}\"", 11,
         "sources[0].subscriptions[0].sensor", "cannot use \"{level}\" as a sensor id: unknown placeholder"),
        ("url = \"mqtt://h\"\n[[sources.subscriptions]]\nfilter = \"a\"\nformat = \"text\"\nvalue_field = \"v\"", 12,
         "sources[0].subscriptions[0].value_field", "applies to format = \"json\" only"),
        ("url = \"mqtt://h\"\n[[sources.subscriptions]]\nfilter = \"a\"\nfromat = \"text\"", 11,
         "sources[0].subscriptions[0].fromat", "unknown key; did you mean \"format\"?"),
        ("url = \"mqtt://h\"\nca_file = \"/etc/ssl/certs/ca-certificates.crt\"\n[[sources.subscriptions]]\nfilter = \"a\"",
         9, "sources[0].ca_file", "TLS settings need an mqtts:// url"),
        ("url = \"mqtts://h\"\nca_file = \"missing-ca.pem\"\n[[sources.subscriptions]]\nfilter = \"a\"", 9,
         "sources[0].ca_file", "cannot read a CA certificate file (PEM) \"/etc/tributary/missing-ca.pem\""),
        ("url = \"mqtt://h\"\nprotocol = \"3.1.1\"\nsession_expiry = \"1h\"\n[[sources.subscriptions]]\nfilter = \"a\"",
         10, "sources[0].session_expiry", "applies to protocol \"5\" only"),
    ])
    func mistakes(_ keys: String, _ line: Int, _ key: String, _ message: String) throws {
        try expectOneMistake(line: line, key: key, message: message) { try Self.parse(keys) }
    }
}
