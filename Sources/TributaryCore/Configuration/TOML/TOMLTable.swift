/// A table of a TOML document while it is read, remembering how it came to
/// be, which decides what may still add to it: TOML defines each table once,
/// by a `[header]`, by dotted keys (`a.b = 1` defines `a`), or inline
/// (`{ ... }`, closed at its brace).
final class TOMLTable {
    enum Origin {
        /// Named by a `[header]` or a `[[header]]`.
        case header
        /// Made as the parent of a header's table (`a` for `[a.b]`): a header may still define it.
        case implicit
        /// Made by dotted keys: more dotted keys may add to it, no header may define it.
        case dotted
    }

    enum Entry {
        case table(TOMLTable)
        /// An array of tables, `[[name]]`.
        case tables([TOMLTable])
        /// Any other value, inline tables and arrays included: nothing adds to it.
        case value(ConfigurationNode)
    }

    var origin: Origin
    var entries: [String: Entry] = [:]

    init(origin: Origin) { self.origin = origin }

    /// The table's entries as plain values.
    var values: [String: ConfigurationNode] { entries.mapValues(Self.node) }

    /// The table as a plain value.
    var node: ConfigurationNode { .table(values) }

    private static func node(_ entry: Entry) -> ConfigurationNode {
        switch entry {
        case let .table(table): table.node
        case let .tables(tables): .array(tables.map(\.node))
        case let .value(value): value
        }
    }

    /// Why `key` cannot be a table here, for an error message.
    private func occupied(_ key: String) -> String {
        switch entries[key] {
        case .tables: "\"\(key)\" is an array of tables ([[\(key)]])"
        case .value: "\"\(key)\" already holds a value"
        default: "\"\(key)\" is a table already defined"
        }
    }

    /// The table `key` names under a header, made if missing: through a header's
    /// parents, the last table of an array of tables counts.
    /// - Returns: the table, and the index into an array of tables when it is one's last.
    func parent(_ key: String) throws(TOMLTableError) -> (table: TOMLTable, index: Int?) {
        switch entries[key] {
        case nil:
            let table = TOMLTable(origin: .implicit)
            entries[key] = .table(table)
            return (table, nil)
        case let .table(table): return (table, nil)
        case let .tables(tables): return (tables[tables.count - 1], tables.count - 1)
        case .value: throw TOMLTableError(message: occupied(key) + "; it cannot be a table too")
        }
    }

    /// Defines table `key` for a `[header]`.
    func define(_ key: String) throws(TOMLTableError) -> TOMLTable {
        switch entries[key] {
        case nil:
            let table = TOMLTable(origin: .header)
            entries[key] = .table(table)
            return table
        case let .table(table) where table.origin == .implicit:
            table.origin = .header
            return table
        case let .table(table) where table.origin == .dotted:
            throw TOMLTableError(message: "table \"\(key)\" was already defined by dotted keys")
        default: throw TOMLTableError(message: occupied(key) + "; a table is defined once")
        }
    }

    /// Appends a table to the array of tables `key` for a `[[header]]`.
    /// - Returns: the new table and its index.
    func append(_ key: String) throws(TOMLTableError) -> (table: TOMLTable, index: Int) {
        let table = TOMLTable(origin: .header)
        switch entries[key] {
        case nil:
            entries[key] = .tables([table])
            return (table, 0)
        case let .tables(tables):
            entries[key] = .tables(tables + [table])
            return (table, tables.count)
        default: throw TOMLTableError(message: occupied(key) + "; it cannot be an array of tables")
        }
    }

    /// The table a dotted key's part `key` names, made if missing.
    func dotted(_ key: String) throws(TOMLTableError) -> TOMLTable {
        switch entries[key] {
        case nil:
            let table = TOMLTable(origin: .dotted)
            entries[key] = .table(table)
            return table
        case let .table(table) where table.origin == .dotted: return table
        case .table: throw TOMLTableError(message: "table \"\(key)\" is defined elsewhere; dotted keys cannot add to it")
        default: throw TOMLTableError(message: occupied(key) + "; dotted keys cannot make it a table")
        }
    }

    /// Sets `key` to `value`, once.
    func set(_ key: String, _ value: ConfigurationNode) throws(TOMLTableError) {
        guard entries[key] == nil else { throw TOMLTableError(message: "key \"\(key)\" is defined twice") }
        entries[key] = .value(value)
    }
}

/// A TOML rule about tables broken: the reader adds where.
struct TOMLTableError: Error {
    var message: String
}
