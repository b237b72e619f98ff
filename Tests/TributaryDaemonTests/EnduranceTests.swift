import Testing
// The rounds and their checks are the endurance benchmark's own, so the test
// and `tributary-bench endurance --rounds 1000` cannot drift apart.
@testable import tributary_bench

/// `tributary run` killed with SIGKILL at random moments while it ingests and
/// forwards, then stopped cleanly: nothing the log acknowledged is lost, the
/// committed offset never goes back, each delivered line is the log's reading
/// at its offset, and in the end everything in the log was delivered. A short
/// version of `tributary-bench endurance` (1,000 rounds).
@Suite struct EnduranceTests {
    @Test func killedTwelveTimesAtRandomMomentsNothingAcknowledgedIsLostAndEverythingIsDelivered() throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        let run = try EnduranceRun(seed: seed)
        defer { run.remove() }
        for _ in 0..<12 where run.violations.isEmpty { try run.round() }
        if run.violations.isEmpty { try run.finish() }
        #expect(run.violations.isEmpty, "seed \(seed): \(run.violations.prefix(5))")
        #expect(run.statistics.readingsInLog > 0 && run.statistics.lines > 0, "\(run.summary)")
    }
}
