/// Opens a partition directory after a clean stop or a crash (Kafka's
/// `LogLoader`), in passes:
///
/// 1. Remove temporary files left by an interrupted index write.
/// 2. Sealed segments: trust the index file if it is intact and agrees with
///    the segment file; otherwise rebuild it by validating every batch,
///    skipping (and reporting) damage.
/// 3. The last segment: validate every batch; cut a torn tail at the first
///    invalid bytes that no valid batch follows; skip damage inside.
/// 4. Move aside (rename to `.corrupt`) files with nothing readable in them or
///    whose offsets overlap earlier segments, and report offset gaps.
///
/// In read-only mode nothing on disk changes: the same checks run in memory.
enum PartitionLoader {
    struct Loaded {
        var segments: [Segment]
        var report: RecoveryReport
        /// Every file moved aside, now or before (`*.corrupt`), with its size.
        var movedAside: [MovedAsideFile]
    }

    static func load(directory: String, topic: String, partition: Int, configuration: LogConfiguration,
                     readOnly: Bool, now: Int64) throws -> Loaded {
        var report = RecoveryReport(topic: topic, partition: partition)
        let names = try Syscalls.listDirectory(directory)
        if !readOnly {
            for name in names where name.hasSuffix(LogFileNames.temporarySuffix) {
                try Syscalls.unlink(directory + "/" + name)
            }
        }
        let bases = names.compactMap(LogFileNames.parseSegment).sorted()
        var segments: [Segment] = []
        var expected: Int64?
        /// Where the moved-aside segments ended, as far as their index files tell.
        var lostEnd: Int64 = 0
        // Offsets are never reused, even if every segment file was moved aside.
        var nextBase: Int64 { max(expected ?? bases.last ?? 0, lostEnd) }
        for (i, base) in bases.enumerated() {
            let isLast = i == bases.count - 1
            let path = directory + "/" + LogFileNames.segment(baseOffset: base)
            if let expected, base < expected {
                try quarantine(path, base: base, readOnly: readOnly, report: &report, lostEnd: &lostEnd)
                continue
            }
            if let expected, base > expected {
                report.damage.append(.init(file: path, position: 0, reason: .offsetGap, lostOffsets: expected..<base))
            }
            let segment = Segment(baseOffset: base, directory: directory, length: 0, nextOffset: base,
                                  minTimestamp: .max, maxTimestamp: .min, entries: [], diskBytes: 0,
                                  openedAt: now, descriptor: nil)
            if let trusted = trustedIndex(for: segment), !(isLast && !readOnly) {
                segments.append(Segment(baseOffset: base, directory: directory, length: trusted.length,
                                        nextOffset: trusted.nextOffset, minTimestamp: trusted.minTimestamp,
                                        maxTimestamp: trusted.maxTimestamp, entries: trusted.entries,
                                        diskBytes: trusted.length, openedAt: now, descriptor: nil))
                expected = trusted.nextOffset
                continue
            }
            let outcome: SegmentRecovery.Outcome
            do {
                outcome = try SegmentRecovery.scan(segment, expectedOffset: base)
            } catch let error as LogError {
                guard case .io = error else { throw error }
                try quarantine(path, base: base, readOnly: readOnly, report: &report, lostEnd: &lostEnd)
                continue
            }
            report.damage.append(contentsOf: outcome.damage)
            // The active segment's first batch cut short by the end of the file,
            // or failing its checksum (a write torn inside preallocated space
            // leaves zeros in place of its end), is a torn append, never
            // acknowledged: cut like any torn tail, as a later batch would be.
            // Bytes that are no batch header at all are moved aside, and so is a
            // segment with an index: it was sealed, so everything in it had been durable.
            if segment.isEmpty, let torn = outcome.tornTail,
               !(isLast && (torn == .truncated || torn == .checksum) && !Syscalls.exists(segment.indexPath)) {
                try quarantine(path, base: base, readOnly: readOnly, report: &report, lostEnd: &lostEnd)
                continue
            }
            if let torn = outcome.tornTail {
                if isLast {
                    report.truncatedTail = (path, outcome.end, outcome.tailEnd - outcome.end)
                } else {
                    report.damage.append(.init(file: path, position: outcome.end, reason: torn,
                                               lostOffsets: segment.nextOffset..<segment.nextOffset))
                }
            }
            if isLast && !readOnly {
                segments.append(try reopenForAppend(segment, outcome: outcome, configuration: configuration,
                                                    now: now))
            } else {
                var diskBytes = outcome.fileSize
                if !readOnly && !isLast {
                    // Only zeros after the last batch (a seal cut short before its
                    // trim): trimmed, as sealing does, or verify would find them.
                    if outcome.tornTail == nil, outcome.fileSize > segment.length {
                        try trim(segment.path, to: segment.length)
                        diskBytes = segment.length
                    }
                    try segment.writeIndex(directory: directory)
                    report.rebuiltIndexes.append(segment.indexPath)
                }
                segments.append(Segment(baseOffset: base, directory: directory, length: segment.length,
                                        nextOffset: segment.nextOffset, minTimestamp: segment.minTimestamp,
                                        maxTimestamp: segment.maxTimestamp, entries: segment.entries,
                                        diskBytes: diskBytes, openedAt: now, descriptor: nil))
            }
            expected = segment.nextOffset
        }
        // Consumers only commit durable offsets, so the largest commit is a
        // floor for the log's end. If recovery lost data below it (an
        // unreadable active segment, a damaged last batch), the next offset
        // still starts above it: sinks and the central side identify readings
        // by offset, and a reused offset would be taken for a duplicate.
        let committed = readOnly ? nil : try highestCommittedOffset(in: directory, names: names)
        let end = segments.last?.nextOffset ?? nextBase
        if let committed, end < committed {
            report.damage.append(.init(file: segments.last?.path ?? directory, position: segments.last?.length ?? 0,
                                       reason: .offsetGap, lostOffsets: end..<committed))
        }
        if let committed, let last = segments.last, last.nextOffset < committed {
            if last.isEmpty, !last.isSealed {
                segments.removeLast()
                try Syscalls.unlink(last.path)
            } else {
                try last.seal()
            }
        }
        if !readOnly, segments.last?.isSealed ?? true {
            // No segment, the last one was moved aside, or it ended below a commit: start a new one.
            segments.append(try Segment.create(baseOffset: max(nextBase, committed ?? 0), directory: directory,
                                               capacity: configuration.segmentBytes,
                                               preallocate: configuration.preallocate, now: now))
        }
        let movedAside = try Syscalls.listDirectory(directory)
            .filter { $0.hasSuffix(LogFileNames.quarantineSuffix) }
            .compactMap { name in
                Syscalls.fileSize(atPath: directory + "/" + name).map { MovedAsideFile(path: directory + "/" + name, bytes: $0) }
            }
        return Loaded(segments: segments, report: report, movedAside: movedAside)
    }

