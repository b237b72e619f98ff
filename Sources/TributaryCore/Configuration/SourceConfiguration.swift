/// One `[[sources]]` entry: where readings come from and which topic they go to.
public struct SourceConfiguration: Sendable, Equatable {
    /// What kind of source, with its own settings.
    public enum Kind: Sendable, Equatable {
        /// `type = "sim"`: simulated sensors.
        case simulated(SimulatedSourceConfiguration)
    }

    /// Unique among sources; used in metrics and logs. Defaults to `TYPE-INDEX`.
    public var name: String
    /// The topic its readings are stored in.
    public var topic: String
    public var kind: Kind
    /// `dead_letter_topic`: where input the source cannot read is kept, raw;
    /// nil: such input is only counted and logged.
    public var deadLetterTopic: String?

    /// A source of `kind` named `name` writing to `topic`.
    public init(name: String, topic: String, kind: Kind, deadLetterTopic: String? = nil) {
        self.name = name
        self.topic = topic
        self.kind = kind
        self.deadLetterTopic = deadLetterTopic
    }

    /// Types this version implements, and the ones planned.
    static let supportedTypes = ["sim"]
    static let plannedTypes = ["serial", "gpio", "modbus", "mqtt"]

    static func read(_ table: TableReader, index: Int, topics: Set<String>) -> SourceConfiguration? {
        guard let type = readType(table, supported: supportedTypes, planned: plannedTypes, what: "sources") else {
            return nil
        }
        let name = table.string("name", expected: "a name for the source") ?? "\(type)-\(index)"
        if !TopicSettings.isValidName(name) {
            table.report("name", "expected 1 to 64 of A-Z a-z 0-9 . _ - (it names the sensors), found \"\(name)\"")
        }
        let topic = readTopic("topic", table, topics: topics)
        let deadLetterTopic = table.value("dead_letter_topic") == nil
            ? nil : readTopic("dead_letter_topic", table, topics: topics)
        let simulated = SimulatedSourceConfiguration.read(table)
        table.finish()
        guard let topic else { return nil }
        return SourceConfiguration(name: name, topic: topic, kind: .simulated(simulated),
                                   deadLetterTopic: deadLetterTopic)
    }

    private static func readTopic(_ key: String, _ table: TableReader, topics: Set<String>) -> String? {
        guard table.value(key) != nil else {
            table.reportMissing(key, expected: "the name of a topic defined under [topics]")
            return nil
        }
        guard let topic = table.string(key, expected: "the name of a topic defined under [topics]") else {
            return nil
        }
        guard topics.contains(topic) else {
            table.report(key, unknownTopicMessage(topic, topics: topics))
            return nil
        }
        return topic
    }
}

/// Reads `type`, which must be present and implemented. Planned types get
/// their own message so nobody hunts for a typo; the rest of such a table is
/// not checked, because its keys are not defined yet.
func readType(_ table: TableReader, supported: [String], planned: [String], what: String) -> String? {
    let quoted = supported.map { "\"\($0)\"" }.joined(separator: " or ")
    guard table.value("type") != nil else {
        table.reportMissing("type", expected: quoted)
        return nil
    }
    guard let type = table.string("type", expected: quoted) else { return nil }
    if supported.contains(type) { return type }
    if planned.contains(type) {
        table.report("type", "\"\(type)\" \(what) are not supported yet by this version of tributary; "
            + "supported: \(quoted)")
    } else {
        table.report("type", "expected \(quoted), found \"\(type)\"")
    }
    return nil
}

func unknownTopicMessage(_ topic: String, topics: Set<String>) -> String {
    let defined = topics.isEmpty ? "none is defined" : "defined: " + topics.sorted().joined(separator: ", ")
    return "no topic \"\(topic)\" under [topics] (\(defined))"
}
