/// When each of a source's scheduled reads is due next: a Modbus device's
/// polls, a GPIO counter's or level line's reports. The n-th is due at
/// start + n x its interval (or (n + 1) x, for reports at the end of each
/// interval), whatever the ones before it took, so schedules do not drift;
/// one that overran skips the slots it missed rather than running in a burst
/// to catch up. Of those due at the same time, one that answers goes before
/// one that fails.
public struct PollSchedule: Sendable {
    private var due: [ContinuousClock.Instant]
    private var failing: [Bool]
    private let intervals: [Duration]

    /// Every device due at `start` (or, `afterAnInterval`, at start + its interval), each then every `intervals[i]`.
    public init(intervals: [Duration], start: ContinuousClock.Instant, afterAnInterval: Bool = false) {
        self.intervals = intervals
        due = intervals.map { afterAnInterval ? start + $0 : start }
        failing = intervals.map { _ in false }
    }

    /// When `device` is due.
    public func due(_ device: Int) -> ContinuousClock.Instant { due[device] }

    /// The device to poll next, and when; there must be one.
    public var next: (device: Int, at: ContinuousClock.Instant) {
        let device = due.indices.min { a, b in (due[a], failing[a] ? 1 : 0) < (due[b], failing[b] ? 1 : 0) }!
        return (device, due[device])
    }

    /// Records that `device` was polled, finishing at `now`, and whether it failed: it is next due
    /// in the first of its slots after `now`.
    public mutating func polled(_ device: Int, finishedAt now: ContinuousClock.Instant, failed: Bool) {
        let interval = intervals[device]
        let missed = max(0, Int(((now - due[device]) / interval).rounded(.down)))
        due[device] = due[device] + interval * (missed + 1)
        failing[device] = failed
    }
}
