/// Every file name the log uses, in one place (FORMAT.md, "Directory layout").
enum LogFileNames {
    static let segmentSuffix = ".log"
    static let indexSuffix = ".index"
    static let temporarySuffix = ".tmp"
    static let quarantineSuffix = ".corrupt"
    static let consumerPrefix = "consumer-"
    static let consumerSuffix = ".offset"
    static let lockFile = ".lock"

    /// `<topic>-<partition>`, as Kafka names partition directories.
    static func partitionDirectory(topic: String, partition: Int) -> String {
        "\(topic)-\(partition)"
    }

    /// Splits a partition directory name at its last "-"; nil if it is not one.
    static func parsePartitionDirectory(_ name: String) -> (topic: String, partition: Int)? {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let topic = String(name[..<dash])
        guard let partition = Int(name[name.index(after: dash)...]), partition >= 0,
              isValidName(topic) else { return nil }
        return (topic, partition)
    }

    /// The base offset zero-padded to 20 digits, so `ls` sorts segments in order.
    static func segment(baseOffset: Int64) -> String {
        padded(baseOffset) + segmentSuffix
    }

    static func index(baseOffset: Int64) -> String {
        padded(baseOffset) + indexSuffix
    }

    /// Exactly 20 ASCII digits and ".log": `Int64(_:)` alone would also take
    /// a sign ("+000...1"), giving two names for one segment. A base above the
    /// largest batch base offset names no segment the log wrote (and one it
    /// could never append to).
    static func parseSegment(_ name: String) -> Int64? {
        guard name.hasSuffix(segmentSuffix), name.utf8.count == 20 + segmentSuffix.utf8.count else { return nil }
        let digits = name.utf8.prefix(20)
        guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(Substring(digits)).flatMap { $0 <= BatchHeader.maximumBaseOffset ? $0 : nil }
    }

    static func consumer(_ name: String) -> String { consumerPrefix + name + consumerSuffix }

    static func parseConsumer(_ name: String) -> String? {
        guard name.hasPrefix(consumerPrefix), name.hasSuffix(consumerSuffix) else { return nil }
        let inner = String(name.dropFirst(consumerPrefix.count).dropLast(consumerSuffix.count))
        return isValidName(inner) ? inner : nil
    }

    /// Topic and consumer names: 1-64 of A-Z a-z 0-9 . _ - and not "." or "..".
    static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }

    private static func padded(_ offset: Int64) -> String {
        let digits = String(offset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}
