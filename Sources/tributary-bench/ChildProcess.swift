#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A child process started with posix_spawn, its standard output readable
/// line by line through a pipe. Used for the writer that the recovery
/// benchmark kills with SIGKILL, and for the `zstd` command. Not thread-safe.
final class ChildProcess {
    let pid: pid_t
    /// The read end of the child's standard output, or -1 once closed.
    private var output: Int32
    /// The write end of the child's standard input when it has a pipe there, else -1.
    private var input: Int32 = -1
    private var buffered: [UInt8] = []
    private var exited = false

    /// Starts `executable` (a path) with `arguments`; its standard error is
    /// the parent's, its standard input /dev/null, or a pipe `writeLine` writes to
    /// with `withInput`.
    init(executable: String, arguments: [String], withInput: Bool = false) throws {
        var fds: [Int32] = [0, 0]
        try FileIO.check(Int(pipe(&fds)), "pipe", executable)
        var inputs: [Int32] = [-1, -1]
        if withInput { try FileIO.check(Int(pipe(&inputs)), "pipe", executable) }
        // The parent's ends must not leak into this or any other child.
        for fd in fds + inputs where fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if withInput {
            posix_spawn_file_actions_adddup2(&actions, inputs[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        // dup2 clears close-on-exec on the child's copy only.
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(fds[1])
        if withInput { close(inputs[0]) }
        guard result == 0 else {
            close(fds[0])
            if withInput { close(inputs[1]) }
            throw FileIO.Failure(operation: "posix_spawn", path: executable, code: result)
        }
        pid = child
        output = fds[0]
        input = inputs[1]
    }

    deinit {
        if output >= 0 { close(output) }
        if input >= 0 { close(input) }
        if !exited {
            kill(pid, SIGKILL)
            _ = waitForExit()
        }
    }

    /// The next line of output (without its newline), waiting at most
    /// `timeoutMilliseconds` (forever if nil); nil on timeout or end of output.
    func readLine(timeoutMilliseconds: Int? = nil) -> String? {
        let deadline = timeoutMilliseconds.map { Stopwatch.nanoseconds() + UInt64($0) * 1_000_000 }
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            guard output >= 0 else { return nil }
            var wait: Int32 = -1
            if let deadline {
                let now = Stopwatch.nanoseconds()
                guard now < deadline else { return nil }
                wait = Int32((deadline - now) / 1_000_000)
            }
            var poller = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, wait)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                close(output)
                output = -1
                if buffered.isEmpty { return nil }
                buffered.append(UInt8(ascii: "\n"))
                continue
            }
            buffered += chunk[..<n]
        }
    }

    /// The lines the child writes in the next `milliseconds` (fewer if it closes its output).
    func readLines(for milliseconds: Int) -> [String] {
        let deadline = Stopwatch.nanoseconds() + UInt64(milliseconds) * 1_000_000
        var lines: [String] = []
        while case let now = Stopwatch.nanoseconds(), now < deadline,
              let line = readLine(timeoutMilliseconds: Int((deadline - now) / 1_000_000) + 1) {
            lines.append(line)
        }
        return lines
    }

    /// Everything the child still writes, until it closes its output.
    func readRemainingOutput() -> [String] {
        var lines: [String] = []
        while let line = readLine() { lines.append(line) }
        return lines
    }

    func send(_ signal: Int32) { kill(pid, signal) }

    /// Writes `line` and a newline to the child's standard input; false if it has none or closed it.
    @discardableResult
    func writeLine(_ line: String) -> Bool {
        guard input >= 0 else { return false }
        let bytes = Array((line + "\n").utf8)
        return bytes.withUnsafeBytes { (try? FileIO.writeAll(input, $0, path: "standard input")) != nil }
    }

    /// Waits for the child and returns its exit status, or 128 + signal.
    @discardableResult
    func waitForExit() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exited = true
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// Runs a command to completion, its output discarded; returns its exit status.
    static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let child = try ChildProcess(executable: executable, arguments: arguments)
        _ = child.readRemainingOutput()
        return child.waitForExit()
    }

    /// The path of `name` on $PATH, if it is there and executable.
    static func find(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where access("\(directory)/\(name)", X_OK) == 0 {
            return "\(directory)/\(name)"
        }
        return nil
    }
}
