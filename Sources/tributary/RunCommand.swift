import ArgumentParser
import Logging
import TributaryCore
import TributaryPlugins
import TributarySystemd

/// `tributary run`: the daemon, as systemd starts it.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: read the sources, store readings in the log, forward them to the sinks.",
        discussion: """
            Stops gracefully on SIGTERM or SIGINT (sources stop, queued readings are made durable, \
            sink offsets are committed); a second signal exits at once. Under systemd it reports \
            readiness, status and watchdog keep-alives, and logs to the journal. Exits with status \
            \(ExitStatus.configuration) when the configuration is invalid.
            """
    )

    @Option(name: .customLong("config"), help: ArgumentHelp("The configuration file.", valueName: "path"))
    var path: String = TributaryConfiguration.defaultPath

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: Logger.Level = .info

    func run() async throws {
        LoggingBootstrap.bootstrap(level: logLevel)
        let configuration: TributaryConfiguration
        do {
            configuration = try TributaryConfiguration.load(path: path, plugins: .tributary)
        } catch {
            for mistake in error.errors { printError(mistake.description) }
            throw ExitCode(ExitStatus.configuration)
        }
        _ = try await Daemon(configuration: configuration, logger: Logger(label: "tributary")).run()
    }
}

/// Exit statuses with a meaning of their own.
enum ExitStatus {
    /// EX_CONFIG: the unit's RestartPreventExitStatus, since restarting cannot fix a bad file.
    static let configuration: Int32 = 78
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
