import Foundation

/// Runs the built `tributary` executable, as a user would.
///
/// Output goes to files rather than pipes, so a large dump cannot fill a pipe
/// and deadlock the test, and a running `tail` can be read at any moment.
public final class TributaryProcess {
    public let process = Process()
    private let stdoutURL: URL
    private let stderrURL: URL

    /// The `tributary` binary that `swift build` put next to this test bundle.
    public static let executable = built("tributary")

    /// The executable `name` (a product of this package) that `swift build` put next to this test bundle.
    public static func built(_ name: String) -> URL {
        let candidates = [
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
            URL(fileURLWithPath: CommandLine.arguments[0]),
        ].map { $0.deletingLastPathComponent().appendingPathComponent(name) }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    /// Starts `tributary arguments...` with `input` as standard input.
    /// - Parameter standardOutput: a pipe to use instead of a file (to read it, or not).
    public init(_ arguments: [String], input: String = "", environment: [String: String]? = nil,
                standardOutput: Pipe? = nil, scratch: Scratch) throws {
        let id = UUID().uuidString
        let stdinURL = scratch.url.appendingPathComponent("stdin-\(id)")
        stdoutURL = scratch.url.appendingPathComponent("stdout-\(id)")
        stderrURL = scratch.url.appendingPathComponent("stderr-\(id)")
        try Data(input.utf8).write(to: stdinURL)
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = Self.executable
        process.arguments = arguments
        // Never the notification socket a systemd test has just set in this process: the child
        // would answer it (READY=1) in that test's place.
        var inherited = environment ?? ProcessEnvironment.reading { ProcessInfo.processInfo.environment }
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] where environment == nil { inherited[name] = nil }
        process.environment = inherited
        process.standardInput = try FileHandle(forReadingFrom: stdinURL)
        if let standardOutput {
            process.standardOutput = standardOutput
        } else {
            process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        }
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try ProcessEnvironment.reading { try process.run() }
    }

    /// A test that fails (or throws) before stopping its daemon does not leave it running.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Runs to completion and returns what it printed.
    public static func run(_ arguments: [String], input: String = "", scratch: Scratch) throws -> Outcome {
        let running = try TributaryProcess(arguments, input: input, scratch: scratch)
        running.process.waitUntilExit()
        return running.outcome
    }

    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Exit status and output of a finished process.
    public var outcome: Outcome {
        Outcome(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    /// Waits until `condition` holds, polling; false after `seconds`.
    public func wait(seconds: Double = 20, until condition: (TributaryProcess) -> Bool) -> Bool {
        waitUntil(seconds: seconds) { condition(self) }
    }

    public struct Outcome {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }
}

/// A fresh directory for one test, removed when the test is done with it.
public final class Scratch: Sendable {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tributary-cli-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// A path inside the scratch directory (not created).
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}
