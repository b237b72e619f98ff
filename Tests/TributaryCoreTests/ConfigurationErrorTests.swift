import Testing
@testable import TributaryCore

/// One kind of mistake, the file that makes it, and the error it must give.
struct Mistake: CustomTestStringConvertible, Sendable {
    var name: String
    var toml: String
    var line: Int
    var key: String
    var message: String

    var testDescription: String { name }
}

@Suite("Configuration mistakes")
struct ConfigurationErrorTests {
    /// A valid file; each mistake edits or extends it.
    static let valid = """
        [device]
        id = "box-1"

        [log]
        segment_size = "1MiB"

        [topics.readings]
        partitions = 2

        [[sources]]
        type = "sim"
        topic = "readings"
        rate = 10

        [[sinks]]
        type = "stdout"
        topics = ["readings"]
        """

    static let mistakes: [Mistake] = [
        Mistake(name: "bad type", toml: valid.replacingOccurrences("rate = 10", "rate = \"fast\""), line: 13,
                key: "sources[0].rate",
                message: "expected a number of readings per second like 10 or 0.5 (0.001 to 100000), found \"fast\""),
        Mistake(name: "unknown key in a table", toml: valid.replacingOccurrences("partitions = 2", "partitons = 2"),
                line: 8, key: "topics.readings.partitons", message: "unknown key; did you mean \"partitions\"?"),
        Mistake(name: "unknown key in an array-of-tables entry", toml: valid + "\n[[sources]]\ntype = \"sim\"\n"
                    + "topic = \"readings\"\nsensrs = 3\n",
                line: 21, key: "sources[1].sensrs", message: "unknown key; did you mean \"sensors\"?"),
        Mistake(name: "unknown top-level key", toml: valid.replacingOccurrences("[log]", "[logs]"), line: 4,
                key: "logs", message: "unknown key; did you mean \"log\"?"),
        Mistake(name: "missing required key", toml: valid.replacingOccurrences("topic = \"readings\"\n", ""),
                line: 10, key: "sources[0].topic",
                message: "missing required key; expected the name of a topic defined under [topics]"),
        Mistake(name: "unknown dead-letter topic",
                toml: valid.replacingOccurrences("rate = 10", "rate = 10\ndead_letter_topic = \"dead\""), line: 14,
                key: "sources[0].dead_letter_topic", message: "no topic \"dead\" under [topics] (defined: readings)"),
        Mistake(name: "source name that cannot name sensors",
                toml: valid.replacingOccurrences("rate = 10", "rate = 10\nname = \"my source\""), line: 14,
                key: "sources[0].name",
                message: "expected 1 to 64 of A-Z a-z 0-9 . _ - (it names the sensors), found \"my source\""),
        Mistake(name: "bad unit", toml: valid.replacingOccurrences("\"1MiB\"", "\"1 MB/s\""), line: 5,
                key: "log.segment_size", message: "expected a size like \"16MiB\""),
        Mistake(name: "duration without a unit", toml: valid.replacingOccurrences("[log]", "[log]\nsegment_age = 30"),
                line: 5, key: "log.segment_age", message: "expected a duration like \"100ms\", \"30s\""),
        Mistake(name: "out-of-range value", toml: valid.replacingOccurrences("partitions = 2", "partitions = 2000"),
                line: 8, key: "topics.readings.partitions",
                message: "expected a number of partitions from 1 to 1024, found 2000"),
        Mistake(name: "segment size below the minimum", toml: valid.replacingOccurrences("\"1MiB\"", "\"1KiB\""),
                line: 5, key: "log.segment_size", message: "expected at least 65536 bytes, found \"1KiB\""),
        Mistake(name: "delivery size out of range", toml: valid + "\nmax_batch = 0\n", line: 18,
                key: "sinks[0].max_batch", message: "expected a number of readings per delivery from 1 to 1000000"),
        Mistake(name: "delivery bytes too large", toml: valid + "\nmax_batch_bytes = \"1GiB\"\n", line: 18,
                key: "sinks[0].max_batch_bytes", message: "expected at most 268435456 bytes (256MiB)"),
        Mistake(name: "sink position committed too often", toml: valid + "\ncommit_interval = \"10ms\"\n", line: 18,
                key: "sinks[0].commit_interval", message: "expected at least 100 ms"),
        Mistake(name: "retention checked too often",
                toml: valid.replacingOccurrences("[log]", "[log]\nretention_check_interval = \"10ms\""), line: 5,
                key: "log.retention_check_interval", message: "expected at least 100 ms"),
        Mistake(name: "source type not supported yet", toml: valid.replacingOccurrences("type = \"sim\"",
                                                                                        "type = \"modbus\""),
                line: 11, key: "sources[0].type",
                message: "\"modbus\" sources are not supported yet by this version of tributary; supported: \"sim\""),
        Mistake(name: "sink type not supported yet", toml: valid.replacingOccurrences("\"stdout\"", "\"kafka\""),
                line: 16, key: "sinks[0].type", message: "\"kafka\" sinks are not supported yet"),
        Mistake(name: "undefined topic", toml: valid.replacingOccurrences("[\"readings\"]", "[\"readings\", \"x\"]"),
                line: 17, key: "sinks[0].topics[1]", message: "no topic \"x\" under [topics] (defined: readings)"),
        Mistake(name: "disk budget too small", toml: valid.replacingOccurrences("[log]", "[log]\ndisk_budget = \"2MiB\""),
                line: 5, key: "log.disk_budget", message: "expected at least 3145728 bytes"),
        Mistake(name: "bad enum value", toml: valid.replacingOccurrences("[log]", "[log]\nfull_policy = \"drop\""),
                line: 5, key: "log.full_policy", message: "expected \"drop-oldest\" or \"reject-new\", found \"drop\""),
        Mistake(name: "bad listen address", toml: valid + "\n[metrics]\nlisten = \"localhost\"\n", line: 19,
                key: "metrics.listen", message: "expected an address and port like \"127.0.0.1:9464\""),
    ]

