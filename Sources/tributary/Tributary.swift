import ArgumentParser
import SystemPackage
import TributaryLog

#if canImport(Glibc)
import Glibc
#endif

/// The `tributary` executable: argument parsing and wiring only.
@main
struct Tributary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stores sensor readings in a local, partitioned log and forwards them upstream.",
        version: TributaryVersion.current,
        subcommands: [RunCommand.self, DemoCommand.self, CheckConfigCommand.self, LogCommand.self,
                      StatusCommand.self]
    )

    /// Parses and runs like ArgumentParser's own `main`, but reports the
    /// world's errors (a locked directory, a full disk, a bad input line) as
    /// one "error: ..." line and exit status 1, never a crash.
    static func main() async {
        // A closed pipe on stdout becomes EPIPE from write, handled as OutputClosed.
        signal(SIGPIPE, SIG_IGN)
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch is OutputClosed {
            exit(withError: ExitCode.success)
        } catch let error as LogError {
            fail(error)
        } catch let error as CommandFailure {
            fail(error)
        } catch let error as Errno {
            fail("reading input or writing output failed: \(error)")
        } catch let error as any Error & CustomStringConvertible where !(error is CleanExit) {
            // The pipeline's, the metrics endpoint's and systemd's errors all say what to do.
            fail(error)
        } catch {
            // ArgumentParser's own (help requested by a command group, exit
            // codes) and anything unforeseen: its usual handling.
            exit(withError: error)
        }
    }

    private static func fail(_ error: some CustomStringConvertible) -> Never {
        printError("error: \(error)")
        exit(withError: ExitCode.failure)
    }
}
