@testable import TributaryLog

/// Consumer offset files: the input's first 24 bytes are slot 0 and the next 24
/// slot 1 (at 4096), each with its checksum made right when complete; a shorter
/// input is a file cut short. Opening takes the file's offset (or creates it), and
/// from there each commit is what the file reads back, whatever sequence numbers
/// the slots held.
enum OffsetsFuzz: FuzzTarget {
    static let name = "offsets"
    static let slotSize = 24

    /// Files the log wrote: after one commit, and after two (both slots in use).
    static func seeds() throws -> [[UInt8]] {
        try [1, 2].map { commits in
            try withScratchDirectory { directory in
                let path = directory + "/consumer-uplink.offset"
                let file = try ConsumerOffsetFile.open(consumer: "uplink", path: path, initial: 0)
                for offset in 1...commits { try file.commit(Int64(offset * 1000)) }
                let bytes = readFile(path) ?? []
                return Array(bytes.prefix(slotSize)) + Array(bytes.dropFirst(ConsumerOffsetFile.slotSize).prefix(slotSize))
            }
        }
    }

    static func check(_ input: [UInt8]) -> Bool {
        var file: [UInt8] = []
        for slot in 0..<2 where input.count > slot * slotSize {
            let cut = Array(input[(slot * slotSize)..<min(input.count, (slot + 1) * slotSize)])
            let bytes = cut.count == slotSize ? resealed(cut) : cut
            file += [UInt8](repeating: 0, count: slot * ConsumerOffsetFile.slotSize - file.count) + bytes
        }
        return withScratchDirectory { directory in
            let path = directory + "/consumer-uplink.offset"
            writeFile(path, file)
            do {
                let found = try ConsumerOffsetFile.peek(path: path)
                let opened = try ConsumerOffsetFile.open(consumer: "uplink", path: path, initial: -1)
                precondition(found == nil ? opened.offset == -1 : opened.offset == found, "opened at \(opened.offset), peeked \(String(describing: found))")
                for offset: Int64 in [opened.offset &+ 1, 7, opened.offset] {
                    try opened.commit(offset)
                    let read = try ConsumerOffsetFile.peek(path: path)
                    precondition(read == offset, "committed \(offset), read back \(String(describing: read))")
                }
                return found != nil
            } catch {
                preconditionFailure("offset file: \(error)")
            }
        }
    }
}
