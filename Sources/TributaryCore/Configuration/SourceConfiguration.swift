/// One `[[sources]]` entry: where readings come from and which topic they go to.
public struct SourceConfiguration: Sendable, Equatable {
    /// Unique among sources; used in metrics and logs. Defaults to `TYPE-INDEX`.
    public var name: String
    /// The topic its readings are stored in.
    public var topic: String
    /// `dead_letter_topic`: where input the source cannot read is kept, raw;
    /// nil: such input is only counted and logged.
    public var deadLetterTopic: String?
    /// The settings of its kind (`type`), read by that kind's plug-in.
    public var settings: any SourceSettings

    /// A source with `settings` named `name` writing to `topic`.
    public init(name: String, topic: String, settings: any SourceSettings, deadLetterTopic: String? = nil) {
        self.name = name
        self.topic = topic
        self.settings = settings
        self.deadLetterTopic = deadLetterTopic
    }

    /// The `type` of the source.
    public var type: String { Swift.type(of: settings).type }

    /// The source, ready to run.
    public func makeSource(context: PluginContext) throws -> any Source {
        try settings.makeSource(name: name, context: context)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.name == rhs.name && lhs.topic == rhs.topic && lhs.deadLetterTopic == rhs.deadLetterTopic
            && lhs.settings.isEqual(to: rhs.settings)
    }

    static func read(_ table: TableReader, index: Int, topics: Set<String>,
                     plugins: PluginRegistry) -> SourceConfiguration? {
        guard let kind = readType(table, supported: plugins.sources, planned: PluginRegistry.plannedSources,
                                  what: "sources") else { return nil }
        let name = table.string("name", expected: "a name for the source") ?? "\(kind.type)-\(index)"
        if !TopicSettings.isValidName(name) {
            table.report("name", "expected 1 to 64 of A-Z a-z 0-9 . _ - (it names the sensors), found \"\(name)\"")
        }
        let topic = readTopic("topic", table, topics: topics)
        let deadLetterTopic = table.contains("dead_letter_topic")
            ? readTopic("dead_letter_topic", table, topics: topics) : nil
        let settings = kind.read(table)
        table.finish()
        guard let topic, let settings else { return nil }
        return SourceConfiguration(name: name, topic: topic, settings: settings, deadLetterTopic: deadLetterTopic)
    }

    private static func readTopic(_ key: String, _ table: TableReader, topics: Set<String>) -> String? {
        guard table.contains(key) else {
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

/// Reads `type`, which must name a registered kind. Planned types get
/// their own message so nobody hunts for a typo; the rest of such a table is
/// not checked, because its keys are not defined yet.
func readType<Kind>(_ table: TableReader, supported: [String: Kind], planned: [String], what: String) -> Kind? {
    let quoted = supported.keys.sorted().map { "\"\($0)\"" }.joined(separator: " or ")
    guard table.value("type") != nil else {
        table.reportMissing("type", expected: quoted)
        return nil
    }
    guard let type = table.string("type", expected: quoted) else { return nil }
    if let kind = supported[type] { return kind }
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
