/// Everything `/etc/tributary/tributary.toml` says, validated.
///
/// Load it with `load(path:)`; every mistake in the file comes back at once
/// as `ConfigurationErrors`, each naming the file, line and key.
public struct TributaryConfiguration: Sendable, Equatable {
    /// Where the daemon looks when no path is given.
    public static let defaultPath = "/etc/tributary/tributary.toml"

    /// `device.id`, or the machine id.
    public var deviceID: String
    public var log: LogSettings
    /// Topics by name.
    public var topics: [String: TopicSettings]
    public var sources: [SourceConfiguration]
    public var sinks: [SinkConfiguration]
    public var metrics: MetricsConfiguration

    /// A configuration made in code (the demo's, tests').
    public init(deviceID: String, log: LogSettings = LogSettings(), topics: [String: TopicSettings],
                sources: [SourceConfiguration] = [], sinks: [SinkConfiguration] = [],
                metrics: MetricsConfiguration = MetricsConfiguration()) {
        self.deviceID = deviceID
        self.log = log
        self.topics = topics
        self.sources = sources
        self.sinks = sinks
        self.metrics = metrics
    }

    /// Reads and validates the file at `path`.
    /// - Parameter machineIDPath: read for the device id when the file gives none.
    /// - Throws: `ConfigurationErrors` listing every mistake, the file's being unreadable included.
    /// - Parameter plugins: the kinds of sources and sinks `type` may name.
    public static func load(path: String = defaultPath, machineIDPath: String = "/etc/machine-id",
                            plugins: PluginRegistry = .builtIn,
                            profileDirectories: [String]? = nil) throws(ConfigurationErrors) -> Self {
        let text: String
        do {
            text = try TextFile.read(path)
        } catch {
            throw ConfigurationErrors([ConfigurationError(file: path, line: nil, key: "",
                                                          message: "cannot read the configuration: \(error)")])
        }
        return try parse(text, file: path, machineIDPath: machineIDPath, plugins: plugins,
                         profileDirectories: profileDirectories)
    }

    /// Validates `text` as if read from `file` (which names it in errors and
    /// anchors relative secret and profile paths).
    /// - Parameter profileDirectories: where `profile = "NAME"` looks for `NAME.toml`; by default
    ///   `profiles/` beside `file`, then `/usr/share/tributary/profiles`.
    /// - Throws: `ConfigurationErrors` listing every mistake.
    public static func parse(_ text: String, file: String, machineIDPath: String = "/etc/machine-id",
                             plugins: PluginRegistry = .builtIn,
                             profileDirectories: [String]? = nil) throws(ConfigurationErrors) -> Self {
        let document: (entries: [String: ConfigurationNode], sourceMap: ConfigurationSourceMap)
        do {
            document = try TOMLReader.read(text)
        } catch {
            throw ConfigurationErrors([error.configurationError(file: file)])
        }
        let diagnostics = ConfigurationDiagnostics(file: file, sourceMap: document.sourceMap)
        var profiles = ConfigurationProfiles(
            directories: profileDirectories ?? ConfigurationProfiles.defaultDirectories(configurationFile: file),
            diagnostics: diagnostics)
        let reader = TableReader(path: ConfigurationPath(), entries: profiles.expand(document.entries), diagnostics: diagnostics)
        let configuration = read(reader, machineIDPath: machineIDPath, plugins: plugins)
        guard diagnostics.errors.isEmpty, let configuration else { throw ConfigurationErrors(diagnostics.errors) }
        return configuration
    }

    private static func read(_ root: TableReader, machineIDPath: String, plugins: PluginRegistry) -> Self? {
        let diagnostics = root.diagnostics
        let deviceID = DeviceIdentity.read(root.table("device"), diagnostics: diagnostics,
                                           machineIDPath: machineIDPath)
        let log = LogSettings.read(root.table("log"))
        let topics = readTopics(root)
        let names = Set(topics.keys)
        let sources = (root.tables("sources") ?? []).enumerated().compactMap { index, table in
            SourceConfiguration.read(table, index: index, topics: names, plugins: plugins)
        }
        let sinks = (root.tables("sinks") ?? []).enumerated().compactMap { index, table in
            SinkConfiguration.read(table, index: index, topics: names, plugins: plugins)
        }
        reportDuplicates(sources.map(\.name), in: "sources", diagnostics)
        reportDuplicates(sinks.map(\.name), in: "sinks", diagnostics)
        let metrics = MetricsConfiguration.read(root.table("metrics"))
        root.finish()
        guard let deviceID else { return nil }
        let configuration = TributaryConfiguration(deviceID: deviceID, log: log, topics: topics, sources: sources,
                                                   sinks: sinks, metrics: metrics)
        checkDiskBudget(configuration, diagnostics)
        return configuration
    }

    private static func readTopics(_ root: TableReader) -> [String: TopicSettings] {
        guard let table = root.table("topics") else {
            root.reportMissing("topics", expected: "at least one topic, like [topics.readings]")
            return [:]
        }
        var topics: [String: TopicSettings] = [:]
        for name in table.keys {
            guard let topic = table.table(name) else { continue }
            if !TopicSettings.isValidName(name) {
                table.report(name, "expected a topic name of 1 to 64 of A-Z a-z 0-9 . _ - (it names directories)")
            }
            topics[name] = TopicSettings.read(topic)
        }
        if topics.isEmpty && table.keys.isEmpty {
            root.report("topics", "expected at least one topic, like [topics.readings], found none")
        }
        table.finish()
        return topics
    }

    private static func reportDuplicates(_ names: [String], in key: String, _ diagnostics: ConfigurationDiagnostics) {
        var seen = Set<String>()
        for (index, name) in names.enumerated() where !seen.insert(name).inserted {
            diagnostics.report(ConfigurationPath([.key(key), .index(index), .key("name")]),
                               "another entry of \(key) is already named \"\(name)\"; names must be unique")
        }
    }

    /// The log's own rule (`LogConfiguration.minimumDiskBudget`), reported against `log.disk_budget`.
    private static func checkDiskBudget(_ configuration: Self, _ diagnostics: ConfigurationDiagnostics) {
        guard let budget = configuration.log.diskBudget else { return }
        let partitions = configuration.topics.values.reduce(0) { $0 + $1.partitions }
        let needed = LogConfiguration.minimumDiskBudget(partitions: partitions,
                                                        segmentBytes: configuration.log.segmentBytes)
        if let needed, budget >= needed { return }
        diagnostics.report(ConfigurationPath([.key("log"), .key("disk_budget")]),
                           "expected at least \(needed.map(String.init) ?? "more than Int64.max") bytes "
                               + "((\(partitions) partitions + 1) x segment_size), found \(budget)")
    }
}
