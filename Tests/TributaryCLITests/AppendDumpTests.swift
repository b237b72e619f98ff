import Foundation
import Testing
import TributaryLog
import TributaryTestSupport

@Suite("tributary log dump and append")
struct AppendDumpTests {
    @Test("dump piped into append copies every value type and edge case exactly", arguments: [1, 3])
    func dumpThenAppendRoundTrips(partitions: Int) throws {
        let seed: UInt64 = 88_172_645_463_325_252
        print("seed \(seed)")
        let scratch = try Scratch()
        let original = LogFixtures.edgeCases(seed: seed)
        try LogFixtures.write(original, to: scratch.path("a"), topic: "t", partitions: partitions)

        let dump = try TributaryProcess.run(["log", "dump", "--data", scratch.path("a"), "--topic", "t"], scratch: scratch)
        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(dump.lines.count == original.count)
        let append = try TributaryProcess.run(["log", "append", "--data", scratch.path("b"), "--topic", "t",
                                               "--partitions", String(partitions)],
                                              input: dump.stdout, scratch: scratch)
        #expect(append.status == 0, "\(append.stderr)")
        #expect(append.stderr.contains("appended \(original.count) readings"))

        let copied = try LogFixtures.read(scratch.path("b"), topic: "t")
        let expected = try LogFixtures.read(scratch.path("a"), topic: "t")
        #expect(copied.count == partitions)
        for (copy, source) in zip(copied, expected) {
            #expect(copy.count == source.count)
            for (a, b) in zip(copy, source) where a != b {
                Issue.record("offset \(a.offset): copied \(a.reading), expected \(b.reading)")
            }
        }
        let redump = try TributaryProcess.run(["log", "dump", "--data", scratch.path("b"), "--topic", "t"],
                                              scratch: scratch)
        #expect(redump.stdout == dump.stdout)
    }

