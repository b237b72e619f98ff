/// One line of InfluxDB line protocol:
/// `measurement[,tag=value...] field=value[,field=value...] [timestamp]`.
struct LineProtocolPoint: Equatable {
    var measurement: String
    var tags: [(key: String, value: String)]
    var fields: [(key: String, value: Value)]
    /// As written (nanoseconds unless the source says otherwise); nil when absent.
    var timestamp: Int64?

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.measurement == rhs.measurement && lhs.timestamp == rhs.timestamp
            && lhs.tags.elementsEqual(rhs.tags, by: { $0 == $1 })
            && lhs.fields.elementsEqual(rhs.fields, by: { $0 == $1 })
    }
}

/// A parser for InfluxDB line protocol, one point per line; empty lines and
/// `#` comments are skipped. Field values: floats (`21.5`, `1e3`), integers
/// (`42i`), unsigned integers that fit in 64 signed bits (`42u`), strings
/// (`"text"`, with `\"` and `\\`), booleans (`t`, `true`, `F`, `FALSE`, ...).
/// Backslash escapes `,`, `=`, space and `"` in names.
struct LineProtocol {
    private let bytes: [UInt8]
    private var index = 0

    static func parse(_ bytes: [UInt8]) throws(MalformedPayload) -> [LineProtocolPoint] {
        var parser = LineProtocol(bytes: bytes)
        var points: [LineProtocolPoint] = []
        var line = 1
        while parser.index < bytes.count {
            if parser.current == Self.newline || parser.current == UInt8(ascii: "\r") {
                if parser.current == Self.newline { line += 1 }
                parser.index += 1
                continue
            }
            if parser.current == UInt8(ascii: "#") {
                parser.skipLine()
                continue
            }
            do {
                points.append(try parser.point())
            } catch {
                throw MalformedPayload(error.reason, "line \(line): \(error.detail)")
            }
        }
        return points
    }

    private static let space = UInt8(ascii: " ")
    private static let comma = UInt8(ascii: ",")
    private static let equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")
    private static let newline = UInt8(ascii: "\n")
    private var newline: UInt8 { Self.newline }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipLine() {
        while let byte = current, byte != newline { index += 1 }
    }

    private func invalid(_ detail: String) -> MalformedPayload { MalformedPayload(.invalidLineProtocol, detail) }

    private mutating func point() throws(MalformedPayload) -> LineProtocolPoint {
        let measurement = name(until: [Self.comma, Self.space])
        guard !measurement.isEmpty else { throw invalid("no measurement") }
        var tags: [(key: String, value: String)] = []
        while current == Self.comma {
            index += 1
            let key = name(until: [Self.equals, Self.comma, Self.space])
            guard current == Self.equals, !key.isEmpty else { throw invalid("a tag without \"key=value\"") }
            index += 1
            let value = name(until: [Self.comma, Self.space])
            guard !value.isEmpty else { throw invalid("tag \"\(key)\" has no value") }
            tags.append((key, value))
        }
        guard current == Self.space else { throw invalid("no fields after \"\(measurement)\"") }
        skipSpaces()
        var fields: [(key: String, value: Value)] = []
        repeat {
            if !fields.isEmpty { index += 1 }
            let key = name(until: [Self.equals, Self.comma, Self.space])
            guard current == Self.equals, !key.isEmpty else { throw invalid("a field without \"key=value\"") }
            index += 1
            fields.append((key, try fieldValue(key)))
        } while current == Self.comma
        var timestamp: Int64?
        if current == Self.space {
            skipSpaces()
            let start = index
            while let byte = current, byte != newline, byte != UInt8(ascii: "\r") { index += 1 }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if !text.isEmpty {
                guard let parsed = Int64(text) else { throw invalid("timestamp \"\(text)\" is not a whole number") }
                timestamp = parsed
            }
        }
        guard current == nil || current == newline || current == UInt8(ascii: "\r") else {
            throw invalid("unexpected text after the fields")
        }
        return LineProtocolPoint(measurement: measurement, tags: tags, fields: fields, timestamp: timestamp)
    }

    private mutating func skipSpaces() {
        while current == Self.space { index += 1 }
    }

    /// A measurement, tag or field name or a tag value, up to one of `stops` (unescaped) or the line's end.
    private mutating func name(until stops: [UInt8]) -> String {
        var name: [UInt8] = []
        while let byte = current, byte != newline, !stops.contains(byte) {
            if byte == Self.backslash, index + 1 < bytes.count,
               [Self.comma, Self.equals, Self.space, Self.quote, Self.backslash].contains(bytes[index + 1]) {
                index += 1
            }
            name.append(bytes[index])
            index += 1
        }
        return String(decoding: name, as: UTF8.self)
    }

    private mutating func fieldValue(_ key: String) throws(MalformedPayload) -> Value {
        if current == Self.quote {
            index += 1
            var text: [UInt8] = []
            while let byte = current, byte != Self.quote {
                if byte == Self.backslash, index + 1 < bytes.count,
                   bytes[index + 1] == Self.quote || bytes[index + 1] == Self.backslash {
                    index += 1
                }
                text.append(bytes[index])
                index += 1
            }
            guard current == Self.quote else { throw invalid("field \"\(key)\": string without a closing quote") }
            index += 1
            return .string(String(decoding: text, as: UTF8.self))
        }
        let start = index
        while let byte = current, byte != Self.comma, byte != Self.space, byte != newline, byte != UInt8(ascii: "\r") {
            index += 1
        }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        switch token {
        case "t", "T", "true", "True", "TRUE": return .bool(true)
        case "f", "F", "false", "False", "FALSE": return .bool(false)
        case "": throw invalid("field \"\(key)\" has no value")
        default: break
        }
        if token.hasSuffix("i") || token.hasSuffix("u") {
            let digits = token.dropLast()
            if let value = Int64(digits) { return .int(value) }
            guard digits.allSatisfy({ $0.isNumber || $0 == "-" }) else {
                throw invalid("field \"\(key)\": \"\(token)\" is not an integer")
            }
            throw MalformedPayload(.outOfRange, "field \"\(key)\": \(token) does not fit in a 64-bit integer")
        }
        guard let value = Double(token) else { throw invalid("field \"\(key)\": \"\(token)\" is not a value") }
        guard value.isFinite else {
            throw MalformedPayload(value.isNaN || token.lowercased().contains("inf") ? .notANumber : .outOfRange,
                                   "field \"\(key)\": \(token)")
        }
        return .double(value)
    }
}
