/// One pipeline component's progress as seen at one moment: how much work it has finished
/// so far and how much is waiting for it.
///
/// A partition writer reports readings appended and its queue depth; a forwarder reports
/// records acknowledged by the sink and its lag. `completed` need only change when work is
/// done; it may wrap or restart (any change counts as progress).
public struct ComponentProgress: Sendable, Hashable {
    /// A stable name, used in log messages: `writer sensors-0`, `forwarder kafka`.
    public var component: String
    /// A counter that changes whenever the component finishes work.
    public var completed: UInt64
    /// Work waiting for the component; zero means it is idle, which is never a stall.
    public var backlog: UInt64

    public init(component: String, completed: UInt64, backlog: UInt64) {
        self.component = component
        self.completed = completed
        self.backlog = backlog
    }
}

/// A component that has had work but made no progress for longer than the stall limit.
public struct Stall: Sendable, Hashable {
    public var component: String
    /// The backlog at the last observation.
    public var backlog: UInt64
    /// How long since the component last made progress or was idle.
    public var duration: Duration

    public init(component: String, backlog: UInt64, duration: Duration) {
        self.component = component
        self.backlog = backlog
        self.duration = duration
    }
}

/// The rule that decides whether the daemon may tell systemd it is alive (`WATCHDOG=1`):
/// only while every component with work is making progress.
///
/// Guarantees:
/// - A component is stalled when, at every observation for longer than `stallLimit`, it had
///   a backlog and its `completed` counter did not change. An idle component (no backlog) is
///   never stalled, however long it waits.
/// - The stall clock starts at the last observation at which the component was idle or had
///   advanced (or at its first observation), so work that piles up while it is stuck is
///   judged from when it was last known healthy.
/// - `shouldPing(at:)` is false while any component is stalled, and true again as soon as an
///   observation shows progress or an empty backlog.
/// - Pure value logic: no clocks are read, no system calls; instants are passed in.
public struct WatchdogGate: Sendable {
    /// How long a component with backlog may go without progress before pings stop.
    public let stallLimit: Duration

    private struct Track: Sendable {
        var completed: UInt64
        var backlog: UInt64
        var lastHealthy: ContinuousClock.Instant
    }

    private var tracks: [String: Track] = [:]

    /// - Parameter stallLimit: normally the watchdog timeout itself: a component stuck for a
    ///   whole timeout is wedged, not merely slow.
    public init(stallLimit: Duration) {
        precondition(stallLimit > .zero, "a stall limit must be positive")
        self.stallLimit = stallLimit
    }

    /// The components observed so far, by name.
    public var components: [String] { tracks.keys.sorted() }

    /// Records one component's progress at `now`.
    public mutating func observe(_ progress: ComponentProgress, at now: ContinuousClock.Instant) {
        guard var track = tracks[progress.component] else {
            tracks[progress.component] = Track(
                completed: progress.completed, backlog: progress.backlog, lastHealthy: now)
            return
        }
        if progress.completed != track.completed || progress.backlog == 0 {
            track.lastHealthy = now
        }
        track.completed = progress.completed
        track.backlog = progress.backlog
        tracks[progress.component] = track
    }

    /// Records a full snapshot of the pipeline at `now`; components absent from it (a sink
    /// removed, a source stopped) are forgotten, so they cannot hold back pings forever.
    public mutating func observeAll(_ snapshot: [ComponentProgress], at now: ContinuousClock.Instant) {
        let present = Set(snapshot.map(\.component))
        tracks = tracks.filter { present.contains($0.key) }
        for progress in snapshot {
            observe(progress, at: now)
        }
    }

    /// The components stalled at `now`, sorted by name.
    public func stalls(at now: ContinuousClock.Instant) -> [Stall] {
        tracks.compactMap { name, track -> Stall? in
            let stuckFor = track.lastHealthy.duration(to: now)
            guard track.backlog > 0, stuckFor > stallLimit else { return nil }
            return Stall(component: name, backlog: track.backlog, duration: stuckFor)
        }
        .sorted { $0.component < $1.component }
    }

    /// Whether a `WATCHDOG=1` may be sent at `now`: no component is stalled.
    public func shouldPing(at now: ContinuousClock.Instant) -> Bool {
        stalls(at: now).isEmpty
    }
}
