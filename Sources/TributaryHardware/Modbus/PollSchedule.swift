/// When each device on a Modbus line is polled next. A device's n-th poll is
/// due at start + n x its interval, whatever the polls before it took, so
/// schedules do not drift; a poll that overran skips the slots it missed
/// rather than polling in a burst to catch up. Of devices due at the same
/// time, one that answers goes before one that fails.
public struct PollSchedule: Sendable {
    private var due: [ContinuousClock.Instant]
    private var failing: [Bool]
    private let intervals: [Duration]

    /// Every device due at `start`, each then every `intervals[i]`.
    public init(intervals: [Duration], start: ContinuousClock.Instant) {
        self.intervals = intervals
        due = intervals.map { _ in start }
        failing = intervals.map { _ in false }
    }

    /// The device to poll next, and when.
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