    @Test("each kind of mistake names the file, line and key and says what was expected", arguments: mistakes)
    func mistake(_ mistake: Mistake) throws {
        let errors = try #require(throws: ConfigurationErrors.self) {
            try TributaryConfiguration.parse(mistake.toml, file: "/etc/tributary/tributary.toml")
        }
        #expect(errors.errors.count == 1, "\(errors)")
        let error = try #require(errors.errors.first)
        #expect(error.file == "/etc/tributary/tributary.toml")
        #expect(error.line == mistake.line, "\(error)")
        #expect(error.key == mistake.key)
        #expect(error.message.hasPrefix(mistake.message), "\(error.message)")
        #expect(error.description.hasPrefix("/etc/tributary/tributary.toml:\(mistake.line): \(mistake.key): "))
    }

    @Test("a TOML syntax error gives the line and column the reader found it at")
    func syntaxError() throws {
        let text = Self.valid.replacingOccurrences("rate = 10", "rate = = 10")
        let errors = try #require(throws: ConfigurationErrors.self) {
            try TributaryConfiguration.parse(text, file: "t.toml")
        }
        let error = try #require(errors.errors.first)
        #expect(error.line == 13)
        #expect(error.column != nil)
        #expect(error.description.hasPrefix("t.toml:13:"))
        #expect(error.message.hasPrefix("not valid TOML: "))
    }

    @Test("every mistake in a file is reported, in the order of its lines")
    func everyMistake() throws {
        let text = Self.valid.replacingOccurrences("rate = 10", "rate = \"fast\"")
            .replacingOccurrences("partitions = 2", "partitions = 0")
            .replacingOccurrences("\"1MiB\"", "\"big\"")
        let errors = try #require(throws: ConfigurationErrors.self) {
            try TributaryConfiguration.parse(text, file: "t.toml")
        }
        #expect(errors.errors.map(\.line) == [5, 8, 13])
        #expect(errors.description.split(separator: "\n").count == 3)
    }

    @Test("without device.id the id comes from the machine id, and an unreadable one is an error")
    func machineID() throws {
        let text = Self.valid.replacingOccurrences("id = \"box-1\"\n", "")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let machineID = try directory.write("machine-id", "abc123\n")
        #expect(try TributaryConfiguration.parse(text, file: "t.toml", machineIDPath: machineID).deviceID == "abc123")
        let errors = try #require(throws: ConfigurationErrors.self) {
            try TributaryConfiguration.parse(text, file: "t.toml", machineIDPath: directory.path + "/none")
        }
        #expect(errors.errors.map(\.key) == ["device.id"])
        #expect(errors.errors.first?.line == 1)
    }

    @Test("an unreadable configuration file is one error naming the file")
    func unreadableFile() throws {
        let errors = try #require(throws: ConfigurationErrors.self) {
            try TributaryConfiguration.load(path: "/nonexistent/tributary.toml")
        }
        #expect(errors.description == "/nonexistent/tributary.toml: cannot read the configuration: "
            + "No such file or directory")
    }
}

extension String {
    /// Replaces `target` (which must occur) with `replacement`.
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard let range = range(of: target) else { preconditionFailure("\(target) not in the text") }
        return replacingCharacters(in: range, with: replacement)
    }
}
