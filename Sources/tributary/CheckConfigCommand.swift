import ArgumentParser
import TributaryCore
import TributaryPlugins

/// `tributary check-config`: validates a configuration file and starts nothing.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file without starting anything.",
        discussion: "Prints every mistake as FILE:LINE: KEY: MESSAGE on standard error and exits with status 1."
    )

    @Argument(help: ArgumentHelp("The configuration file.", valueName: "path"))
    var path: String = TributaryConfiguration.defaultPath

    func run() throws {
        let configuration: TributaryConfiguration
        do {
            configuration = try TributaryConfiguration.load(path: path, plugins: .tributary)
        } catch {
            for mistake in error.errors { printError(mistake.description) }
            throw ExitCode.failure
        }
        let output = BufferedOutput()
        try output.write(line: Self.summary(configuration, path: path))
        try output.flush()
    }

    static func summary(_ configuration: TributaryConfiguration, path: String) -> String {
        var lines = ["ok: \(path)", "device: \(configuration.deviceID)"]
        let topics = configuration.topics.sorted { $0.key < $1.key }.map { name, topic in
            "\(name) (\(topic.partitions) partition\(topic.partitions == 1 ? "" : "s"))"
        }
        lines.append("topics: " + topics.joined(separator: ", "))
        let sources = configuration.sources.map { source in
            "\(source.name) (\(source.type), \(source.settings.summary) -> \(source.topic))"
        }
        lines.append("sources: " + (sources.isEmpty ? "none" : sources.joined(separator: ", ")))
        let sinks = configuration.sinks.map { sink in
            "\(sink.name) (\(sink.type), \(sink.settings.summary) <- \(sink.topics.joined(separator: ", ")))"
        }
        lines.append("sinks: " + (sinks.isEmpty ? "none" : sinks.joined(separator: ", ")))
        let metrics = configuration.metrics
        lines.append("metrics: " + (metrics.enabled ? "http://\(metrics.listen)/metrics" : "disabled"))
        lines.append("log: \(configuration.log.directory)")
        return lines.joined(separator: "\n")
    }
}
