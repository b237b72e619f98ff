#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// Would per-batch zstd pay? Runs the `zstd` command (no library dependency)
/// on segment files two ways: whole files, the best any compression of this
/// data could do, and a sample of single batches with their 40-byte header
/// left uncompressed, which is what a per-batch codec flag would store.
enum CompressionProbe {
    struct Result {
        var level: Int
        /// Compressed / original, whole segment files.
        var wholeFileRatio: Double
        /// (header + compressed payload) / batch, over the sampled batches.
        var perBatchRatio: Double
        var sampledBatches: Int
    }

    static let level = 3
    static let sampleSize = 200

    /// Nil when `zstd` is not on $PATH.
    static func measure(_ segments: [SegmentSnapshot], scratch: String) throws -> Result? {
        guard let zstd = ChildProcess.find("zstd") else { return nil }
        try FileIO.check(Int(mkdir(scratch, 0o755)), "mkdir", scratch)
        defer { FileIO.removeTree(scratch) }
        let options = ["-q", "-f", "-\(level)", "--no-check"]

        var original: Int64 = 0
        var compressed: Int64 = 0
        for (i, segment) in segments.enumerated() {
            let output = "\(scratch)/segment-\(i).zst"
            guard try ChildProcess.run(zstd, options + [segment.path, "-o", output]) == 0 else { return nil }
            original += FileIO.size(segment.path)
            compressed += FileIO.size(output)
        }

        var batches = 0
        try SegmentBatches(segments: segments).forEach { _ in batches += 1 }
        let stride = max(1, batches / sampleSize)
        var files: [String] = []
        var sampledBytes: Int64 = 0
        var index = 0
        try SegmentBatches(segments: segments).forEach { batch in
            defer { index += 1 }
            guard index % stride == 0, files.count < sampleSize else { return }
            let path = "\(scratch)/batch-\(files.count)"
            let fd = try FileIO.createForWriting(path)
            defer { close(fd) }
            try FileIO.writeAll(fd, UnsafeRawBufferPointer(rebasing: batch[BatchHeader.size...]), path: path)
            files.append(path)
            sampledBytes += Int64(batch.count)
        }
        guard !files.isEmpty, try ChildProcess.run(zstd, options + files) == 0 else { return nil }
        let perBatch = files.reduce(Int64(0)) { $0 + Int64(BatchHeader.size) + FileIO.size($1 + ".zst") }
        return Result(level: level, wholeFileRatio: Double(compressed) / Double(max(original, 1)),
                      perBatchRatio: Double(perBatch) / Double(max(sampledBytes, 1)), sampledBatches: files.count)
    }
}
