/// The line of every key, table and array-of-tables entry in a TOML text.
///
/// TOMLKit reports positions for syntax errors only, so the lines for
/// validation errors come from reading the text a second time: table headers
/// (`[log]`, `[topics.readings]`), array-of-tables headers (`[[sources]]`,
/// counted so the second one is `sources[1]`) and `key = value` lines, with
/// multi-line strings and arrays skipped. Keys inside inline tables and
/// multi-line arrays are not recorded; `line(for:)` then answers with the
/// line of the nearest enclosing key, which is where the value starts.
public struct ConfigurationSourceMap: Sendable {
    private var lines: [ConfigurationPath: Int] = [:]

    /// Maps the keys of `text`, which should be TOML that parses.
    public init(text: String) {
        var scanner = Scanner()
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            scanner.scan(Array(line.utf8), lineNumber: offset + 1, into: &lines)
        }
    }

    /// The 1-based line where `path` is defined or, if it is not in the text
    /// (a missing key, a key inside an inline table), the line of its nearest
    /// ancestor that is; nil when not even the top-level key is there.
    public func line(for path: ConfigurationPath) -> Int? {
        var path = path
        while !path.components.isEmpty {
            if let line = lines[path] { return line }
            path = path.parent
        }
        return nil
    }

    /// The line where exactly `path` is defined, without looking at ancestors.
    public func exactLine(for path: ConfigurationPath) -> Int? { lines[path] }
}

private struct Scanner {
    /// The table that `key = value` lines currently belong to.
    var table = ConfigurationPath()
    /// Entries seen so far of each array of tables, by the array's path.
    var arrayCounts: [ConfigurationPath: Int] = [:]
    /// Inside a value that spans lines: open brackets and braces, or a multi-line string.
    var depth = 0
    var multiLineQuote: UInt8?

    mutating func scan(_ line: [UInt8], lineNumber: Int, into lines: inout [ConfigurationPath: Int]) {
        if depth > 0 || multiLineQuote != nil {
            skipValue(line, from: 0)
            return
        }
        var index = skipSpace(line, 0)
        guard index < line.count, line[index] != UInt8(ascii: "#"), line[index] != UInt8(ascii: "\r") else { return }
        if line[index] == UInt8(ascii: "[") {
            let isArray = index + 1 < line.count && line[index + 1] == UInt8(ascii: "[")
            index += isArray ? 2 : 1
            guard let (keys, _) = parseKey(line, index) else { return }
            var path = resolve(keys)
            if isArray {
                let count = arrayCounts[path, default: 0]
                arrayCounts[path] = count + 1
                if lines[path] == nil { lines[path] = lineNumber }
                path = path.appending(index: count)
            }
            table = path
            if lines[path] == nil { lines[path] = lineNumber }
            return
        }
        guard let (keys, end) = parseKey(line, index) else { return }
        let afterKey = skipSpace(line, end)
        guard afterKey < line.count, line[afterKey] == UInt8(ascii: "=") else { return }
        var path = table
        for key in keys {
            path = path.appending(key)
            if lines[path] == nil { lines[path] = lineNumber }
        }
        skipValue(line, from: afterKey + 1)
    }

    /// The path of a header's dotted key; a prefix naming an array of tables
    /// means its latest entry, as TOML defines.
    func resolve(_ keys: [String]) -> ConfigurationPath {
        var path = ConfigurationPath()
        for (position, key) in keys.enumerated() {
            path = path.appending(key)
            if position < keys.count - 1, let count = arrayCounts[path], count > 0 {
                path = path.appending(index: count - 1)
            }
        }
        return path
    }

    /// Follows strings, brackets and comments to know whether the value goes on.
    mutating func skipValue(_ line: [UInt8], from start: Int) {
        var index = start
        while index < line.count {
            let byte = line[index]
            if let quote = multiLineQuote {
                if byte == UInt8(ascii: "\\"), quote == UInt8(ascii: "\"") { index += 2; continue }
                if isTripleQuote(line, index, quote) { multiLineQuote = nil; index += 3; continue }
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "#"):
                return
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                if isTripleQuote(line, index, byte) {
                    multiLineQuote = byte
                    index += 3
                } else {
                    index = skipString(line, index)
                }
                continue
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
            default:
                break
            }
            index += 1
        }
    }

    func isTripleQuote(_ line: [UInt8], _ index: Int, _ quote: UInt8) -> Bool {
        index + 2 < line.count && line[index] == quote && line[index + 1] == quote && line[index + 2] == quote
    }
}

/// Parses `a.b."c d"` starting at `start`; returns the keys and the index after them.
private func parseKey(_ line: [UInt8], _ start: Int) -> ([String], Int)? {
    var keys: [String] = []
    var index = skipSpace(line, start)
    while index < line.count {
        let byte = line[index]
        if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
            let end = skipString(line, index)
            guard end - 1 > index else { return nil }
            keys.append(String(decoding: line[(index + 1)..<(end - 1)], as: UTF8.self))
            index = end
        } else {
            let begin = index
            while index < line.count, isBareKeyByte(line[index]) { index += 1 }
            guard index > begin else { return nil }
            keys.append(String(decoding: line[begin..<index], as: UTF8.self))
        }
        index = skipSpace(line, index)
        guard index < line.count, line[index] == UInt8(ascii: ".") else { break }
        index = skipSpace(line, index + 1)
    }
    return keys.isEmpty ? nil : (keys, index)
}

/// The index after the single-line string that opens at `start`.
private func skipString(_ line: [UInt8], _ start: Int) -> Int {
    let quote = line[start]
    var index = start + 1
    while index < line.count {
        if line[index] == UInt8(ascii: "\\"), quote == UInt8(ascii: "\"") { index += 2; continue }
        if line[index] == quote { return index + 1 }
        index += 1
    }
    return line.count
}

private func skipSpace(_ line: [UInt8], _ start: Int) -> Int {
    var index = start
    while index < line.count, line[index] == UInt8(ascii: " ") || line[index] == UInt8(ascii: "\t") { index += 1 }
    return index
}

private func isBareKeyByte(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
}
