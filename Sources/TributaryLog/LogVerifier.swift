/// One thing `Log.verify` found wrong.
public struct VerificationProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// Byte position in `file`, where it applies.
    public var position: Int64?
    public var message: String

    public var description: String {
        position.map { "\(file) at byte \($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// The result of checking a whole log.
public struct VerificationReport: Sendable, Equatable {
    public var partitions = 0
    public var segments = 0
    public var batches = 0
    public var readings: Int64 = 0
    public var problems: [VerificationProblem] = []
    public var isIntact: Bool { problems.isEmpty }
}

extension Log {
    /// Reads every batch of every segment, checking checksums, offsets,
    /// decoding and index files, and every consumer offset file. Changes
    /// nothing. Open the log read-only to check a log a daemon is writing.
    public func verify() throws -> VerificationReport {
        var report = VerificationReport()
        for partition in allPartitions {
            report.partitions += 1
            let segments = partition.segments
            for (i, segment) in segments.enumerated() {
                report.segments += 1
                try LogVerifier.check(segment, isActive: i == segments.count - 1, report: &report)
            }
            // A read-only open leaves the segments it cannot use where they
            // are, outside `segments`: check them too, so their damage is named.
            // (A read-write open renamed them, and a new segment may have the old name.)
            for path in partition.recovery.quarantined where partition.isReadOnly && Syscalls.exists(path) {
                guard let name = path.split(separator: "/").last, let base = LogFileNames.parseSegment(String(name))
                else { continue }
                report.segments += 1
                let found = report.problems.count
                try LogVerifier.check(SegmentSnapshot(baseOffset: base, path: path, length: 0, nextOffset: base,
                                                      minTimestamp: .max, maxTimestamp: .min, entries: [],
                                                      diskBytes: 0, isSealed: true),
                                      isActive: false, report: &report)
                if report.problems.count == found {
                    report.problems.append(.init(file: path, message: "overlaps earlier segments (moved aside at the next open)"))
                }
            }
            for name in try Syscalls.listDirectory(partition.directory) {
                let path = partition.directory + "/" + name
                if LogFileNames.parseConsumer(name) != nil, try ConsumerOffsetFile.peek(path: path) == nil {
                    report.problems.append(.init(file: path, message: "no valid consumer offset slot"))
                }
                if name.hasSuffix(LogFileNames.quarantineSuffix) {
                    report.problems.append(.init(file: path, message: "file moved aside by recovery"))
                }
            }
        }
        return report
    }
}

enum LogVerifier {
    static func check(_ segment: SegmentSnapshot, isActive: Bool, report: inout VerificationReport) throws {
        let scanner = try BatchScanner(path: segment.path)
        let fileSize = scanner.limit
        var decoder = BatchDecoder()
        var expected = segment.baseOffset
        let rebuilt = Segment(baseOffset: segment.baseOffset, directory: directory(of: segment.path), length: 0,
                              nextOffset: segment.baseOffset, minTimestamp: .max, maxTimestamp: .min,
                              entries: [], diskBytes: 0, openedAt: 0, descriptor: nil)
        func problem(_ at: Int64?, _ message: String) {
            report.problems.append(.init(file: segment.path, position: at, message: message))
        }
        scanning: while true {
            switch try scanner.next() {
            case let .batch(header, bytes, at):
                if header.baseOffset < expected {
                    // A stale copy: recovery and readers pass over it, so it is
                    // neither decoded nor part of the index.
                    problem(at, "batch repeats offsets \(header.baseOffset)..<\(header.nextOffset), expected \(expected)")
                    continue scanning
                }
                if header.baseOffset != expected {
                    problem(at, "batch starts at offset \(header.baseOffset), expected \(expected)")
                    decoder.invalidate()
                }
                do {
                    try decoder.decode(bytes, header: header) { _, _ in }
                } catch {
                    problem(at, "batch at offset \(header.baseOffset) cannot be decoded (\(error))")
                }
                rebuilt.record(header, at: at)
                expected = header.nextOffset
                report.batches += 1
                report.readings += Int64(header.count)
            case let .end(at):
                if at < fileSize, !isActive {
                    problem(at, "\(fileSize - at) bytes after the last batch of a sealed segment")
                }
                if at < fileSize, isActive, try scanner.resynchronize(from: at, minimumOffset: expected) != nil {
                    problem(at, "zeroed bytes with valid batches after them")
                    decoder.invalidate()
                    continue scanning
                }
                break scanning
            case let .invalid(at, reason):
                problem(at, reason.description)
                decoder.invalidate()
                if try scanner.resynchronize(from: at, minimumOffset: expected) == nil { break scanning }
            }
        }
        try checkIndex(of: segment, against: rebuilt.index, isActive: isActive, report: &report)
    }

    private static func checkIndex(of segment: SegmentSnapshot, against expected: SegmentIndex, isActive: Bool,
                                   report: inout VerificationReport) throws {
        let path = String(segment.path.dropLast(LogFileNames.segmentSuffix.count)) + LogFileNames.indexSuffix
        guard Syscalls.exists(path) else {
            if !isActive {
                report.problems.append(.init(file: path, message: "index missing (rebuilt at the next open)"))
            }
            return
        }
        // Present but unreadable (or vanished since) counts as damaged too.
        guard let index = PartitionLoader.readIndex(path) else {
            report.problems.append(.init(file: path, message: "index damaged (checksum or layout)"))
            return
        }
        if index != expected {
            report.problems.append(.init(file: path, message: "index disagrees with its segment"))
        }
    }

    private static func directory(of path: String) -> String {
        String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    }
}
