import Synchronization
import SystemPackage

/// A log directory: topics, each split into partitions (FORMAT.md).
///
/// Opening it for writing takes an exclusive lock on the directory (one
/// writer process at a time) and recovers every partition; opening it
/// read-only takes no lock and changes nothing, so `tributary log` can inspect
/// the log of a running daemon. Thread-safe.
public final class Log: Sendable {
    public let configuration: LogConfiguration
    public let isReadOnly: Bool
    /// The directory's write lock, held until `close`.
    private let lock: Mutex<FileDescriptor?>
    private let topicTable: Mutex<[String: [Partition]]>
    let budget: DiskBudget

    private init(configuration: LogConfiguration, readOnly: Bool, lock: FileDescriptor?) {
        self.configuration = configuration
        self.isReadOnly = readOnly
        self.lock = Mutex(lock)
        self.topicTable = Mutex([:])
        self.budget = DiskBudget(limit: configuration.diskBudget)
    }

    deinit { try? lock.withLock { $0 }?.close() }

    /// Opens (creating if needed) the log in `configuration.directory`,
    /// recovering every partition. Topics in `configuration.topics` that do not
    /// exist yet are created.
    public static func open(_ configuration: LogConfiguration, readOnly: Bool = false) throws -> Log {
        try configuration.validate()
        let directory = configuration.directory
        if readOnly {
            guard Syscalls.isDirectory(directory) else {
                throw LogError.io(operation: "open", path: directory, errno: .noSuchFileOrDirectory)
            }
        } else {
            try Syscalls.makeDirectory(directory)
        }
        let lock = readOnly ? nil : try Syscalls.lockExclusively(directory + "/" + LogFileNames.lockFile)
        let log = Log(configuration: configuration, readOnly: readOnly, lock: lock)
        var found: [String: [Int]] = [:]
        for name in try Syscalls.listDirectory(directory) where Syscalls.isDirectory(directory + "/" + name) {
            if let (topic, partition) = LogFileNames.parsePartitionDirectory(name) {
                found[topic, default: []].append(partition)
            }
        }
        for (topic, ids) in found {
            // A missing partition directory in the middle is recreated empty.
            try log.openTopic(topic, partitions: (ids.max() ?? 0) + 1)
        }
        if !readOnly {
            for (topic, settings) in configuration.topics where found[topic] == nil {
                try log.openTopic(topic, partitions: settings.partitions)
            }
            // What is on disk may exceed the budget (it was lowered, or the log
            // was written without one): free what the policies allow now, as
            // appends would, rather than start over budget.
            log.budget.reclaim(0, excluding: nil, includeUnconsumed: false)
            log.budget.reclaim(0, excluding: nil, includeUnconsumed: true)
        }
        return log
    }

    @discardableResult
    private func openTopic(_ topic: String, partitions count: Int) throws -> [Partition] {
        var partitions: [Partition] = []
        for id in 0..<count {
            let directory = configuration.directory + "/" + LogFileNames.partitionDirectory(topic: topic, partition: id)
            if !isReadOnly { try Syscalls.makeDirectory(directory) }
            guard Syscalls.isDirectory(directory) else { continue }
            let partition = try Partition(topic: topic, id: id, directory: directory,
                                          configuration: configuration, readOnly: isReadOnly, log: self)
            partitions.append(partition)
        }
        topicTable.withLock { $0[topic] = partitions }
        return partitions
    }

    /// Topic names, sorted.
    public var topics: [String] { topicTable.withLock { $0.keys.sorted() } }

    /// The topic's partitions in order, or nil if it does not exist.
    public func partitions(of topic: String) -> [Partition]? { topicTable.withLock { $0[topic] } }

    public func partition(_ topic: String, _ id: Int) throws -> Partition {
        guard let partitions = partitions(of: topic), partitions.indices.contains(id) else {
            throw LogError.unknownPartition(topic: topic, partition: id)
        }
        return partitions[id]
    }

    /// The topic's partitions, creating the topic with `count` partitions if
    /// it does not exist. An existing topic keeps its partition count.
    public func topic(_ name: String, creatingWith count: Int) throws -> [Partition] {
        if let existing = partitions(of: name) { return existing }
        precondition(!isReadOnly, "creating a topic in a log opened read-only")
        guard LogFileNames.isValidName(name) else { throw LogError.invalidName(name) }
        try TopicConfiguration.checkPartitions(count, topic: name)
        // Every new partition starts with a full-size active segment; the budget
        // checked at open covers only the configured topics. Reserved, so two
        // topics created at once cannot both take the last free space; released
        // once the partitions count their segments.
        let needed = Int64(count) * configuration.segmentBytes
        if !budget.reserve(needed) {
            budget.reclaim(needed, excluding: nil, includeUnconsumed: false)
            guard budget.reserve(needed) else {
                throw LogError.invalidConfiguration(
                    "topic \(name): \(count) partitions need \(needed) bytes for their segments, more than the disk budget has free")
            }
        }
        defer { budget.add(-needed) }
        return try openTopic(name, partitions: count)
    }

    /// Every partition of every topic, in topic then partition order.
    public var allPartitions: [Partition] {
        topicTable.withLock { table in table.keys.sorted().flatMap { table[$0]! } }
    }

    /// What recovery found in each partition when the log was opened.
    public var recovery: [RecoveryReport] { allPartitions.map(\.recovery) }

    /// Bytes counted against the disk budget: the segments on disk, each
    /// active segment at its full size (preallocated or not).
    public var diskBytes: Int64 { budget.usedBytes }

    /// The partition a sensor's readings go to: a stable hash (FNV-1a) of its
    /// id, so one sensor's readings stay in one partition, in order.
    public static func partition(forSensor sensor: String, partitions: Int) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in sensor.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int(hash % UInt32(max(partitions, 1)))
    }

    /// Makes everything appended durable in every partition.
    public func sync() throws {
        for partition in allPartitions { try partition.sync() }
    }

    /// Syncs every partition and leaves the active segments indexed, for a
    /// quick next open. The log must not be used afterwards.
    public func close() throws {
        for partition in allPartitions { try partition.close() }
        try lock.withLock { lock in
            try lock?.close()
            lock = nil
        }
    }
}
