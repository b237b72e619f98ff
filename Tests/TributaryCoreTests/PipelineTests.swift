import Logging
import ServiceLifecycle
import Testing
import TributaryTestSupport
@testable import TributaryCore

/// A source that reads a little, then loses its device.
private struct FailingSource: Source {
    let name = "serial-1"
    struct PortGone: Error, CustomStringConvertible { var description: String { "/dev/ttyUSB0 is gone" } }

    func run(output: SourceOutput) async throws {
        try await output.send([Reading(sensor: "t", timestamp: 1, value: .double(21.5))])
        throw PortGone()
    }
}

@Suite("Pipeline")
struct PipelineTests {
    @Test("a source that fails shows as stopped with its error while the rest of the daemon runs on")
    func failingSourceIsVisible() async throws {
        try await withTemporaryDirectory("pipeline") { directory in
            var log = LogSettings()
            log.directory = directory
            let sim = SourceConfiguration(name: "serial-1", topic: "t", settings: SimulatedSourceConfiguration())
            let configuration = TributaryConfiguration(deviceID: "box", log: log, topics: ["t": TopicSettings()],
                                                       sources: [sim])
            let pipeline = try Pipeline(configuration: configuration, sources: [(FailingSource(), sim)], sinks: [],
                                        logger: Logger(label: "test"))
            let group = ServiceGroup(services: pipeline.services, logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await eventually { pipeline.snapshot().sources.first?.error != nil }
                let status = try #require(pipeline.snapshot().sources.first)
                #expect(status.error == "stopped: /dev/ttyUSB0 is gone" && status.received == 1)
                #expect(status.lastReading != nil)
                try await eventually { pipeline.snapshot().topics[0].partitions[0].durableOffset == 1 }
                #expect(pipeline.snapshot().topics[0].partitions[0].durableOffset == 1,
                        "the writers and the rest run on")
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            try pipeline.close()
        }
    }
}
