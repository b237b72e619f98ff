// The libFuzzer entry points for one target. Tests/Fuzz/run.sh compiles this file
// with Targets/FuzzTarget.swift, the target's own file and a line naming it
// (`typealias Target = BatchFuzz`), against the modules built with coverage and
// address sanitizer.
#if canImport(Glibc)
import Glibc
#endif

/// Writes the target's seeds into the directory `TRIBUTARY_FUZZ_SEEDS` names.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>>>) -> CInt {
    guard let directory = getenv("TRIBUTARY_FUZZ_SEEDS").map({ String(cString: $0) }) else { return 0 }
    do {
        for (number, seed) in try Target.seeds().enumerated() {
            writeFile("\(directory)/seed-\(number)", seed)
        }
    } catch {
        fatalError("\(Target.name): cannot make seeds: \(error)")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = Target.check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
