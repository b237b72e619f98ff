import ArgumentParser
import Logging
import SystemPackage
import TributaryCore
import TributaryLog
import TributarySystemd

#if canImport(Glibc)
import Glibc
#endif

/// `tributary demo`: `tributary run` on a built-in configuration, for a first look.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the daemon on simulated sensors, with a log in a temporary directory.",
        discussion: """
            The same code path as tributary run: simulated sensors -> the log in --data (a new \
            temporary directory unless given; kept afterwards for tributary log) -> a stdout sink \
            printing JSON lines (or nothing with --quiet), with metrics on --listen. Ctrl-C stops it \
            gracefully and prints a summary.
            """
    )

    @Option(help: ArgumentHelp("The log directory (default: a new temporary directory).", valueName: "dir"))
    var data: String?

    @Option(help: ArgumentHelp("Stop after this long, like 30s or 5m (default: until Ctrl-C).", valueName: "time"))
    var duration: String?

    @Option(help: "Readings per second per sensor.")
    var rate: Double = 10

    @Option(help: "How many simulated sensors.")
    var sensors: Int = 4

    @Flag(help: "Do not print the readings; show only the progress line and the summary.")
    var quiet = false

    @Option(help: ArgumentHelp("Where to serve /metrics and /status; \"off\" for nowhere.", valueName: "host:port"))
    var listen: String = "127.0.0.1:9464"

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: Logger.Level = .warning

    func validate() throws {
        guard (1...100_000).contains(sensors) else { throw ValidationError("--sensors must be 1 to 100000") }
        guard rate >= 0.001 && rate <= 100_000 else { throw ValidationError("--rate must be 0.001 to 100000") }
        if let duration, HumanUnits.milliseconds(duration) == nil {
            throw ValidationError("--duration: \(HumanUnits.durationExpectation), found \"\(duration)\"")
        }
        if listen != "off", MetricsConfiguration.parseListen(listen) == nil {
            throw ValidationError("--listen: expected host:port like 127.0.0.1:9464, or off")
        }
    }

    func run() async throws {
        LoggingBootstrap.bootstrap(level: logLevel)
        let directory = try data.map(Self.makeDirectories) ?? Self.makeTemporaryDirectory()
        printError("tributary demo: \(sensors) simulated sensors at \(rate)/s each; log in \(directory)")
        let terminal = isatty(STDERR_FILENO) == 1
        let progressInPlace = terminal && (quiet || isatty(STDOUT_FILENO) == 0)
        var daemon = Daemon(configuration: try demoConfiguration(directory: directory),
                            logger: Logger(label: "tributary"))
        daemon.duration = duration.flatMap(HumanUnits.milliseconds).map { .milliseconds($0) }
        if quiet { daemon.sinkOutput = try FileDescriptor.open("/dev/null", .writeOnly) }
        if terminal {
            daemon.statusInterval = progressInPlace ? .seconds(1) : .seconds(5)
            daemon.onStatus = { current, previous in
                ProgressLine.show(StatusText.line(current, previous: previous), inPlace: progressInPlace)
            }
        }
        let final = try await daemon.run()
        if progressInPlace { printError("") }
        printError(Self.summary(final, directory: directory))
    }

    private func demoConfiguration(directory: String) throws -> TributaryConfiguration {
        var log = LogSettings()
        log.directory = directory
        log.diskBudget = 256 << 20
        log.segmentBytes = 4 << 20
        log.retentionMilliseconds = 24 * 3_600_000
        var sim = SimulatedSourceConfiguration()
        sim.sensors = sensors
        sim.readingsPerSecond = rate
        sim.shapes = [.sine, .randomWalk, .square, .sawtooth]
        var metrics = MetricsConfiguration()
        if listen == "off" {
            metrics.enabled = false
        } else if let (host, port) = MetricsConfiguration.parseListen(listen) {
            (metrics.host, metrics.port) = (host, port)
        }
        return TributaryConfiguration(
            deviceID: "demo", log: log, topics: ["readings": TopicSettings(partitions: 2)],
            sources: [SourceConfiguration(name: "sim", topic: "readings", settings: sim)],
            sinks: [SinkConfiguration(name: "console", topics: ["readings"], settings: StdoutSinkSettings())],
            metrics: metrics)
    }

    /// `--data` with any missing parents created (`mkdir -p`). The daemon's
    /// own log directory is not created this way, so a log meant for an
    /// unmounted card never lands on the root file system.
    private static func makeDirectories(_ path: String) throws -> String {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw CommandFailure.cannotCreateDirectory(prefix, errno: Errno(rawValue: errno))
            }
        }
        return path
    }

    private static func makeTemporaryDirectory() throws -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/tributary-demo-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else {
            throw CommandFailure.cannotCreateDirectory("\(base)/tributary-demo-XXXXXX", errno: Errno(rawValue: errno))
        }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What the closed log takes on disk (while running, the log also counts
    /// the space preallocated for its active segments).
    private static func diskBytes(_ directory: String) -> Int64 {
        (try? Log.open(LogConfiguration(directory: directory), readOnly: true).diskBytes) ?? 0
    }

    static func summary(_ final: PipelineSnapshot, directory: String) -> String {
        let generated = final.sources.reduce(0) { $0 + $1.received }
        let stored = final.topics.reduce(0) { $0 + $1.stored }
        let forwarded = final.sinks.reduce(0) { $0 + $1.forwarded }
        let dropped = final.topics.reduce(0) { $0 + $1.dropped }
        let seconds = (final.uptimeSeconds * 10).rounded() / 10
        // As this process was started (swift run starts .build/.../tributary), so the hint works as printed.
        let tributary = CommandLine.arguments.first ?? "tributary"
        return """
            demo stopped after \(seconds) s
              readings generated  \(HumanText.grouped(generated))
              stored in the log   \(HumanText.grouped(stored)) (\(HumanText.bytes(diskBytes(directory))) on disk)
              forwarded           \(HumanText.grouped(forwarded)), backlog \(HumanText.grouped(
                  final.sinks.reduce(0) { $0 + $1.lag }))
              dropped             \(HumanText.grouped(dropped))
            the log is kept in \(directory); look at it with
              \(tributary) log describe --data \(directory)
              \(tributary) log dump --data \(directory) --topic readings | head
            """
    }
}

/// The demo's progress line on standard error: rewritten in place when the
/// readings do not go to the same terminal, else printed as a line now and then.
enum ProgressLine {
    static func show(_ text: String, inPlace: Bool) {
        if inPlace {
            let line = Array(("\r\u{1B}[K" + text).utf8)
            _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        } else {
            printError("[demo] " + text)
        }
    }
}
