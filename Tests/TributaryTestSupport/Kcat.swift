import Foundation

/// kcat, an independent Kafka client, for checking what reached the mock cluster.
public enum Kcat {
    /// Runs kcat with `arguments` and `input` on standard input; its output, once it has ended (at most 120 s).
    public static func run(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String) {
        let scratch = try Scratch()
        let inputFile = scratch.path("in")
        let outputFile = scratch.path("out")
        try Data(input.utf8).write(to: URL(fileURLWithPath: inputFile))
        _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputFile))
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        process.standardError = FileHandle.nullDevice
        try ProcessEnvironment.reading { try process.run() }
        guard waitUntil(seconds: 120, { !process.isRunning }) else {
            kill(process.processIdentifier, SIGKILL)
            throw SocketFailure(call: "kcat \(arguments.joined(separator: " ")) did not end", errno: 0)
        }
        return (process.terminationStatus, (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "")
    }

    /// A record as `kcat -C -J` prints it.
    public struct Record: Decodable, Sendable {
        public var topic: String
        public var partition: Int
        public var offset: Int64
        public var ts: Int64
        public var key: String?
        public var payload: String?
        /// Names and values, alternating.
        public var headers: [String]?

        /// The headers by name.
        public var header: [String: String] {
            let list = headers ?? []
            return Dictionary(stride(from: 0, to: list.count - 1, by: 2).map { (list[$0], list[$0 + 1]) }) { $1 }
        }
    }

    /// Every record of `topic` now, consumed from the start.
    public static func consume(_ bootstrap: String, topic: String) throws -> [Record] {
        let consumed = try run(["-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-J"])
        return try consumed.output.split(separator: "\n").map {
            try JSONDecoder().decode(Record.self, from: Data($0.utf8))
        }
    }
}
