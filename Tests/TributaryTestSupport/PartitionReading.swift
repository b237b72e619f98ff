import TributaryLog

extension Partition {
    /// Every durable reading from `offset` on, read the way a consumer does,
    /// and the reader (for its skip counters).
    public func readAll(from offset: Int64 = 0) throws -> (readings: [StoredReading], reader: PartitionReader) {
        let reader = reader(from: offset)
        var readings: [StoredReading] = []
        while true {
            let batch = try reader.next()
            if batch.isEmpty { break }
            readings += batch
        }
        return (readings, reader)
    }
}
