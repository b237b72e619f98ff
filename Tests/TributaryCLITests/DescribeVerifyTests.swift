import Foundation
import Testing
import TributaryLog
import TributaryTestSupport

@Suite("tributary log describe and verify")
struct DescribeVerifyTests {
    /// Partition 0 holds 10 readings (a consumer has committed 4), partition 1 holds 5.
    private func makeLog(in scratch: Scratch) throws -> String {
        let directory = scratch.path("log")
        var configuration = LogConfiguration(directory: directory)
        configuration.flush = .everyBatch
        let log = try Log.open(configuration)
        let partitions = try log.topic("sensors", creatingWith: 2)
        try partitions[0].append((0..<10).map { Reading(sensor: "a", timestamp: 1000 + Int64($0), value: .int(Int64($0))) })
        try partitions[1].append((0..<5).map { Reading(sensor: "b", timestamp: 2000 + Int64($0), value: .bool(true)) })
        try partitions[0].commit(4, for: "kafka")
        try log.close()
        return directory
    }

    @Test("describe --json shows each partition's offsets, timestamps and consumer lag")
    func describeJSON() throws {
        let scratch = try Scratch()
        let directory = try makeLog(in: scratch)
        let describe = try TributaryProcess.run(["log", "describe", "--data", directory, "--json"], scratch: scratch)
        #expect(describe.status == 0, "\(describe.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(describe.stdout.utf8)) as? [String: Any])
        let topics = try #require(object["topics"] as? [[String: Any]])
        #expect(topics.count == 1)
        #expect(topics.first?["topic"] as? String == "sensors")
        let partitions = try #require(topics.first?["partitions"] as? [[String: Any]])
        #expect(partitions.map { $0["start_offset"] as? Int } == [0, 0])
        #expect(partitions.map { $0["end_offset"] as? Int } == [10, 5])
        #expect(partitions.map { $0["readings"] as? Int } == [10, 5])
        #expect(partitions.map { $0["first_timestamp"] as? Int } == [1000, 2000])
        #expect(partitions.map { $0["last_timestamp"] as? Int } == [1009, 2004])
        let consumers = try #require(partitions.first?["consumers"] as? [[String: Any]])
        #expect(consumers.count == 1)
        #expect(consumers.first?["consumer"] as? String == "kafka")
        #expect(consumers.first?["committed_offset"] as? Int == 4)
        #expect(consumers.first?["lag"] as? Int == 6)
        #expect((partitions.last?["consumers"] as? [Any])?.isEmpty == true)
    }

    @Test("describe prints a table with the same numbers")
    func describeTable() throws {
        let scratch = try Scratch()
        let directory = try makeLog(in: scratch)
        let describe = try TributaryProcess.run(["log", "describe", "--data", directory], scratch: scratch)
        #expect(describe.status == 0)
        let rows = describe.lines.map { $0.split(separator: " ").map(String.init) }
        #expect(rows.contains { $0.prefix(5) == ["sensors", "0", "0", "10", "10"] }, "\(describe.stdout)")
        #expect(rows.contains { $0 == ["kafka", "sensors", "0", "4", "6"] }, "\(describe.stdout)")
    }

    @Test("verify exits 0 on an intact log and 1 naming the file and byte after a flipped byte")
    func verifyFindsFlippedByte() throws {
        let scratch = try Scratch()
        let directory = try makeLog(in: scratch)
        let intact = try TributaryProcess.run(["log", "verify", "--data", directory], scratch: scratch)
        #expect(intact.status == 0, "\(intact.stdout)\(intact.stderr)")
        #expect(intact.lines.first == "checked 2 partitions, 2 segments, 2 batches, 15 readings")
        #expect(intact.lines.last == "intact")

        // Byte 45 is inside the first batch's payload (its header is 40 bytes).
        let segment = directory + "/sensors-0/00000000000000000000.log"
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: segment))
        try file.seek(toOffset: 45)
        let byte = try #require(try file.read(upToCount: 1)?.first)
        try file.seek(toOffset: 45)
        try file.write(contentsOf: [byte ^ 0x5A])
        try file.close()

        let damaged = try TributaryProcess.run(["log", "verify", "--data", directory], scratch: scratch)
        #expect(damaged.status == 1)
        #expect(damaged.stdout.contains("problem: \(segment) at byte 0: checksum mismatch"), "\(damaged.stdout)")
        #expect(damaged.lines.last == "DAMAGED")
        #expect(!damaged.stdout.contains("sensors-1/"), "the other partition is intact")
    }

    @Test("after recovery moves a damaged last segment aside, appended readings do not reuse its offsets")
    func offsetsAreNotReusedAfterDamage() throws {
        let scratch = try Scratch()
        let directory = try makeLog(in: scratch)
        let segment = directory + "/sensors-0/00000000000000000000.log"
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: segment))
        try file.seek(toOffset: 45)
        try file.write(contentsOf: [0xFF, 0x00, 0xFF])
        try file.close()

        let sensor = try #require((0..<100).map { "s\($0)" }.first { Log.partition(forSensor: $0, partitions: 2) == 0 })
        let append = try TributaryProcess.run(["log", "append", "--data", directory, "--topic", "sensors"],
                                              input: #"{"sensor":"\#(sensor)","timestamp":5,"value":1}"#, scratch: scratch)
        #expect(append.status == 0, "\(append.stderr)")
        let dump = try TributaryProcess.run(["log", "dump", "--data", directory, "--topic", "sensors", "--partition", "0"],
                                            scratch: scratch)
        #expect(dump.lines.count == 1)
        #expect(dump.lines.first?.hasPrefix(#"{"offset":10,"#) == true, "\(dump.stdout)")
        let verify = try TributaryProcess.run(["log", "verify", "--data", directory], scratch: scratch)
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("problem: \(segment).corrupt: file moved aside by recovery"), "\(verify.stdout)")
    }

    @Test("verify of a directory that does not exist is an error, not a crash")
    func verifyMissingDirectory() throws {
        let scratch = try Scratch()
        let missing = try TributaryProcess.run(["log", "verify", "--data", scratch.path("nothing")], scratch: scratch)
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("error: open failed on \(scratch.path("nothing"))"), "\(missing.stderr)")
    }
}
