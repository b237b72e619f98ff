#if canImport(Glibc)
import Glibc
#endif

/// Reads the keys of one TOML table, reporting every mistake to the
/// diagnostics instead of stopping at the first, and remembering which keys
/// were asked for so that `finish()` can call the rest unknown.
///
/// Each accessor returns nil both when the key is absent and when its value is
/// wrong (the latter is reported); callers fall back to a default and go on.
/// Every report names the file, the line and the key's full path
/// (`sinks[1].max_batch`). Plug-ins read their `[[sources]]` and `[[sinks]]`
/// tables through it.
public final class TableReader {
    let path: ConfigurationPath
    let diagnostics: ConfigurationDiagnostics
    private let entries: [String: ConfigurationNode]
    private var known: [String] = []

    init(path: ConfigurationPath, entries: [String: ConfigurationNode], diagnostics: ConfigurationDiagnostics) {
        self.path = path
        self.entries = entries
        self.diagnostics = diagnostics
    }

    /// Whether the table has `key`, marking the key as known.
    public func contains(_ key: String) -> Bool { value(key) != nil }

    /// Reports `message` about element `index` of the array `key`.
    public func report(_ key: String, index: Int, _ message: String) {
        diagnostics.report(path.appending(key).appending(index: index), message)
    }

    /// The raw value of `key`, marking the key as known.
    func value(_ key: String) -> ConfigurationNode? {
        if !known.contains(key) { known.append(key) }
        return entries[key]
    }

    /// Reports `message` about `key` of this table.
    public func report(_ key: String, _ message: String) { diagnostics.report(path.appending(key), message) }

    /// Reports that a required key is absent.
    public func reportMissing(_ key: String, expected: String) {
        report(key, "missing required key; expected \(expected)")
    }

    private func mismatch<T>(_ key: String, _ expected: String, _ found: ConfigurationNode) -> T? {
        report(key, "expected \(expected), found \(found.shown)")
        return nil
    }

    public func string(_ key: String, expected: String = "a string") -> String? {
        guard let node = value(key) else { return nil }
        guard case let .string(text) = node else { return mismatch(key, expected, node) }
        return text
    }

    public func boolean(_ key: String) -> Bool? {
        guard let node = value(key) else { return nil }
        guard case let .boolean(flag) = node else { return mismatch(key, "true or false", node) }
        return flag
    }

    public func integer(_ key: String, in range: ClosedRange<Int>, expected: String) -> Int? {
        guard let node = value(key) else { return nil }
        guard case let .integer(number) = node, range.contains(number) else { return mismatch(key, expected, node) }
        return number
    }

    /// An integer or a float, within `range`.
    public func number(_ key: String, in range: ClosedRange<Double>, expected: String) -> Double? {
        guard let node = value(key) else { return nil }
        let number: Double
        switch node {
        case let .integer(integer): number = Double(integer)
        case let .float(float): number = float
        default: return mismatch(key, expected, node)
        }
        guard range.contains(number) else { return mismatch(key, expected, node) }
        return number
    }

    /// A size: a whole number of bytes or a string such as "16MiB".
    public func bytes(_ key: String, atLeast minimum: Int64 = 0) -> Int64? {
        guard let node = value(key) else { return nil }
        let bytes: Int64?
        switch node {
        case let .integer(integer): bytes = integer >= 0 ? Int64(integer) : nil
        case let .string(text): bytes = HumanUnits.bytes(text)
        default: bytes = nil
        }
        guard let bytes else { return mismatch(key, HumanUnits.sizeExpectation, node) }
        guard bytes >= minimum else {
            report(key, "expected at least \(minimum) bytes, found \(node.shown)")
            return nil
        }
        return bytes
    }

    /// A duration string such as "30s", in milliseconds.
    public func milliseconds(_ key: String, atLeast minimum: Int64 = 1) -> Int64? {
        guard let node = value(key) else { return nil }
        guard case let .string(text) = node, let milliseconds = HumanUnits.milliseconds(text) else {
            return mismatch(key, HumanUnits.durationExpectation, node)
        }
        guard milliseconds >= minimum else {
            report(key, "expected at least \(minimum) ms, found \(node.shown)")
            return nil
        }
        return milliseconds
    }

    /// One of `choices`, spelled exactly.
    public func choice<Choice: RawRepresentable>(_ key: String, among choices: [Choice]) -> Choice?
        where Choice.RawValue == String {
        guard let node = value(key) else { return nil }
        let names = choices.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
        guard case let .string(text) = node, let choice = choices.first(where: { $0.rawValue == text }) else {
            return mismatch(key, names, node)
        }
        return choice
    }

