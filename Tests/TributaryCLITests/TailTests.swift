import Foundation
import Testing
import TributaryLog
import TributaryTestSupport

@Suite("tributary log tail")
struct TailTests {
    @Test("tail prints a reading appended after it started, and stops cleanly on SIGINT")
    func tailFollowsAppends() throws {
        let scratch = try Scratch()
        let directory = scratch.path("log")
        try LogFixtures.write([Reading(sensor: "before", timestamp: 1, value: .int(1))], to: directory,
                              topic: "t", partitions: 2)
        let tail = try TributaryProcess(["log", "tail", "--data", directory, "--topic", "t"], scratch: scratch)
        defer { if tail.process.isRunning { tail.process.terminate() } }
        #expect(tail.wait { $0.stderr.contains("following topic t") }, "tail did not start: \(tail.stderr)")

        var configuration = LogConfiguration(directory: directory)
        configuration.flush = .everyBatch
        let log = try Log.open(configuration)
        let sensor = "after"
        let partition = Log.partition(forSensor: sensor, partitions: 2)
        try log.partition("t", partition).append([Reading(sensor: sensor, timestamp: 2, value: .string("new"))])

        #expect(tail.wait { $0.stdout.contains(#""sensor":"after""#) }, "not printed: \(tail.stdout)")
        try log.close()
        #expect(!tail.stdout.contains("before"), "tail starts at the end")
        #expect(tail.stdout.contains(#""partition":\#(partition)"#))

        tail.process.interrupt()
        #expect(tail.wait { !$0.process.isRunning })
        tail.process.waitUntilExit()
        #expect(tail.process.terminationStatus == 0)
    }
}
