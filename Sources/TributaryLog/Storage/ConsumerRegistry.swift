/// The partition's named consumers and their committed offsets, one
/// `ConsumerOffsetFile` each.
struct ConsumerRegistry {
    private var files: [String: ConsumerOffsetFile] = [:]
    /// Committed offsets by consumer name.
    private(set) var offsets: [String: Int64] = [:]

    /// Loads every consumer file, clamping offsets to the log's range: below
    /// the start (retention passed them) or above the end (the log lost an
    /// unsynced tail) they are moved to the nearest end and reported.
    static func load(directory: String, segments: [Segment], readOnly: Bool,
                     report: inout RecoveryReport) throws -> ConsumerRegistry {
        var registry = ConsumerRegistry()
        let start = segments.first?.baseOffset ?? 0
        let end = segments.last?.nextOffset ?? start
        for name in try Syscalls.listDirectory(directory) {
            guard let consumer = LogFileNames.parseConsumer(name) else { continue }
            let path = directory + "/" + name
            let stored: Int64?
            var file: ConsumerOffsetFile?
            if readOnly {
                stored = try ConsumerOffsetFile.peek(path: path)
            } else {
                // Looked at before opening, which resets a file with no valid slot.
                stored = try ConsumerOffsetFile.peek(path: path)
                file = try ConsumerOffsetFile.open(consumer: consumer, path: path, initial: start)
            }
            // A file with no valid slot: the consumer starts over from the log's start.
            let offset = stored ?? start
            let clamped = min(max(offset, start), end)
            if clamped != offset || stored == nil {
                report.clampedConsumers.append((consumer, offset, clamped))
                try file?.commit(clamped)
            }
            registry.offsets[consumer] = clamped
            registry.files[consumer] = file
        }
        return registry
    }

    mutating func commit(_ offset: Int64, for consumer: String, directory: String) throws {
        if let file = files[consumer] {
            try file.commit(offset)
        } else {
            let path = directory + "/" + LogFileNames.consumer(consumer)
            files[consumer] = try ConsumerOffsetFile.open(consumer: consumer, path: path, initial: offset)
        }
        offsets[consumer] = offset
    }
}
