/// Reads a TOML 1.0 document into plain values, and the line of every key,
/// table header and array element, so that a mistake found later can be
/// placed on its line (`ConfigurationSourceMap`).
///
/// The configuration's own reader: it needs no Foundation (a general TOML
/// library brought all of it, with ICU's data, for its date types) and it
/// knows where each key was written. The first syntax error stops it, with
/// its line and column.
struct TOMLReader {
    private var cursor: TOMLCursor
    private let root = TOMLTable(origin: .header)
    private var lines: [ConfigurationPath: Int] = [:]
    /// Arrays and inline tables nested this deep are refused, before the stack is at risk.
    private static let maximumDepth = 100

    /// The document's values and where each was written.
    static func read(_ text: String) throws(ConfigurationNode.SyntaxError)
        -> (entries: [String: ConfigurationNode], sourceMap: ConfigurationSourceMap) {
        var reader = TOMLReader(cursor: TOMLCursor(text))
        try reader.readDocument()
        return (reader.root.values, ConfigurationSourceMap(lines: reader.lines))
    }

    private init(cursor: TOMLCursor) { self.cursor = cursor }

    private mutating func readDocument() throws(ConfigurationNode.SyntaxError) {
        var table = root
        var path = ConfigurationPath()
        while !cursor.isAtEnd {
            cursor.skipWhitespace()
            try cursor.skipComment()
            if try cursor.takeNewline() || cursor.isAtEnd { continue }
            if cursor.peek() == UInt8(ascii: "[") {
                (table, path) = try header()
                try cursor.finishLine(after: "a table header")
            } else {
                try keyValue(into: table, at: path)
                try cursor.finishLine(after: "a value")
            }
        }
    }

    /// A `[table]` or `[[array.of.tables]]` header: the table it opens, and its path.
    private mutating func header() throws(ConfigurationNode.SyntaxError) -> (TOMLTable, ConfigurationPath) {
        let start = cursor
        let isArray = cursor.next(is: "[[")
        cursor.advance(isArray ? 2 : 1)
        let keys = try cursor.key()
        guard cursor.next(is: isArray ? "]]" : "]") else {
            throw cursor.error("expected \(isArray ? "]]" : "]") to close the table header")
        }
        cursor.advance(isArray ? 2 : 1)
        var table = root
        var path = ConfigurationPath()
        do {
            for key in keys.dropLast() {
                let parent = try table.parent(key)
                path = path.appending(key)
                note(path, at: start)
                if let index = parent.index { path = path.appending(index: index) }
                table = parent.table
            }
            path = path.appending(keys[keys.count - 1])
            if isArray {
                let appended = try table.append(keys[keys.count - 1])
                note(path, at: start)
                path = path.appending(index: appended.index)
                table = appended.table
            } else {
                table = try table.define(keys[keys.count - 1])
            }
        } catch {
            throw start.error("[\(path)]: \(error.message)")
        }
        note(path, at: start)
        return (table, path)
    }

    /// `key = value` into `table` (at `path`); dotted keys make tables on the way.
    private mutating func keyValue(into table: TOMLTable, at path: ConfigurationPath,
                                   depth: Int = 0) throws(ConfigurationNode.SyntaxError) {
        let start = cursor
        let keys = try cursor.key()
        guard cursor.peek() == UInt8(ascii: "=") else {
            throw cursor.error("expected = after the key \(keys.joined(separator: ".")), found \(TOMLCursor.shown(cursor.peek()))")
        }
        cursor.advance()
        cursor.skipWhitespace()
        var target = table
        var keyPath = path
        do {
            for key in keys.dropLast() {
                target = try target.dotted(key)
                keyPath = keyPath.appending(key)
                note(keyPath, at: start)
            }
            keyPath = keyPath.appending(keys[keys.count - 1])
            note(keyPath, at: start)
            try target.set(keys[keys.count - 1], try value(at: keyPath, depth: depth))
        } catch let error as TOMLTableError {
            throw start.error("\(keyPath): \(error.message)")
        } catch let error as ConfigurationNode.SyntaxError {
            throw error
        } catch {
            throw start.error("\(error)")
        }
    }

    /// The value starting here.
    private mutating func value(at path: ConfigurationPath, depth: Int) throws(ConfigurationNode.SyntaxError) -> ConfigurationNode {
        switch cursor.peek() {
        case UInt8(ascii: "\""), UInt8(ascii: "'"): return .string(try cursor.string())
        case UInt8(ascii: "["): return try array(at: path, depth: depth + 1)
        case UInt8(ascii: "{"): return try inlineTable(at: path, depth: depth + 1)
        default: return try cursor.scalar()
        }
    }

    /// `[1, 2, 3]`, over several lines if need be, with comments and a trailing comma.
    private mutating func array(at path: ConfigurationPath, depth: Int) throws(ConfigurationNode.SyntaxError) -> ConfigurationNode {
        guard depth <= Self.maximumDepth else { throw cursor.error("arrays and inline tables nested too deep") }
        cursor.advance()
        var elements: [ConfigurationNode] = []
        while true {
            try cursor.skipBlankLines()
            if cursor.peek() == UInt8(ascii: "]") { break }
            let elementPath = path.appending(index: elements.count)
            note(elementPath, at: cursor)
            elements.append(try value(at: elementPath, depth: depth))
            try cursor.skipBlankLines()
            if cursor.peek() == UInt8(ascii: ",") {
                cursor.advance()
                continue
            }
            guard cursor.peek() == UInt8(ascii: "]") else {
                throw cursor.error("expected , or ] in an array, found \(TOMLCursor.shown(cursor.peek()))")
            }
            break
        }
        cursor.advance()
        return .array(elements)
    }

    /// `{ key = value, ... }` on one line (its values may span lines); nothing adds to it afterwards.
    private mutating func inlineTable(at path: ConfigurationPath, depth: Int) throws(ConfigurationNode.SyntaxError) -> ConfigurationNode {
        guard depth <= Self.maximumDepth else { throw cursor.error("arrays and inline tables nested too deep") }
        cursor.advance()
        let table = TOMLTable(origin: .dotted)
        cursor.skipWhitespace()
        if cursor.peek() == UInt8(ascii: "}") {
            cursor.advance()
            return table.node
        }
        while true {
            try keyValue(into: table, at: path, depth: depth)
            cursor.skipWhitespace()
            if cursor.peek() == UInt8(ascii: "}") {
                cursor.advance()
                return table.node
            }
            guard cursor.peek() == UInt8(ascii: ",") else {
                throw cursor.error("expected , or } in an inline table (which ends on its line), found "
                                   + TOMLCursor.shown(cursor.peek()))
            }
            cursor.advance()
            cursor.skipWhitespace()
            if cursor.peek() == UInt8(ascii: "}") { throw cursor.error("an inline table takes no comma after its last value") }
        }
    }

    /// Remembers the line of `path`, the first time it is written.
    private mutating func note(_ path: ConfigurationPath, at place: TOMLCursor) {
        if lines[path] == nil { lines[path] = place.line }
    }
}
