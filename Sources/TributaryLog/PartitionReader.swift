/// Reads a partition's durable readings in offset order, one batch at a time,
/// with memory bounded by one scan window and one batch however far behind it
/// is. Every batch is checksum-verified before it is decoded; damaged batches
/// (and batches that depended on them, up to the next key batch) are skipped
/// and counted, never served. Not thread-safe: one consumer owns a reader.
public final class PartitionReader {
    enum Start {
        case offset(Int64)
        case timestamp(Int64)
    }

    public let partition: Partition
    /// The offset of the next reading this reader will return.
    public private(set) var position: Int64 = 0
    /// Readings passed over because they were damaged, undecodable or deleted
    /// by retention before this reader got to them.
    public private(set) var skippedReadings: Int64 = 0
    /// The places where skipped readings were, most recent last (at most 100 kept).
    public private(set) var damage: [RecoveryReport.Damage] = []

    private var start: Start?
    /// Readings with smaller timestamps are passed over (a timestamp start).
    private var minimumTimestamp: Int64?
    private var segment: SegmentSnapshot?
    private var scanner: BatchScanner?
    private var decoder = BatchDecoder()
    /// The base offset the next batch in the file must have to continue the
    /// chain the decoder's state was built from; nil after damage.
    private var expectedBase: Int64?

    init(partition: Partition, from start: Start) {
        self.partition = partition
        self.start = start
    }

    /// The next durable readings (one batch's worth, at most), or an empty
    /// array when the reader has caught up with the durable watermark.
    public func next() throws -> [StoredReading] {
        var readings: [StoredReading] = []
        _ = try next(appendingTo: &readings)
        return readings
    }

    /// Appends the next durable readings (one batch's worth, at most) to
    /// `readings`, decoding straight into it, and returns how many; 0 when
    /// the reader has caught up with the durable watermark.
    public func next(appendingTo readings: inout [StoredReading]) throws -> Int {
        while true {
            let view = partition.view
            let (segments, durable) = (view.readableSegments, view.durableOffset)
            guard let first = segments.first else { return 0 }
            if let start { position(at: start, in: segments); self.start = nil }
            if position < first.baseOffset {
                skip(to: first.baseOffset, file: first.path, position: 0, reason: .offsetGap)
                close()
            }
            if position >= durable { return 0 }
            // The active segment grows: read up to what is durable now (before
            // deciding it is exhausted, or a caught-up reader would reopen it
            // and decode again from its last key batch).
            if let current = segment, let fresh = segments.first(where: { $0.baseOffset == current.baseOffset }) {
                segment = fresh
                scanner?.limit = fresh.length
            }
            if scanner == nil || segment.map({ position >= $0.nextOffset }) ?? true {
                guard try open(segments) else { continue }
            }
            let appended = try readBatch(appendingTo: &readings)
            if let appended, appended > 0 { return appended }
            if appended == nil, let current = segment {
                // The segment is exhausted.
                if position < current.nextOffset {
                    skip(to: current.nextOffset, file: current.path, position: scanner?.position ?? 0,
                         reason: .truncated)
                }
                if current.isSealed || position >= current.nextOffset { close() }
                if !current.isSealed && position >= durable { return 0 }
            }
        }
    }

    /// Sets the position from a start offset or timestamp.
    private func position(at start: Start, in segments: [SegmentSnapshot]) {
        switch start {
        case let .offset(offset):
            position = max(offset, segments.first?.baseOffset ?? 0)
        case let .timestamp(timestamp):
            minimumTimestamp = timestamp
            guard let match = segments.first(where: { $0.maxTimestamp >= timestamp }) else {
                position = segments.last?.nextOffset ?? 0
                return
            }
            let entry = match.entries.last(where: { $0.maxTimestampBefore < timestamp })
            position = entry?.offset ?? match.baseOffset
        }
    }