    @Test("dump prints fields in a fixed order, with non-finite doubles and bytes as strings")
    func dumpLineFormat() throws {
        let scratch = try Scratch()
        try LogFixtures.write([
            Reading(sensor: "s", timestamp: 1_767_225_600_000, value: .double(-.infinity)),
            Reading(sensor: "s", timestamp: 1_767_225_600_001, value: .bytes([1, 2, 3])),
        ], to: scratch.path("a"), topic: "t", partitions: 1)
        let dump = try TributaryProcess.run(["log", "dump", "--data", scratch.path("a"), "--topic", "t"], scratch: scratch)
        #expect(dump.lines == [
            #"{"offset":0,"partition":0,"timestamp":1767225600000,"time":"2026-01-01T00:00:00.000Z","sensor":"s","type":"double","value":"-Infinity"}"#,
            #"{"offset":1,"partition":0,"timestamp":1767225600001,"time":"2026-01-01T00:00:00.001Z","sensor":"s","type":"bytes","value":"AQID"}"#,
        ])
    }

    @Test("dump starts at an offset or a time and stops at the limit")
    func dumpRange() throws {
        let scratch = try Scratch()
        let readings = (0..<100).map { Reading(sensor: "s", timestamp: 1_767_225_600_000 + Int64($0) * 1000, value: .int(Int64($0))) }
        try LogFixtures.write(readings, to: scratch.path("a"), topic: "t", partitions: 1)
        let base = ["log", "dump", "--data", scratch.path("a"), "--topic", "t"]
        let fromOffset = try TributaryProcess.run(base + ["--from", "90"], scratch: scratch)
        #expect(fromOffset.lines.count == 10)
        #expect(fromOffset.lines.first?.hasPrefix(#"{"offset":90,"#) == true)
        let since = try TributaryProcess.run(base + ["--since", "2026-01-01T00:01:00Z", "--limit", "3"], scratch: scratch)
        #expect(since.lines.map { $0.prefix(12) } == [#"{"offset":60"#, #"{"offset":61"#, #"{"offset":62"#])
        let sinceMilliseconds = try TributaryProcess.run(base + ["--since", "1767225699000"], scratch: scratch)
        #expect(sinceMilliseconds.lines.count == 1)
        let both = try TributaryProcess.run(base + ["--from", "1", "--since", "0"], scratch: scratch)
        #expect(both.status != 0)
        #expect(both.stderr.contains("--from or --since"))
    }

    @Test("append takes the type from the JSON value when a line has none", arguments: [
        (#"{"sensor":"s","timestamp":5,"value":7}"#, #""type":"int","value":7"#),
        (#"{"sensor":"s","timestamp":5,"value":7.25}"#, #""type":"double","value":7.25"#),
        (#"{"sensor":"s","timestamp":5,"value":false}"#, #""type":"bool","value":false"#),
        (#"{"sensor":"s","time":"2026-01-01T00:00:00Z","value":"on"}"#, #""type":"string","value":"on""#),
    ])
    func appendInfersType(line: String, expected: String) throws {
        let scratch = try Scratch()
        let append = try TributaryProcess.run(["log", "append", "--data", scratch.path("a"), "--topic", "t"],
                                              input: line + "\n", scratch: scratch)
        #expect(append.status == 0, "\(append.stderr)")
        let dump = try TributaryProcess.run(["log", "dump", "--data", scratch.path("a"), "--topic", "t"], scratch: scratch)
        #expect(dump.stdout.contains(expected), "\(dump.stdout)")
    }

    @Test("a malformed line is named with its number and reason, and the lines before it stay appended", arguments: [
        (#"{"sensor":"s","timestamp":3,"type":"int","value":1.5}"#, "value 1.5 is not a whole number"),
        (#"{"sensor":"s","timestamp":3,"value":1"#, "invalid JSON at column 38: line ends where ',' or '}' was expected"),
        (#"{"sensor":"s","value":1}"#, #"missing field "timestamp""#),
        (#"{"sensor":"s","timestamp":3,"type":"int","value":9223372036854775808}"#, "does not fit in a 64-bit integer"),
        (#"{"sensor":"s","timestamp":3,"type":"bytes","value":"@@"}"#, "not valid base64"),
        (#"{"sensor":"s","timestamp":3,"type":"decimal","value":1}"#, #"unknown type "decimal""#),
        (#"{"sensor":1,"timestamp":3,"value":1}"#, #"field "sensor" must be a string"#),
        ("[1, 2]", "expected a JSON object"),
    ])
    func malformedLine(line: String, reason: String) throws {
        let scratch = try Scratch()
        let good = #"{"sensor":"s","timestamp":1,"value":1}"#
        let append = try TributaryProcess.run(["log", "append", "--data", scratch.path("a"), "--topic", "t"],
                                              input: [good, "", line, good].joined(separator: "\n"), scratch: scratch)
        #expect(append.status == 1)
        #expect(append.stderr.hasPrefix("error: line 3: "), "\(append.stderr)")
        #expect(append.stderr.contains(reason), "\(append.stderr)")
        #expect(append.stderr.contains("the 1 readings before it were appended"), "\(append.stderr)")
        #expect(!append.stderr.contains("Fatal error"))
        let dump = try TributaryProcess.run(["log", "dump", "--data", scratch.path("a"), "--topic", "t"], scratch: scratch)
        #expect(dump.lines.count == 1)
    }

    @Test("a bad first line leaves the log without the topic")
    func badFirstLineAppendsNothing() throws {
        let scratch = try Scratch()
        let append = try TributaryProcess.run(["log", "append", "--data", scratch.path("a"), "--topic", "t"],
                                              input: "not json\n", scratch: scratch)
        #expect(append.status == 1)
        #expect(append.stderr.contains("line 1: invalid JSON at column 1"), "\(append.stderr)")
        #expect(append.stderr.contains("nothing was appended"))
        let describe = try TributaryProcess.run(["log", "describe", "--data", scratch.path("a"), "--json"], scratch: scratch)
        #expect(describe.stdout.contains(#""topics":[]"#), "\(describe.stdout)")
    }

    @Test("append refuses with a clear message while another process holds the log")
    func appendRefusesWhenLocked() throws {
        let scratch = try Scratch()
        let held = try Log.open(LogConfiguration(directory: scratch.path("a")))
        let input = #"{"sensor":"s","timestamp":1,"value":1}"# + "\n"
        let refused = try TributaryProcess.run(["log", "append", "--data", scratch.path("a"), "--topic", "t"],
                                               input: input, scratch: scratch)
        #expect(refused.status == 1)
        #expect(refused.stderr == "error: \(scratch.path("a"))/.lock is locked by another process (is the daemon running?)\n")
        try held.close()
        let accepted = try TributaryProcess.run(["log", "append", "--data", scratch.path("a"), "--topic", "t"],
                                                input: input, scratch: scratch)
        #expect(accepted.status == 0, "\(accepted.stderr)")
    }

    @Test("an unknown topic or partition is an error naming it, not a crash")
    func unknownTopic() throws {
        let scratch = try Scratch()
        try LogFixtures.write([Reading(sensor: "s", timestamp: 1, value: .int(1))], to: scratch.path("a"),
                              topic: "t", partitions: 1)
        let topic = try TributaryProcess.run(["log", "dump", "--data", scratch.path("a"), "--topic", "x"], scratch: scratch)
        #expect(topic.status == 1)
        #expect(topic.stderr == "error: no topic x in \(scratch.path("a")) (its topics are t)\n")
        let partition = try TributaryProcess.run(["log", "dump", "--data", scratch.path("a"), "--topic", "t",
                                                  "--partition", "4"], scratch: scratch)
        #expect(partition.status == 1)
        #expect(partition.stderr == "error: no partition 4 in topic t\n")
    }
}
