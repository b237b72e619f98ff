import Foundation
import Testing
import TributaryLog
import TributaryTestSupport

/// `tributary demo`, and how `run` refuses to start.
struct DemoAndStartupTests {
    @Test func demoRunsForItsDurationAndLeavesTheReadingsInTheLog() throws {
        let scratch = try Scratch()
        let data = scratch.path("demo")
        let outcome = try TributaryProcess.run(
            ["demo", "--duration", "2s", "--rate", "20", "--sensors", "3", "--data", data, "--listen", "off"],
            scratch: scratch)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = try ForwardedLine.parse(outcome.stdout)
        #expect(lines.count >= 60, "about 2 s x 20/s x 3 sensors printed, got \(lines.count)")
        #expect(Set(lines.map(\.sensor)) == ["sim-0", "sim-1", "sim-2"])
        #expect(outcome.stderr.contains("readings generated"), "\(outcome.stderr)")
        let log = try Log.open(LogConfiguration(directory: data), readOnly: true)
        let stored = (log.partitions(of: "readings") ?? []).reduce(0) { $0 + $1.durableOffset }
        #expect(stored == Int64(lines.count), "the demo's stdout sink forwarded everything it stored")
    }

    @Test func runWithAnInvalidConfigurationExitsWithEXCONFIGNamingTheLine() throws {
        let scratch = try Scratch()
        let path = scratch.path("bad.toml")
        try Data("[topics.readings]\npartitions = \"two\"\n".utf8).write(to: URL(fileURLWithPath: path))
        let outcome = try TributaryProcess.run(["run", "--config", path], scratch: scratch)
        #expect(outcome.status == 78)
        #expect(outcome.stderr.contains("\(path):2: topics.readings.partitions"), "\(outcome.stderr)")
    }
}
