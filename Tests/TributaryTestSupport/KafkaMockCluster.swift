import Foundation

/// librdkafka's mock Kafka cluster on 127.0.0.1 (`tributary-bench
/// kafka-mock`, built beside the tests), started by a test and stopped with
/// it; its faults are set through the helper's commands.
public final class KafkaMockCluster: @unchecked Sendable {
    /// `host:port,...` of the brokers.
    public private(set) var bootstrap = ""
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffered: [UInt8] = []

    public init(brokers: Int = 3) throws {
        let process = self.process
        process.executableURL = TributaryProcess.built("tributary-bench")
        process.arguments = ["kafka-mock", "--brokers", "\(brokers)"]
        process.standardInput = input
        process.standardOutput = output
        try ProcessEnvironment.reading { try process.run() }
        guard let line = nextLine(), line.hasPrefix("bootstrap ") else {
            throw SocketFailure(call: "start the mock Kafka cluster", errno: 0)
        }
        bootstrap = String(line.dropFirst("bootstrap ".count))
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    /// Runs one helper command (`topic NAME PARTITIONS REPLICAS`, `down BROKER`,
    /// `up BROKER`, `leader TOPIC PARTITION BROKER`, `rtt BROKER MS`,
    /// `errors API CODE...`, `topicerror TOPIC CODE`) and waits for its answer.
    /// - Throws: when the helper answers with an error.
    public func command(_ line: String) throws {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
        let answer = nextLine()
        guard answer == "ok" else { throw SocketFailure(call: "mock Kafka cluster: \(line): \(answer ?? "no answer")", errno: 0) }
    }

    private func nextLine() -> String? {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                defer { buffered.removeSubrange(...newline) }
                return String(decoding: buffered[..<newline], as: UTF8.self)
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffered += chunk
        }
    }
}
