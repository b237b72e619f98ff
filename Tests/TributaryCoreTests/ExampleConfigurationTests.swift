import Foundation
import Testing
import TributaryLog
@testable import TributaryCore

@Suite("The shipped example configuration")
struct ExampleConfigurationTests {
    /// packaging/tributary.toml, found from this file's place in the repository.
    static let examplePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("packaging/tributary.toml").path

    @Test("the example configuration parses with the values its comments promise")
    func exampleParses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let machineID = try directory.write("machine-id", "0123456789abcdef0123456789abcdef\n")
        let configuration = try TributaryConfiguration.load(path: Self.examplePath, machineIDPath: machineID)
        #expect(configuration.deviceID == "0123456789abcdef0123456789abcdef")
        #expect(configuration.log.directory == "/var/lib/tributary/log")
        #expect(configuration.log.diskBudget == 1 << 30)
        #expect(configuration.topics == ["readings": TopicSettings(partitions: 2)])
        #expect(configuration.sources.map(\.name) == ["sim"])
        guard let sim = configuration.sources.first?.settings as? SimulatedSourceConfiguration else {
            Issue.record("expected a sim source")
            return
        }
        #expect(sim.shapes == [.sine, .randomWalk])
        #expect(configuration.sinks.map(\.topics) == [["readings"]])
        #expect(configuration.metrics.listen == "127.0.0.1:9464")
    }

    @Test("the log settings map onto LogConfiguration, topics inheriting what they do not override")
    func mapsToLogConfiguration() throws {
        let text = """
            [device]
            id = "box-1"
            [log]
            directory = "/data/log"
            segment_size = "1MiB"
            segment_age = "1h"
            retention_age = "30d"
            retention_bytes = "100MiB"
            disk_budget = "1GiB"
            fsync = "interval"
            fsync_interval = "250ms"
            fsync_bytes = "1MiB"
            full_policy = "reject-new"
            [topics.readings]
            partitions = 4
            [topics.alarms]
            retention_age = "1d"
            full_policy = "drop-oldest"
            """
        let log = try TributaryConfiguration.parse(text, file: "t.toml").logConfiguration()
        var expected = LogConfiguration(directory: "/data/log")
        expected.segmentBytes = 1 << 20
        expected.segmentMilliseconds = 3_600_000
        expected.diskBudget = 1 << 30
        expected.flush = .interval(maxDelayMilliseconds: 250, maxBytes: 1 << 20)
        expected.defaultTopic = TopicConfiguration(partitions: 1, retentionMilliseconds: 30 * 86_400_000,
                                                   retentionBytes: 100 << 20, fullPolicy: .rejectNew)
        expected.topics = [
            "readings": TopicConfiguration(partitions: 4, retentionMilliseconds: 30 * 86_400_000,
                                           retentionBytes: 100 << 20, fullPolicy: .rejectNew),
            "alarms": TopicConfiguration(partitions: 1, retentionMilliseconds: 86_400_000,
                                         retentionBytes: 100 << 20, fullPolicy: .dropOldest),
        ]
        #expect(log == expected)
    }

    @Test("fsync = every-batch maps to the every-batch flush policy, and omitted keys take their defaults")
    func defaults() throws {
        let text = "[device]\nid = \"b\"\n[log]\nfsync = \"every-batch\"\n[topics.t]\n"
        let configuration = try TributaryConfiguration.parse(text, file: "t.toml")
        let log = configuration.logConfiguration()
        #expect(log.flush == .everyBatch)
        #expect(log.directory == "/var/lib/tributary/log")
        #expect(log.segmentBytes == 16 << 20)
        #expect(log.topics["t"] == TopicConfiguration(partitions: 1))
        #expect(configuration.metrics == MetricsConfiguration())
        #expect(configuration.sources.isEmpty && configuration.sinks.isEmpty)
    }
}

/// A fresh directory under /tmp for one test, which removes it when done.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "tributary-core-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `contents` to `name` inside the directory and returns its path.
    func write(_ name: String, _ contents: String) throws -> String {
        let file = path + "/" + name
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
