/// Paces a backfill at `bytesPerSecond`: a token bucket that holds at most
/// a second's worth, so a backfill idle for a while does not burst.
struct BackfillPacer {
    let bytesPerSecond: Int64
    private var tokens: Double
    private var updated: ContinuousClock.Instant

    init(bytesPerSecond: Int64, now: ContinuousClock.Instant) {
        self.bytesPerSecond = bytesPerSecond
        self.tokens = Double(bytesPerSecond)
        self.updated = now
    }

    /// The most one backfill delivery carries: a second's worth, at least 1 KiB.
    var deliveryBytes: Int { Int(clamping: max(1024, bytesPerSecond)) }

    /// Whether a backfill delivery may go now.
    mutating func allows(at now: ContinuousClock.Instant) -> Bool {
        refill(now)
        return tokens > 0
    }

    /// Counts `bytes` sent at `now` (the bucket may go below empty: the next delivery waits longer).
    mutating func spend(_ bytes: Int, at now: ContinuousClock.Instant) {
        refill(now)
        tokens -= Double(bytes)
    }

    /// When the next backfill delivery may go.
    var nextAllowed: ContinuousClock.Instant {
        tokens > 0 ? updated : updated + .seconds(-tokens / Double(bytesPerSecond) + 0.001)
    }

    private mutating func refill(_ now: ContinuousClock.Instant) {
        let elapsed = now - updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(Double(bytesPerSecond), tokens + seconds * Double(bytesPerSecond))
        updated = now
    }
}
