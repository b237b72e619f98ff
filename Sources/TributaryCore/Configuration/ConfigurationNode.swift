import TOMLKit

/// A parsed TOML value, copied out of TOMLKit's C++-backed classes into plain
/// Sendable values the validation can hold on to.
enum ConfigurationNode: Sendable, Equatable {
    case table([String: ConfigurationNode])
    case array([ConfigurationNode])
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    /// A date, time or date-time: TOML types no tributary key takes.
    case other(typeName: String, text: String)

    /// A TOML syntax error, where toml++ found it.
    struct SyntaxError: Error {
        var line: Int?
        var column: Int?
        var message: String

        /// The error as a mistake in `file`.
        func configurationError(file: String) -> ConfigurationError {
            ConfigurationError(file: file, line: line, column: column, key: "", message: "not valid TOML: \(message)")
        }
    }

    /// Parses a TOML document.
    static func parse(_ text: String) throws(SyntaxError) -> [String: ConfigurationNode] {
        do {
            return entries(of: try TOMLTable(string: text))
        } catch let error as TOMLParseError {
            let position = error.source.begin
            throw SyntaxError(line: position.line > 0 ? position.line : nil,
                              column: position.column > 0 ? position.column : nil, message: error.description)
        } catch {
            throw SyntaxError(message: "\(error)")
        }
    }

    private static func entries(of table: TOMLTable) -> [String: ConfigurationNode] {
        var entries: [String: ConfigurationNode] = [:]
        for (key, value) in table { entries[key] = node(value.tomlValue) }
        return entries
    }

    private static func node(_ value: TOMLValue) -> ConfigurationNode {
        switch value.type {
        case .table: return .table(value.table.map(entries(of:)) ?? [:])
        case .array: return .array(value.array.map { $0.map { node($0.tomlValue) } } ?? [])
        case .string: return .string(value.string ?? "")
        case .int: return value.int.map(ConfigurationNode.integer) ?? .other(typeName: "integer", text: "?")
        case .double: return value.double.map(ConfigurationNode.float) ?? .other(typeName: "float", text: "?")
        case .bool: return value.bool.map(ConfigurationNode.boolean) ?? .other(typeName: "boolean", text: "?")
        case .date, .time, .dateTime: return .other(typeName: value.type.description, text: value.debugDescription)
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
