/// One mistake in a configuration file, located by file, line and key.
///
/// Its description reads like a compiler's: `FILE:LINE: KEY: MESSAGE`, for example
/// `/etc/tributary/tributary.toml:12: sources[1].rate: expected a number of
/// readings per second like 10 or 0.5, found "fast"`.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration file, as given.
    public var file: String
    /// The 1-based line the mistake is on, when it could be found.
    public var line: Int?
    /// The 1-based column, known only for TOML syntax errors.
    public var column: Int?
    /// Where the key sits in the document, such as `sources[1].rate`; empty for
    /// mistakes that concern the whole file.
    public var key: String
    /// What is wrong and what was expected.
    public var message: String

    /// Creates an error for `key` in `file` at `line`.
    public init(file: String, line: Int?, column: Int? = nil, key: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if let column { text += ":\(column)" }
        text += ": "
        if !key.isEmpty { text += key + ": " }
        return text + message
    }
}

/// Every mistake found in a configuration file, in the order of the file.
public struct ConfigurationErrors: Error, Sendable, Equatable, CustomStringConvertible {
    /// At least one error.
    public var errors: [ConfigurationError]

    /// Wraps `errors`, sorted by line so they read top to bottom.
    public init(_ errors: [ConfigurationError]) {
        self.errors = errors.enumerated().sorted { lhs, rhs in
            let left = lhs.element.line ?? 0, right = rhs.element.line ?? 0
            return left != right ? left < right : lhs.offset < rhs.offset
        }.map(\.element)
    }

    /// One error per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
