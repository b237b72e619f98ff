#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The bytes a whole log takes on disk against its budget, shared by its
/// partitions: segments, their indexes and the files recovery moved aside. A
/// partition makes room for a new segment's full (preallocated) size before
/// creating it, or for a batch larger than its segment before writing it, so
/// the log never grows past the budget.
final class DiskBudget: Sendable {
    private struct WeakPartition: @unchecked Sendable {
        // Only read under `partitions`' lock; the partitions own the budget, not the reverse.
        weak var partition: Partition?
    }

    let limit: Int64?
    private let used = Mutex<Int64>(0)
    private let partitions = Mutex<[WeakPartition]>([])

    init(limit: Int64?) { self.limit = limit }

    var usedBytes: Int64 { used.withLock { $0 } }

    func register(_ partition: Partition) {
        partitions.withLock { $0.append(WeakPartition(partition: partition)) }
    }

    /// Records bytes added (positive) or freed (negative).
    func add(_ bytes: Int64) { used.withLock { $0 += bytes } }

    /// Adds `bytes` if they fit, in one step, so two partitions making room
    /// at once cannot both take the last free space.
    func reserve(_ bytes: Int64) -> Bool {
        used.withLock { used in
            if let limit, used + bytes > limit { return false }
            used += bytes
            return true
        }
    }

    /// True when `bytes` more would stay within the budget.
    func fits(_ bytes: Int64) -> Bool {
        guard let limit else { return true }
        return used.withLock { $0 + bytes <= limit }
    }

    /// Deletes old segments of partitions other than `requester` until `bytes`
    /// fit: consumed segments only, or also unconsumed ones of drop-oldest
    /// topics. A partition busy in another thread (usually for an fdatasync)
    /// is waited for, but only up to `busyWaitMilliseconds`, so two partitions
    /// making room from each other at once cannot deadlock: they give up.
    func reclaim(_ bytes: Int64, excluding requester: Partition?, includeUnconsumed: Bool) {
        let others = partitions.withLock { $0.compactMap(\.partition) }.filter { $0 !== requester }
        for other in others where !fits(bytes) {
            if includeUnconsumed && other.configuration.topic(other.topic).fullPolicy != .dropOldest { continue }
            for _ in 0...Self.busyWaitMilliseconds {
                let entered: Bool? = other.mutateIfAvailable { state -> Bool in
                    try? state.deleteMovedAside(directory: other.directory, toFit: bytes)
                    while !fits(bytes), state.segments.count > 1,
                          includeUnconsumed || state.isConsumed(state.segments[0]) {
                        guard (try? state.deleteOldestSegment(directory: other.directory)) != nil else { break }
                    }
                    return true
                }
                if entered != nil { break }
                usleep(1000)
            }
        }
    }

    static let busyWaitMilliseconds = 200
}
