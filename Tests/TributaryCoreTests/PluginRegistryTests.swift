import Testing
import TributaryCore

/// A sink kind written the way a plug-in module would write one: its own
/// keys read through the public `TableReader`, one registration line.
private struct UplinkSettings: SinkSettings {
    static let type = "mqtt"
    var host: String
    var password: Secret?
    var qos: Int

    static func read(_ table: TableReader) -> UplinkSettings? {
        guard let host = table.string("host", expected: "a host name") else {
            if !table.contains("host") { table.reportMissing("host", expected: "a host name") }
            return nil
        }
        return UplinkSettings(host: host, password: table.secretFile("password_file"),
                              qos: table.integer("qos", in: 0...2, expected: "0, 1 or 2") ?? 1)
    }

    var summary: String { "to \(host)" }

    func makeSink(name: String, context: PluginContext) -> any Sink { NullSink(name: name) }
}

private struct NullSink: Sink {
    let name: String
    func send(_ delivery: Delivery) async throws { delivery.acknowledge() }
}

@Suite("Plug-in registry")
struct PluginRegistryTests {
    private static let plugins = PluginRegistry.builtIn.adding(sink: UplinkSettings.self)

    private static func file(_ sink: String) -> String {
        """
        [device]
        id = "b"
        [topics.t]
        [[sinks]]
        topics = ["t"]
        \(sink)
        """
    }

    @Test("a registered kind reads its own keys and makes its sink")
    func registeredKindReadsItsKeys() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let secret = try directory.write("upstream.secret", "hunter2\r\n")
        let configuration = try TributaryConfiguration.parse(
            Self.file("type = \"mqtt\"\nhost = \"central\"\nqos = 2\npassword_file = \"\(secret)\""),
            file: "t.toml", plugins: Self.plugins)
        let sink = try #require(configuration.sinks.first)
        #expect(sink.type == "mqtt" && sink.name == "mqtt-0")
        let settings = try #require(sink.settings as? UplinkSettings)
        #expect(settings == UplinkSettings(host: "central", password: Secret("hunter2"), qos: 2),
                "the secret is read without its trailing newline")
        #expect(!"\(configuration)".contains("hunter2"), "a secret is never printed")
        #expect(try sink.makeSink(context: PluginContext(deviceID: "b", logger: Logger(label: "t"))).name == "mqtt-0")
    }

    @Test("a plug-in's mistakes name file, line and key, and unknown keys get a did-you-mean")
    func pluginMistakes() throws {
        let errors = try #require(throws: ConfigurationErrors.self) {
            try TributaryConfiguration.parse(
                Self.file("type = \"mqtt\"\nhost = \"central\"\nqso = 1\npassword_file = \"/nonexistent/secret\""),
                file: "t.toml", plugins: Self.plugins)
        }
        let described = errors.errors.map(\.description)
        #expect(described.count == 2, "\(described)")
        #expect(described.contains {
            $0.hasPrefix("t.toml:9: sinks[0].password_file: cannot read secret file \"/nonexistent/secret\"")
        }, "\(described)")
        #expect(described.contains { $0.hasPrefix("t.toml:8: sinks[0].qso: unknown key; did you mean \"qos\"?") },
                "\(described)")
    }

    @Test("without its plug-in a planned type is refused as not supported yet, naming the registered ones")
    func plannedTypeWithoutPlugin() throws {
        let errors = try #require(throws: ConfigurationErrors.self) {
            try TributaryConfiguration.parse(Self.file("type = \"mqtt\"\nhost = \"central\""), file: "t.toml")
        }
        #expect(errors.errors.map(\.message) == [
            "\"mqtt\" sinks are not supported yet by this version of tributary; supported: \"stdout\"",
        ])
    }

    @Test("an unknown type lists every registered kind")
    func unknownType() throws {
        let errors = try #require(throws: ConfigurationErrors.self) {
            try TributaryConfiguration.parse(Self.file("type = \"carrier-pigeon\""), file: "t.toml",
                                             plugins: Self.plugins)
        }
        #expect(errors.errors.map(\.message) == ["expected \"mqtt\" or \"stdout\", found \"carrier-pigeon\""])
    }

    @Test("configurations compare by their kinds' settings")
    func equality() {
        let a = SinkConfiguration(name: "a", topics: ["t"], settings: UplinkSettings(host: "x", qos: 1))
        var b = a
        #expect(a == b)
        b.settings = UplinkSettings(host: "y", qos: 1)
        #expect(a != b)
        b.settings = StdoutSinkSettings()
        #expect(a != b)
    }
}
