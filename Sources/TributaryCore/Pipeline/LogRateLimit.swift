/// Decides whether a repeated event (a failed write, a malformed input) is
/// logged now: at most once per `interval`, the ones in between counted so
/// the next message can say how many were not logged.
struct LogRateLimit: Sendable {
    let interval: Duration
    private var lastLogged: ContinuousClock.Instant?
    private var suppressed = 0

    init(interval: Duration = .seconds(1)) {
        self.interval = interval
    }

    /// Whether to log the event happening at `now`: nil if not (it is
    /// counted), else how many events were not logged since the last one that was.
    mutating func admit(at now: ContinuousClock.Instant) -> Int? {
        if let lastLogged, now - lastLogged < interval {
            suppressed += 1
            return nil
        }
        lastLogged = now
        defer { suppressed = 0 }
        return suppressed
    }
}