    /// Opens the segment holding `position` at the index entry before it.
    /// Returns false when it moved `position` instead (a gap between segments).
    private func open(_ segments: [SegmentSnapshot]) throws -> Bool {
        close()
        guard let found = segments.last(where: { $0.baseOffset <= position }) else { return false }
        if position >= found.nextOffset {
            guard let next = segments.first(where: { $0.baseOffset > position }) else { return true }
            skip(to: next.baseOffset, file: next.path, position: 0, reason: .offsetGap)
            return false
        }
        do {
            scanner = try BatchScanner(path: found.path, limit: found.length)
        } catch LogError.io(_, _, .noSuchFileOrDirectory) {
            // Retention deleted it after the snapshot (a read-only snapshot
            // would never learn of it): its readings are gone for this reader.
            skip(to: found.nextOffset, file: found.path, position: 0, reason: .truncated)
            return false
        }
        segment = found
        let entry = found.entries.last(where: { $0.offset <= position })
        if let entry { scanner?.seek(to: entry.position) }
        expectedBase = entry?.offset ?? found.baseOffset
        decoder.invalidate()
        return true
    }

    private func close() {
        scanner = nil
        segment = nil
    }

    /// Decodes the next batch onto `readings`, returning how many readings it
    /// added; nil at the end of the readable segment.
    private func readBatch(appendingTo readings: inout [StoredReading]) throws -> Int? {
        guard let scanner, let current = segment else { return nil }
        switch try scanner.next() {
        case let .end(at):
            // Zeroes before the segment's end are a lost write, not the end:
            // valid batches may follow, as recovery found.
            guard at < current.length else { return nil }
            return try resynchronize(scanner, after: at, in: current, reason: .header(.zeroes))
        case let .invalid(at, reason):
            guard at < current.length else { return nil }
            return try resynchronize(scanner, after: at, in: current, reason: reason)
        case let .batch(header, bytes, at):
            if let expected = expectedBase {
                // A valid batch repeating offsets already passed (a stale copy):
                // decoding it would replay old deltas onto the codec state and
                // corrupt every reading after it.
                if header.baseOffset < expected { return 0 }
                if header.baseOffset > expected, !header.isKey { decoder.invalidate() }
            }
            expectedBase = header.nextOffset
            if header.baseOffset > position {
                skip(to: header.baseOffset, file: current.path, position: at, reason: .offsetGap)
                if !header.isKey { decoder.invalidate() }
            }
            let before = readings.count
            // The count is checked against the batch's length only (a reading per
            // bit at most): beyond 65,536, appending grows the array as it goes.
            let needed = before + Int(min(max(0, header.nextOffset - position), 1 << 16))
            // Grow geometrically: reserving exactly what each batch needs would copy everything each time.
            if readings.capacity < needed { readings.reserveCapacity(max(needed, 2 * readings.capacity)) }
            do {
                let from = position
                try decoder.decode(bytes, header: header) { offset, reading in
                    guard offset >= from else { return }
                    if let minimum = minimumTimestamp {
                        guard reading.timestamp >= minimum else { return }
                        minimumTimestamp = nil
                    }
                    readings.append(StoredReading(offset: offset, reading: reading))
                }
            } catch let failure as BatchDecoder.Failure {
                // What a batch that fails to decode added is not served.
                readings.removeSubrange(before...)
                if header.nextOffset > position {
                    skip(to: header.nextOffset, file: current.path, position: at,
                         reason: failure == .needsKeyBatch ? .offsetGap : .checksum)
                }
                return 0
            }
            position = max(position, header.nextOffset)
            return readings.count - before
        }
    }

    /// Moves past damage at `at` to the next valid batch, or skips the rest of
    /// the segment if there is none.
    private func resynchronize(_ scanner: BatchScanner, after at: Int64, in current: SegmentSnapshot,
                               reason: InvalidBatch) throws -> Int? {
        decoder.invalidate()
        expectedBase = nil
        if try scanner.resynchronize(from: at, minimumOffset: position) == nil {
            skip(to: current.nextOffset, file: current.path, position: at, reason: reason)
            return nil
        }
        return 0
    }

    private func skip(to offset: Int64, file: String, position at: Int64, reason: InvalidBatch) {
        guard offset > position else { return }
        skippedReadings += offset - position
        damage.append(.init(file: file, position: at, reason: reason, lostOffsets: position..<offset))
        if damage.count > 100 { damage.removeFirst() }
        position = offset
    }
}
