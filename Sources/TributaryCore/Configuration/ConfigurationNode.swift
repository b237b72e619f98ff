/// A TOML value as `TOMLReader` reads it: plain Sendable values the
/// validation can hold on to.
enum ConfigurationNode: Sendable, Equatable {
    case table([String: ConfigurationNode])
    case array([ConfigurationNode])
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    /// A date, time or date-time (`typeName` says which), as written: TOML types no tributary key takes.
    case other(typeName: String, text: String)

    /// A TOML syntax error, where the reader found it.
    struct SyntaxError: Error {
        var line: Int?
        var column: Int?
        var message: String

        /// The error as a mistake in `file`.
        func configurationError(file: String) -> ConfigurationError {
            ConfigurationError(file: file, line: line, column: column, key: "", message: "not valid TOML: \(message)")
        }
    }

    /// The value's TOML type, for "expected ..., found a string" messages.
    var typeName: String {
        switch self {
        case .table: return "table"
        case .array: return "array"
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "floating-point number"
        case .boolean: return "boolean"
        case let .other(typeName, _): return typeName
        }
    }

    /// The value as the user wrote it, near enough to recognise: `"fast"`, `12`, `a table`.
    var shown: String {
        switch self {
        case .table: return "a table"
        case .array: return "an array"
        case let .string(text): return "\"" + text + "\""
        case let .integer(value): return String(value)
        case let .float(value): return String(value)
        case let .boolean(value): return String(value)
        case let .other(typeName, text): return "\(typeName) \(text)"
        }
    }
}
