/// One `[[sinks]]` entry: where stored readings are forwarded, and of which topics.
public struct SinkConfiguration: Sendable, Equatable {
    /// What kind of sink, with its own settings.
    public enum Kind: Sendable, Equatable {
        /// `type = "stdout"`: JSON lines on standard output.
        case stdout
    }

    /// Unique among sinks; it names the sink's committed offsets on disk.
    public var name: String
    /// The topics it forwards, each defined under `[topics]`.
    public var topics: [String]
    public var kind: Kind
    /// `password_file`: accepted by every sink for the brokers to come, read
    /// and checked now; the stdout sink does not use it.
    public var password: Secret?

    /// A sink of `kind` named `name` forwarding `topics`.
    public init(name: String, topics: [String], kind: Kind, password: Secret? = nil) {
        self.name = name
        self.topics = topics
        self.kind = kind
        self.password = password
    }

    static let supportedTypes = ["stdout"]
    static let plannedTypes = ["kafka", "mqtt"]

    static func read(_ table: TableReader, index: Int, topics: Set<String>) -> SinkConfiguration? {
        guard let type = readType(table, supported: supportedTypes, planned: plannedTypes, what: "sinks") else {
            return nil
        }
        let name = table.string("name", expected: "a name for the sink") ?? "\(type)-\(index)"
        if !TopicSettings.isValidName(name) {
            table.report("name", "expected 1 to 64 of A-Z a-z 0-9 . _ - (it names a directory), found \"\(name)\"")
        }
        let expected = "a list of topics defined under [topics], like [\"readings\"]"
        var forwarded: [String]?
        if table.value("topics") == nil {
            table.reportMissing("topics", expected: expected)
        } else if let names = table.strings("topics", expected: expected) {
            if names.isEmpty { table.report("topics", "expected \(expected), found []") }
            for (position, topic) in names.enumerated() where !topics.contains(topic) {
                table.diagnostics.report(table.path.appending("topics").appending(index: position),
                                         unknownTopicMessage(topic, topics: topics))
            }
            forwarded = names
        }
        let password = table.secretFile("password_file")
        table.finish()
        guard let forwarded else { return nil }
        return SinkConfiguration(name: name, topics: forwarded, kind: .stdout, password: password)
    }
}