    private static func highestCommittedOffset(in directory: String, names: [String]) throws -> Int64? {
        try names.filter { LogFileNames.parseConsumer($0) != nil }
            .compactMap { try ConsumerOffsetFile.peek(path: directory + "/" + $0) }
            .max()
    }

    /// The segment's index if it is intact and agrees with the file: same base
    /// offset, the file exactly as long as the index says, and the last
    /// indexed batch where the index puts it.
    /// Any error reading either file means "not trusted": the segment is then
    /// scanned, and the scan decides (rebuild, skip damage or move aside).
    private static func trustedIndex(for segment: Segment) -> SegmentIndex? {
        guard let index = readIndex(segment.indexPath), index.baseOffset == segment.baseOffset,
              index.nextOffset >= index.baseOffset, index.length >= 0 else { return nil }
        // Readers seek to entries without checking them first: they must lie
        // inside the segment, in order. (The hop below checks the last one.)
        var previous: IndexEntry?
        for entry in index.entries {
            guard entry.offset >= index.baseOffset, entry.offset < index.nextOffset, entry.position >= 0,
                  entry.position < index.length,
                  previous.map({ entry.offset > $0.offset && entry.position > $0.position }) ?? true
            else { return nil }
            previous = entry
        }
        // Sealing trims the file to its batches before it writes the index: a
        // longer file holds bytes the index does not know (damage, or zeros of a
        // seal cut short), which the scan reports or trims.
        guard let scanner = try? BatchScanner(path: segment.path), scanner.limit == index.length else { return nil }
        // Hop from the last index entry to the end: headers must chain exactly.
        var expected = index.entries.last?.offset ?? index.baseOffset
        scanner.seek(to: index.entries.last?.position ?? 0)
        while true {
            guard let step = try? scanner.next() else { return nil }
            switch step {
            case let .batch(header, _, _):
                guard header.baseOffset == expected else { return nil }
                expected = header.nextOffset
            case let .end(position):
                return position == index.length && expected == index.nextOffset ? index : nil
            case .invalid:
                return nil
            }
        }
    }

