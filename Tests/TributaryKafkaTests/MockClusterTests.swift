import Foundation
import Testing
import TributaryTestSupport

/// The test bed for the Kafka sink: librdkafka's mock cluster, checked with kcat, an independent client.
@Suite(.serialized)
struct MockClusterTests {
    /// Runs kcat with `arguments` and `input` on standard input; its output, once it has ended (at most 60 s).
    private static func kcat(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String) {
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
        guard waitUntil(seconds: 60, { !process.isRunning }) else {
            kill(process.processIdentifier, SIGKILL)
            throw SocketFailure(call: "kcat \(arguments.joined(separator: " ")) did not end", errno: 0)
        }
        return (process.terminationStatus, (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "")
    }

    private struct Record: Decodable {
        var partition: Int
        var key: String
        var payload: String
        var headers: [String]
    }

    @Test func recordsProducedWithKeysAndHeadersComeBackAndABrokerCanBeTakenDown() async throws {
        let cluster = try await offPool { try KafkaMockCluster(brokers: 3) }
        #expect(cluster.bootstrap.split(separator: ",").count == 3)
        try cluster.command("topic iot.readings 4 3")
        let lines = (0..<1000).map { "s\($0 % 10):{\"v\":\($0)}" }.joined(separator: "\n") + "\n"
        let produced = try await offPool {
            try Self.kcat(["-P", "-b", cluster.bootstrap, "-t", "iot.readings", "-K:", "-H", "device=box-1",
                           "-X", "acks=all", "-X", "enable.idempotence=true"], input: lines)
        }
        #expect(produced.status == 0)
        let consumed = try await offPool {
            try Self.kcat(["-C", "-b", cluster.bootstrap, "-t", "iot.readings", "-e", "-q", "-J"])
        }
        let records = try consumed.output.split(separator: "\n").map {
            try JSONDecoder().decode(Record.self, from: Data($0.utf8))
        }
        #expect(records.count == 1000)
        #expect(records.allSatisfy { $0.headers == ["device", "box-1"] })
        let partitionsOfKey = Dictionary(grouping: records, by: \.key).mapValues { Set($0.map(\.partition)) }
        #expect(partitionsOfKey.count == 10 && partitionsOfKey.values.allSatisfy { $0.count == 1 },
                "a key stays in one partition")
        // Every broker down: a producer with a short timeout fails; up again, it works.
        for broker in 1...3 { try cluster.command("down \(broker)") }
        let refused = try await offPool {
            try Self.kcat(["-P", "-b", cluster.bootstrap, "-t", "iot.readings", "-X", "message.timeout.ms=2000"],
                          input: "x\n")
        }
        #expect(refused.status != 0, "nothing to produce to")
        for broker in 1...3 { try cluster.command("up \(broker)") }
        let accepted = try await offPool {
            try Self.kcat(["-P", "-b", cluster.bootstrap, "-t", "iot.readings", "-X", "message.timeout.ms=10000"],
                          input: "y\n")
        }
        #expect(accepted.status == 0)
        #expect(throws: SocketFailure.self) { try cluster.command("leader nope") }
    }
}
