import Testing
import TributaryCore

/// Expects `parse` to refuse its configuration with exactly one mistake: `key`
/// on `line`, its message starting with `message`. The settings tests of every
/// kind of source and sink check their mistakes through it.
public func expectOneMistake(line: Int, key: String, message: String,
                             sourceLocation: SourceLocation = #_sourceLocation,
                             _ parse: () throws -> TributaryConfiguration) throws {
    let errors = try #require(throws: ConfigurationErrors.self, sourceLocation: sourceLocation) { try parse() }
    let error = try #require(errors.errors.first, sourceLocation: sourceLocation)
    #expect(errors.errors.count == 1, "\(errors)", sourceLocation: sourceLocation)
    #expect(error.line == line && error.key == key, "\(error)", sourceLocation: sourceLocation)
    #expect(error.message.hasPrefix(message), "\(error.message)", sourceLocation: sourceLocation)
}