    /// Cuts a sealed segment's file to `length` and makes that durable.
    private static func trim(_ path: String, to length: Int64) throws {
        let fd = try Syscalls.open(path, .readWrite)
        defer { try? fd.close() }
        try Syscalls.truncate(fd, to: length, path: path)
        try Syscalls.fullSync(fd, path: path)
    }

    /// Cuts the torn tail, reopens the segment for appends and preallocates it again.
    private static func reopenForAppend(_ scanned: Segment, outcome: SegmentRecovery.Outcome,
                                        configuration: LogConfiguration, now: Int64) throws -> Segment {
        let fd = try Syscalls.open(scanned.path, .readWrite)
        do {
            // A stale index would describe the segment as it was before these appends.
            if Syscalls.exists(scanned.indexPath) { try Syscalls.unlink(scanned.indexPath) }
            if outcome.fileSize != scanned.length {
                try Syscalls.truncate(fd, to: scanned.length, path: scanned.path)
            }
            let capacity = max(configuration.segmentBytes, scanned.length)
            // A full disk must not stop the log from starting: without the
            // reservation it appends (or reports .diskFull) like any file.
            let reserved = configuration.preallocate
                ? (try? Syscalls.preallocate(fd, length: capacity, path: scanned.path)) ?? false : false
            try Syscalls.fullSync(fd, path: scanned.path)
            let directory = String(scanned.path[..<scanned.path.lastIndex(of: "/")!])
            // Its age for rolling counts from when the file was created, not from
            // this start: a daemon restarted more often than the segment age
            // would otherwise never roll by age.
            let segment = Segment(baseOffset: scanned.baseOffset, directory: directory, length: scanned.length,
                                  nextOffset: scanned.nextOffset, minTimestamp: scanned.minTimestamp,
                                  maxTimestamp: scanned.maxTimestamp, entries: scanned.entries,
                                  diskBytes: reserved ? capacity : scanned.length,
                                  openedAt: min(now, Syscalls.creationTime(fd) ?? now), descriptor: fd)
            segment.capacity = capacity
            return segment
        } catch {
            try? fd.close()
            throw error
        }
    }

    /// An intact index file (its own checksum), or nil.
    static func readIndex(_ path: String) -> SegmentIndex? {
        guard Syscalls.exists(path) else { return nil }
        do {
            let fd = try Syscalls.open(path, .readOnly)
            defer { try? fd.close() }
            let size = try Syscalls.fileSize(fd, path: path)
            guard size < 64 << 20 else { return nil }
            var buffer = [UInt8](repeating: 0, count: Int(size))
            _ = try buffer.withUnsafeMutableBytes { try Syscalls.read(fd, at: 0, into: $0, path: path) }
            return SegmentIndex.parse(buffer)
        } catch { return nil }
    }

    private static func quarantine(_ path: String, base: Int64, readOnly: Bool, report: inout RecoveryReport,
                                   lostEnd: inout Int64) throws {
        report.quarantined.append(path)
        let index = String(path.dropLast(LogFileNames.segmentSuffix.count)) + LogFileNames.indexSuffix
        // A sealed segment's index still tells where it ended even when no
        // batch in it is readable: the next segment must start after it, or
        // its offsets would be reused.
        if let indexed = readIndex(index), indexed.baseOffset == base, indexed.nextOffset >= base {
            lostEnd = max(lostEnd, indexed.nextOffset)
        }
        guard !readOnly else { return }
        // A file moved aside earlier under the same name is kept too.
        var target = path + LogFileNames.quarantineSuffix
        var copy = 1
        while Syscalls.exists(target) {
            target = path + ".\(copy)" + LogFileNames.quarantineSuffix
            copy += 1
        }
        try Syscalls.rename(path, target)
        if Syscalls.exists(index) { try Syscalls.unlink(index) }
    }
}

/// A file recovery moved aside: nothing in it is readable, but it takes disk
/// space, so the disk budget counts it and it is the first deleted for room.
struct MovedAsideFile {
    var path: String
    var bytes: Int64
}
