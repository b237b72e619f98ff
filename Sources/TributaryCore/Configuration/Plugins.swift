import Logging
import SystemPackage

/// The settings of one kind of source, read from its `[[sources]]` table,
/// and the source they make: what a source plug-in provides.
///
/// Adding a kind of source is one type conforming to this protocol (beside
/// the `Source` it makes) and one line in the executable's registry
/// (`PluginRegistry.tributary`). Every kind gets the same treatment of its
/// table: errors naming file, line and key, unknown keys reported with
/// "did you mean".
public protocol SourceSettings: Sendable, Equatable {
    /// The `type` value that names this kind of source.
    static var type: String { get }

    /// Reads this kind's own keys. `name`, `type`, `topic` and
    /// `dead_letter_topic` are read for every source; keys no one asked for
    /// are reported as unknown afterwards. Mistakes go to the table's
    /// `report`; nil when what is there cannot make a source.
    static func read(_ table: TableReader) -> Self?

    /// A few words for `tributary check-config`, like "4 sensors at 1/s".
    var summary: String { get }

    /// The source, named `name`, ready to `run`.
    func makeSource(name: String, context: PluginContext) throws -> any Source
}

/// The settings of one kind of sink, read from its `[[sinks]]` table, and
/// the sink they make: what a sink plug-in provides (see `SourceSettings`).
public protocol SinkSettings: Sendable, Equatable {
    /// The `type` value that names this kind of sink.
    static var type: String { get }

    /// Reads this kind's own keys. `name`, `type`, `topics`, `max_batch`,
    /// `max_batch_bytes` and `backfill_rate` are read for every sink; keys no one asked for are
    /// reported as unknown afterwards.
    static func read(_ table: TableReader) -> Self?

    /// A few words for `tributary check-config`, like "JSON lines on standard output".
    var summary: String { get }

    /// The sink, named `name` (which also names its committed offsets).
    func makeSink(name: String, context: PluginContext) throws -> any Sink
}

/// What a plug-in may need from the daemon to make its source or sink.
public struct PluginContext: Sendable {
    /// `device.id`.
    public var deviceID: String
    public var logger: Logger
    /// Where output meant for standard output goes (the demo's `--quiet`
    /// points it at /dev/null).
    public var standardOutput: FileDescriptor
    /// A directory where a plug-in may keep small files across restarts
    /// (`state` in the log's directory), named after its source or sink;
    /// created by the plug-in when it first writes. nil: nowhere (tests).
    public var stateDirectory: String?

    public init(deviceID: String, logger: Logger, standardOutput: FileDescriptor = .standardOutput,
                stateDirectory: String? = nil) {
        self.deviceID = deviceID
        self.logger = logger
        self.standardOutput = standardOutput
        self.stateDirectory = stateDirectory
    }
}

/// The kinds of sources and sinks a configuration may name, by `type`.
public struct PluginRegistry: Sendable {
    public private(set) var sources: [String: any SourceSettings.Type] = [:]
    public private(set) var sinks: [String: any SinkSettings.Type] = [:]

    /// No kinds at all; add them with `adding`.
    public init() {}

    /// The kinds TributaryCore itself provides: `sim` sources and `stdout` sinks.
    public static let builtIn = PluginRegistry()
        .adding(source: SimulatedSourceConfiguration.self)
        .adding(sink: StdoutSinkSettings.self)

    /// This registry with `kind` added (replacing one of the same `type`).
    public func adding(source kind: any SourceSettings.Type) -> Self {
        var registry = self
        registry.sources[kind.type] = kind
        return registry
    }

    /// This registry with `kind` added (replacing one of the same `type`).
    public func adding(sink kind: any SinkSettings.Type) -> Self {
        var registry = self
        registry.sinks[kind.type] = kind
        return registry
    }

    /// Types the roadmap promises, refused with "not supported yet" until a
    /// plug-in registers them, so nobody hunts for a typo.
    static let plannedSources = ["serial", "gpio", "modbus", "mqtt"]
    static let plannedSinks = ["kafka", "mqtt"]
}

extension SourceSettings {
    /// Whether `other` is the same kind with the same settings.
    func isEqual(to other: any SourceSettings) -> Bool { (other as? Self) == self }
}

extension SinkSettings {
    /// Whether `other` is the same kind with the same settings.
    func isEqual(to other: any SinkSettings) -> Bool { (other as? Self) == self }
}
