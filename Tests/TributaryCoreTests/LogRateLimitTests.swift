import Testing
@testable import TributaryCore

@Suite("Log rate limit")
struct LogRateLimitTests {
    @Test("the first event is logged, the next within the interval are counted, and the next logged one reports them")
    func limitsAndCounts() {
        var limit = LogRateLimit(interval: .seconds(1))
        let start = ContinuousClock.now
        #expect(limit.admit(at: start) == 0)
        #expect(limit.admit(at: start + .milliseconds(10)) == nil)
        #expect(limit.admit(at: start + .milliseconds(999)) == nil)
        #expect(limit.admit(at: start + .seconds(1)) == 2)
        #expect(limit.admit(at: start + .milliseconds(1500)) == nil)
        #expect(limit.admit(at: start + .seconds(3)) == 1)
    }
}
