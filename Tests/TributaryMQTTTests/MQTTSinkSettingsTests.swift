import Testing
import TributaryCore
import TributaryTestSupport
@testable import TributaryMQTT

@Suite("MQTT sink settings")
struct MQTTSinkSettingsTests {
    private static let plugins = PluginRegistry.builtIn.adding(sink: MQTTSinkSettings.self)

    private static func parse(_ sink: String) throws(ConfigurationErrors) -> TributaryConfiguration {
        try .parse(pipeline: "[[sinks]]\ntype = \"mqtt\"\ntopics = [\"readings\"]\n" + sink, file: "t.toml", plugins: plugins)
    }

    @Test("broker URLs", arguments: [
        ("mqtt://central.example.com", "central.example.com", 1883),
        ("mqtt://10.0.0.7:8883", "10.0.0.7", 8883),
        ("mqtt://[::1]:1884/", "::1", 1884),
    ])
    func brokerURLs(_ url: String, _ host: String, _ port: Int) {
        #expect(MQTTBroker(url: url) == MQTTBroker(host: host, port: port))
    }

    @Test("not broker URLs", arguments: ["central:1883", "mqtt://", "mqtt://host:0", "mqtt://host:x", "http://host"])
    func notBrokerURLs(_ url: String) {
        #expect(MQTTBroker(url: url) == nil)
    }

    @Test("the keys, their defaults, and the topic each reading goes to")
    func keys() throws {
        let sink = try #require(try Self.parse("url = \"mqtt://central:1884\"\nqos = 2").sinks.first)
        let settings = try #require(sink.settings as? MQTTSinkSettings)
        #expect(settings.connection.broker == MQTTBroker(host: "central", port: 1884) && settings.qos == 2)
        #expect(settings.maxInflight == 100 && settings.connection.clientID == nil)
        #expect(settings.payload == .json && settings.topicTemplate == "devices/{device}/{topic}/{sensor}")
        let pieces = TopicTemplate(settings.topicTemplate).resolved(device: "box-1", topic: "readings", partition: 1)
        #expect(TopicTemplate.topic(pieces, sensor: "boiler/+temp#") == "devices/box-1/readings/boiler/_temp_",
                "wildcards in a sensor id cannot be published")
    }

    @Test("mistakes name the file, line and key", arguments: [
        ("", 4, "sinks[0].url", "missing required key; expected a broker URL"),
        ("url = \"tcp://central\"", 7, "sinks[0].url", "expected a broker URL like"),
        ("url = \"mqtt://central\"\ninsecure = true", 8, "sinks[0].insecure", "TLS settings need an mqtts:// url"),
        ("url = \"mqtt://central\"\nqos = 3", 8, "sinks[0].qos", "expected 0, 1 or 2"),
        ("url = \"mqtt://central\"\ntopic_template = \"a/#\"", 8, "sinks[0].topic_template", "expected a topic without"),
        ("url = \"mqtt://central\"\npayload = \"json-batch\"\ntopic_template = \"d/{sensor}\"", 9,
         "sinks[0].topic_template", "{sensor} names one reading"),
        ("url = \"mqtt://central\"\npayload = \"csv\"", 8, "sinks[0].payload", "expected \"json\" or \"json-batch\""),
        ("url = \"mqtt://central\"\nbackfill_rate = \"fast\"", 8, "sinks[0].backfill_rate", "expected a size like"),
    ])
    func mistakes(_ keys: String, _ line: Int, _ key: String, _ message: String) throws {
        try expectOneMistake(line: line, key: key, message: message) { try Self.parse(keys) }
    }
}
