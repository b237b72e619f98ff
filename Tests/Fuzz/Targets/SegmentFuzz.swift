#if canImport(Glibc)
import Glibc
#endif
@testable import TributaryLog

/// Loading and reading a damaged partition: the batch scanner, resynchronisation,
/// recovery and the index check. The input is `indexLength` (2 bytes,
/// little-endian), an index file of that many bytes (its checksum made right, so
/// the fuzzer gets past it) and the bytes of a segment, named by the base offset
/// of its first batch when that header parses (else 0), as the log names them.
/// When the index parses, an empty segment follows at its next offset, so the
/// first is sealed and the loader may trust the index. Opened read-only and then writable: every offset from the
/// start to the end is either served, in order, or counted as skipped; writable
/// recovery reports every damage `verify` then finds (or moved the file aside),
/// and the log takes new readings.
enum SegmentFuzz: FuzzTarget {
    static let name = "segment"

    private static func configuration(_ directory: String) -> LogConfiguration {
        var configuration = LogConfiguration(directory: directory)
        configuration.segmentBytes = LogConfiguration.minimumSegmentBytes
        configuration.flush = .everyBatch
        // Zeros to the segment size after recovery would have verify scan them
        // on every input (a third of the time); inputs bring their own zeros.
        configuration.preallocate = false
        return configuration
    }

    /// Each sealed segment of a log the log wrote, with its index, and the active one alone.
    static func seeds() throws -> [[UInt8]] {
        try withSampleLog { segments in
            segments.flatMap { segment -> [[UInt8]] in
                var length: [UInt8] = []
                appendLittleEndian(UInt16(segment.index.count), to: &length)
                return segment.index.isEmpty ? [length + segment.bytes] : [length + segment.index + segment.bytes, [0, 0] + segment.bytes]
            }
        }
    }

    static func check(_ input: [UInt8]) -> Bool {
        guard input.count >= 2 else { return false }
        let indexLength = min(Int(littleEndian(UInt16.self, input, 0)), input.count - 2)
        let index = Array(input[2..<(2 + indexLength)])
        let segment = Array(input[(2 + indexLength)...])
        return withScratchDirectory { directory in
            let folder = directory + "/readings-0/"
            mkdir(folder, 0o755)
            let base = (try? segment.withUnsafeBytes { try BatchHeader.parse($0).get() })?.baseOffset ?? 0
            writeFile(folder + LogFileNames.segment(baseOffset: base), segment)
            if index.count >= 4 {
                let sealed = resealed(index)
                writeFile(folder + LogFileNames.index(baseOffset: base), sealed)
                if let parsed = SegmentIndex.parse(sealed), parsed.nextOffset > base {
                    writeFile(folder + LogFileNames.segment(baseOffset: parsed.nextOffset), [])
                }
            }
            // Read-only, as `tributary log dump` and `log verify` open a log a daemon writes.
            if let log = try? Log.open(configuration(directory), readOnly: true) {
                if let partition = try? log.partition("readings", 0) { readAll(partition) }
                _ = try? log.verify()
            }
            let log: Log
            do {
                log = try Log.open(configuration(directory))
            } catch {
                preconditionFailure("recovery refused the partition: \(error)")
            }
            do {
                let partition = try log.partition("readings", 0)
                let intact = readAll(partition, recovered: true) > 0 && partition.recovery.isClean
                // Recovery moves aside what holds nothing readable and keeps (and
                // reports) damage it can read around; verify may find only those,
                // and an index the loader trusted that verify finds wrong: the
                // loader checks a checksummed index's bounds and its last entry,
                // not every field (that would read the segment), and only this
                // harness, forging checksums, gets a wrong one past it.
                let reported = Set(partition.recovery.damage.map(\.file))
                let problems = try log.verify().problems.filter {
                    !$0.file.hasSuffix(LogFileNames.quarantineSuffix) && !reported.contains($0.file)
                        && $0.message != "index disagrees with its segment"
                }
                precondition(problems.isEmpty, "after recovery, damage it did not report: \(problems); \(partition.recovery)")
                let end = partition.endOffset
                try partition.append([Reading(sensor: "after", timestamp: 0, value: .int(1))])
                try partition.sync()
                let next = try partition.reader(from: end).next()
                precondition(next.map(\.offset) == [end], "a reading appended after recovery reads back as \(next)")
                try log.close()
                return intact
            } catch {
                preconditionFailure("the recovered partition failed: \(error)")
            }
        }
    }

    /// Reads from the start: offsets in order, each one served or counted as
    /// skipped. A recovered partition (`recovered`) reads without an error to its durable end.
    /// Returns how many readings were served.
    @discardableResult
    private static func readAll(_ partition: Partition, recovered: Bool = false) -> Int64 {
        let reader = partition.reader(from: partition.startOffset)
        var served: Int64 = 0
        var last = Int64.min
        while true {
            let batch: [StoredReading]
            do {
                batch = try reader.next()
            } catch {
                precondition(!recovered, "reading the recovered partition: \(error)")
                break
            }
            if batch.isEmpty { break }
            for stored in batch {
                precondition(stored.offset > last, "offset \(stored.offset) served after \(last)")
                last = stored.offset
            }
            served += Int64(batch.count)
        }
        precondition(!recovered || reader.position == partition.durableOffset,
                     "reading stopped at \(reader.position) before the durable end \(partition.durableOffset)")
        let expected = reader.position - partition.startOffset
        precondition(served + reader.skippedReadings == expected,
                     "\(served) served and \(reader.skippedReadings) skipped of \(expected) readings")
        return reader.skippedReadings == 0 ? served : 0
    }
}
