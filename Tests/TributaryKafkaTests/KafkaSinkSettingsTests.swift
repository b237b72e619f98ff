import Foundation
import Testing
import TributaryCore
import TributaryTestSupport
@testable import TributaryKafka

@Suite("Kafka sink settings")
struct KafkaSinkSettingsTests {
    private static let plugins = PluginRegistry.builtIn.adding(sink: KafkaSinkSettings.self)

    private static func parse(_ sink: String, file: String = "t.toml") throws(ConfigurationErrors)
        -> TributaryConfiguration {
        try .parse(pipeline: "[[sinks]]\ntype = \"kafka\"\ntopics = [\"readings\"]\n" + sink, file: file, plugins: plugins)
    }

    private static func properties(_ settings: KafkaSinkSettings) -> [String: String] {
        Dictionary(settings.properties(clientID: "tributary-box-1-central").map { ($0.name, $0.value) }) { $1 }
    }

    @Test("the keys, their defaults, and the librdkafka properties they make")
    func keys() throws {
        let sink = try #require(try Self.parse("brokers = [\"k1:9092\", \"k2:9092,k3:9093\"]").sinks.first)
        let settings = try #require(sink.settings as? KafkaSinkSettings)
        #expect(settings.brokers == ["k1:9092", "k2:9092", "k3:9093"])
        #expect(settings.topicTemplate == "iot.{topic}" && settings.key == .sensor && settings.value == .json)
        let properties = Self.properties(settings)
        #expect(properties["bootstrap.servers"] == "k1:9092,k2:9092,k3:9093")
        #expect(properties["enable.idempotence"] == "true" && properties["acks"] == "all")
        #expect(properties["compression.codec"] == "lz4" && properties["security.protocol"] == "plaintext")
        #expect(properties["client.id"] == "tributary-box-1-central")
    }

    @Test("TLS and SASL from files; librdkafka properties passed through after tributary's own")
    func tlsSASLAndPassThrough() throws {
        let scratch = try Scratch()
        try Data("s3cret\n".utf8).write(to: URL(fileURLWithPath: scratch.path("password")))
        try Data("PEM".utf8).write(to: URL(fileURLWithPath: scratch.path("ca.pem")))
        let sink = try #require(try Self.parse("""
            brokers = "k1:9093"
            tls = true
            ca_file = "ca.pem"
            sasl_mechanism = "SCRAM-SHA-512"
            username = "box"
            password_file = "password"
            compression = "zstd"
            [sinks.librdkafka]
            linger.ms = 50
            "socket.keepalive.enable" = true
            """, file: scratch.path("t.toml")).sinks.first)
        let settings = try #require(sink.settings as? KafkaSinkSettings)
        let properties = Self.properties(settings)
        #expect(properties["security.protocol"] == "sasl_ssl" && properties["sasl.mechanisms"] == "SCRAM-SHA-512")
        #expect(properties["sasl.username"] == "box" && properties["sasl.password"] == "s3cret")
        #expect(properties["ssl.ca.location"] == scratch.path("ca.pem"))
        #expect(properties["ssl.endpoint.identification.algorithm"] == "https", "the broker's name is verified")
        #expect(properties["linger.ms"] == "50" && properties["socket.keepalive.enable"] == "true")
        #expect(properties["compression.codec"] == "zstd")
        #expect(!"\(settings)".contains("s3cret"), "the password is never printed")
    }

    @Test("mistakes name the line and key", arguments: [
        ("topic_template = \"x\"", 4, "sinks[0].brokers", "missing required key"),
        ("brokers = [\"k1\"]", 7, "sinks[0].brokers[0]", "expected host:port"),
        ("brokers = \"k1:9092\"\ntopic_template = \"iot/{topic}\"", 8, "sinks[0].topic_template", "expected a Kafka topic"),
        ("brokers = \"k1:9092\"\ntopic_template = \"iot.{sensor}\"", 8, "sinks[0].topic_template", "{sensor} cannot"),
        ("brokers = \"k1:9092\"\ncompression = \"snappy\"", 8, "sinks[0].compression", "expected \"none\""),
        ("brokers = \"k1:9092\"\nca_file = \"/etc/hostname\"", 8, "sinks[0].ca_file", "TLS settings need tls = true"),
        ("brokers = \"k1:9092\"\nusername = \"u\"", 8, "sinks[0].username", "a user name and password need"),
        ("brokers = \"k1:9092\"\n[sinks.librdkafka]\n\"linger.ms\" = \"soon\"", 9, "sinks[0].librdkafka.\"linger.ms\"",
         "librdkafka refused it: Invalid value for configuration property"),
        ("brokers = \"k1:9092\"\n[sinks.librdkafka]\n\"no.such.thing\" = 1", 9, "sinks[0].librdkafka.\"no.such.thing\"",
         "librdkafka refused it: No such configuration property: \"no.such.thing\""),
        ("brokers = \"k1:9092\"\n[sinks.librdkafka]\n\"delivery.report.only.error\" = true", 9,
         "sinks[0].librdkafka.\"delivery.report.only.error\"", "not allowed"),
    ])
    func mistakes(_ keys: String, _ line: Int, _ key: String, _ message: String) throws {
        try expectOneMistake(line: line, key: key, message: message) { try Self.parse(keys) }
    }
}