    /// An array of strings; a single string is taken as an array of one.
    public func strings(_ key: String, expected: String) -> [String]? {
        guard let node = value(key) else { return nil }
        switch node {
        case let .string(text): return [text]
        case let .array(elements):
            var strings: [String] = []
            for (index, element) in elements.enumerated() {
                guard case let .string(text) = element else {
                    diagnostics.report(path.appending(key).appending(index: index),
                                       "expected \(expected), found \(element.shown)")
                    return nil
                }
                strings.append(text)
            }
            return strings
        default: return mismatch(key, expected, node)
        }
    }

    /// A sub-table, such as `[log]` or `[topics.readings]`.
    public func table(_ key: String) -> TableReader? {
        guard let node = value(key) else { return nil }
        guard case let .table(entries) = node else { return mismatch(key, "a table like [\(key)]", node) }
        return TableReader(path: path.appending(key), entries: entries, diagnostics: diagnostics)
    }

    /// A table of another library's settings (`librdkafka`), named as that
    /// library names them: `a.b = 1` (tables in TOML) and `"a.b" = 1` both
    /// give the key `a.b`. Read its values with `text(_:)`.
    public func dottedTable(_ key: String) -> TableReader? {
        guard let table = table(key) else { return nil }
        var flattened: [String: ConfigurationNode] = [:]
        func flatten(_ entries: [String: ConfigurationNode], prefix: String) {
            for (name, node) in entries {
                if case let .table(inner) = node {
                    flatten(inner, prefix: prefix + name + ".")
                } else {
                    flattened[prefix + name] = node
                }
            }
        }
        flatten(table.entries, prefix: "")
        return TableReader(path: table.path, entries: flattened, diagnostics: diagnostics)
    }

    /// A string, a number or a boolean, as text (`30000`, `true`).
    public func text(_ key: String) -> String? {
        guard let node = value(key) else { return nil }
        switch node {
        case let .string(text): return text
        case let .integer(number): return "\(number)"
        case let .float(number): return "\(number)"
        case let .boolean(flag): return flag ? "true" : "false"
        default: return mismatch(key, "a string, a number or true/false", node)
        }
    }

    /// An array of tables, such as the `[[sources]]` entries.
    public func tables(_ key: String) -> [TableReader]? {
        guard let node = value(key) else { return nil }
        guard case let .array(elements) = node else { return mismatch(key, "[[\(key)]] tables", node) }
        var tables: [TableReader] = []
        for (index, element) in elements.enumerated() {
            let elementPath = path.appending(key).appending(index: index)
            guard case let .table(entries) = element else {
                diagnostics.report(elementPath, "expected a [[\(key)]] table, found \(element.shown)")
                continue
            }
            tables.append(TableReader(path: elementPath, entries: entries, diagnostics: diagnostics))
        }
        return tables
    }

    /// The names of every entry, for tables whose keys are names (topics).
    public var keys: [String] { entries.keys.sorted() }

    /// The secret in the file named by `key` (relative to the configuration's directory).
    public func secretFile(_ key: String) -> Secret? {
        guard let path = string(key, expected: "the path of a file holding the secret") else { return nil }
        let resolved = diagnostics.resolve(path)
        do {
            return Secret(try SecretFile.read(resolved))
        } catch {
            report(key, "cannot read secret file \"\(resolved)\": \(error)")
            return nil
        }
    }

    /// The path in `key` (relative to the configuration's directory) of a
    /// file that must be readable now, such as a CA certificate.
    public func readableFile(_ key: String, expected: String) -> String? {
        guard let path = string(key, expected: expected) else { return nil }
        let resolved = diagnostics.resolve(path)
        guard access(resolved, R_OK) == 0 else {
            report(key, "cannot read \(expected) \"\(resolved)\": \(String(cString: strerror(errno)))")
            return nil
        }
        return resolved
    }

    /// Reports every key of this table that no accessor asked for. The
    /// daemon calls it for `[[sources]]` and `[[sinks]]` tables; a plug-in
    /// calls it for the sub-tables it reads.
    public func finish() {
        for key in entries.keys.sorted() where !known.contains(key) {
            var message = "unknown key"
            if let guess = known.min(by: { editDistance($0, key) < editDistance($1, key) }),
               editDistance(guess, key) <= max(2, key.count / 3) {
                message += "; did you mean \"\(guess)\"?"
            }
            let where_ = path.components.isEmpty ? "at the top level" : "in \(path)"
            message += " Keys allowed \(where_): " + known.joined(separator: ", ")
            report(key, message)
        }
    }
}

/// Levenshtein distance, for "did you mean" on a misspelt key.
func editDistance(_ lhs: String, _ rhs: String) -> Int {
    let a = Array(lhs), b = Array(rhs)
    guard !a.isEmpty else { return b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
