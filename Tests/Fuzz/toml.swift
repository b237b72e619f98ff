// libFuzzer target: the configuration's TOML reader (`TOMLReader`) on any bytes.
// It must return a document or a syntax error, never crash, hang or grow without
// bound; a document it returns must place every key on a line of the text.
// Built by Tests/Fuzz/run.sh with the reader's files, without the rest of TributaryCore.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTOML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let document = try? TOMLReader.read(text) else { return 0 }
    let lines = text.utf8.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    for (key, _) in document.entries {
        let line = document.sourceMap.line(for: ConfigurationPath([.key(key)]))
        precondition(line.map { (1...lines).contains($0) } ?? false, "key \(key) placed on line \(String(describing: line))")
    }
    return 0
}
