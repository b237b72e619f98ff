import TributaryLog

/// How much one delivery carries at most: `[[sinks]] max_batch` readings
/// and `max_batch_bytes` bytes (as `Reading.approximateEncodedSize` counts
/// them). A single reading larger than the byte limit still goes, alone.
public struct BatchLimits: Sendable, Equatable {
    public var readings: Int
    public var bytes: Int

    public init(readings: Int = 10_000, bytes: Int = 4 << 20) {
        precondition(readings >= 1 && bytes >= 1, "a delivery holds at least one reading")
        self.readings = readings
        self.bytes = bytes
    }
}

/// Reads one partition ahead for a sink: as many durable readings as the
/// limits allow, across as many on-disk batches as that takes, keeping what
/// did not fit for the next delivery.
///
/// Not thread-safe: the forwarder's worker thread owns it.
final class ReadAhead {
    let partition: Partition
    private var reader: PartitionReader
    /// Read from the log but not yet delivered.
    private var carried: [StoredReading] = []

    init(partition: Partition, from offset: Int64) {
        self.partition = partition
        self.reader = partition.reader(from: offset)
    }

    /// Starts again at `offset` (after a failed delivery).
    func rewind(to offset: Int64) {
        reader = partition.reader(from: offset)
        carried = []
    }

    /// The next readings within `limits`, below `stop`, and the offset after
    /// them (past any offsets the log skipped, so a delivery covers its
    /// gaps; never past `stop`). No readings with an `end` beyond the last
    /// one means the offsets up to `end` hold nothing; no readings at the
    /// same `end` means caught up. After a throw, what was read is gone:
    /// `rewind` before reading again.
    func next(within limits: BatchLimits, before stop: Int64 = .max) throws -> (readings: [StoredReading], end: Int64) {
        var readings: [StoredReading] = []
        var bytes = 0
        var cut = 0
        // What the last delivery left behind goes first; then whole batches,
        // decoded straight into the delivery, until a limit is reached.
        swap(&readings, &carried)
        while true {
            while cut < readings.count, cut < limits.readings, readings[cut].offset < stop {
                let size = readings[cut].reading.approximateEncodedSize
                if bytes + size > limits.bytes, cut > 0 { break }
                bytes += size
                cut += 1
            }
            if cut < readings.count || cut == limits.readings || reader.position >= stop { break }
            if try reader.next(appendingTo: &readings) == 0 { break }
        }
        if cut < readings.count {
            carried = Array(readings[cut...])
            readings.removeSubrange(cut...)
        }
        return (readings, min(stop, carried.first?.offset ?? reader.position))
    }
}
