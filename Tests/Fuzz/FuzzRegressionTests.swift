#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Every target (run.sh lists the same names).
let fuzzTargets: [any FuzzTarget.Type] = [
    TOMLFuzz.self, BatchFuzz.self, SegmentFuzz.self, IndexFuzz.self, OffsetsFuzz.self, AppendFuzz.self,
    PayloadFuzz.self, LineProtocolFuzz.self, SerialCSVFuzz.self, SerialKeyValueFuzz.self,
    SerialNMEAFuzz.self, SerialJSONFuzz.self,
]

/// Every fuzz target's check, on its seeds (so the seeds are real encodings the
/// checks accept, and the checks keep compiling) and on every input kept in
/// Tests/Fuzz/Regressions/<target>/: what fuzzing once found, failing again if
/// the defect comes back.
@Suite struct FuzzRegressionTests {
    @Test(arguments: fuzzTargets.map { $0.name })
    func seedsAndFoundInputsPass(_ name: String) throws {
        let target = try #require(fuzzTargets.first { $0.name == name })
        let seeds = try target.seeds()
        #expect(!seeds.isEmpty)
        for (number, seed) in seeds.enumerated() {
            let taken = target.check(seed)
            #expect(taken, "\(name): seed \(number) is not taken as valid")
        }
        for input in Self.regressions(of: name) { target.check(input) }
    }

    @Test func everyRegressionFolderNamesATarget() {
        let names = Set(fuzzTargets.map { $0.name })
        #expect(Set(Self.entries(Self.folder)).subtracting(names).isEmpty)
    }

    static let folder = repositoryRoot + "/Tests/Fuzz/Regressions"

    static func regressions(of name: String) -> [[UInt8]] {
        entries(folder + "/" + name).sorted().compactMap { readFile(folder + "/" + name + "/" + $0) }
    }

    static func entries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names
    }
}
