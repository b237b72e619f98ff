import Testing
@testable import TributaryLog

/// Names and fields that are malformed, or valid but at the edge of their
/// range: each must be refused (or handled) without trapping.
@Suite("Range checks on names and stored fields")
struct RangeCheckTests {
    @Test("a segment name is exactly 20 ASCII digits and .log")
    func segmentNames() {
        #expect(LogFileNames.parseSegment("00000000000000000001.log") == 1)
        let largest = BatchHeader.maximumBaseOffset
        #expect(LogFileNames.parseSegment(LogFileNames.segment(baseOffset: largest)) == largest)
        // Past the largest base offset: no segment of the log's (it could not be appended to).
        #expect(LogFileNames.parseSegment(LogFileNames.segment(baseOffset: largest + 1)) == nil)
        #expect(LogFileNames.parseSegment(LogFileNames.segment(baseOffset: .max)) == nil)
        for bad in ["+0000000000000000001.log", "-0000000000000000001.log", " 0000000000000000001.log",
                    "0000000000000000001.log", "000000000000000000001.log", "0000000000000000000a.log",
                    "99999999999999999999.log", "00000000000000000001.index", "٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠١.log"] {
            #expect(LogFileNames.parseSegment(bad) == nil, "\(bad)")
        }
    }

    func index(base: Int64 = 100, next: Int64 = 200, entries: [IndexEntry]? = nil) -> SegmentIndex {
        SegmentIndex(baseOffset: base, nextOffset: next, length: 5000, minTimestamp: 1, maxTimestamp: 2,
                     entries: entries ?? [IndexEntry(offset: base, position: 0, maxTimestampBefore: .min)])
    }

    /// `bytes` with its trailing checksum recomputed, as if damage passed it by chance.
    func rechecksummed(_ bytes: [UInt8]) -> [UInt8] {
        let body = Array(bytes.dropLast(4))
        return body + withUnsafeBytes(of: CRC32C.checksum(body).littleEndian) { Array($0) }
    }

    @Test("an index with an out-of-range base offset, next offset, length or position is damaged")
    func indexFieldRanges() {
        #expect(SegmentIndex.parse(index().serialized()) == index())
        let highest = BatchHeader.maximumBaseOffset
        #expect(SegmentIndex.parse(index(base: highest, next: highest).serialized()) != nil)
        #expect(SegmentIndex.parse(index(base: -1).serialized()) == nil)
        #expect(SegmentIndex.parse(index(base: highest + 1, next: .max).serialized()) == nil)
        #expect(SegmentIndex.parse(index(next: 99).serialized()) == nil)
        // A next offset no segment could start at.
        #expect(SegmentIndex.parse(index(next: highest + 1).serialized()) == nil)
        var negativeLength = index()
        negativeLength.length = -1
        #expect(SegmentIndex.parse(negativeLength.serialized()) == nil)
        // A position with the top bit set does not fit Int64.
        var bytes = index().serialized()
        bytes[SegmentIndex.headerSize + 4 + 7] = 0x80
        #expect(SegmentIndex.parse(rechecksummed(bytes)) == nil)
    }

    @Test("index entries whose relative offset does not fit 32 bits are left out, not trapped on")
    func indexEntriesBeyondUInt32() throws {
        let base: Int64 = 1000
        let limit = base + Int64(UInt32.max)
        let entries = [IndexEntry(offset: base, position: 0, maxTimestampBefore: .min),
                       IndexEntry(offset: limit, position: 10, maxTimestampBefore: 5),
                       IndexEntry(offset: limit + 1, position: 20, maxTimestampBefore: 6)]
        let parsed = try #require(SegmentIndex.parse(index(base: base, next: limit + 2, entries: entries).serialized()))
        #expect(parsed.entries == Array(entries.prefix(2)))
    }

    @Test("a retention age beyond the clock's range deletes nothing and does not trap")
    func hugeRetentionAge() throws {
        try withTemporaryDirectory("huge-age") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(retentionMilliseconds: .max)
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            try append(bulkyReadings(3000), to: partition, batch: 40)
            let segments = partition.segments.count
            #expect(segments >= 3)
            let report = try log.enforceRetention(now: -2)
            #expect(report.deletedSegments == 0)
            #expect(partition.segments.count == segments)
        }
    }
}
