#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TributaryCore

/// Runs `body` with a new empty directory, removed afterwards.
func withTemporaryDirectory(_ label: String, _ body: (String) async throws -> Void) async throws {
    var template = Array("/tmp/tributary-\(label)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    let directory = try #require(made.map { String(cString: $0) })
    defer { _ = system("rm -rf '\(directory)'") }
    try await body(directory)
}
