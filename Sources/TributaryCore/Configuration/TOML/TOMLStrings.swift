/// TOML's four kinds of strings, and keys (bare, quoted, dotted).
extension TOMLCursor {
    private static let quote = UInt8(ascii: "\"")
    private static let apostrophe = UInt8(ascii: "'")

    /// A string value starting here (at its opening quote).
    mutating func string() throws(ConfigurationNode.SyntaxError) -> String {
        if next(is: "\"\"\"") { return try multiLineString(delimiter: Self.quote, escapes: true) }
        if next(is: "'''") { return try multiLineString(delimiter: Self.apostrophe, escapes: false) }
        return try singleLineString()
    }

    /// A dotted key (`a."b.c".d`): its parts.
    mutating func key() throws(ConfigurationNode.SyntaxError) -> [String] {
        var parts: [String] = []
        while true {
            skipWhitespace()
            parts.append(try keyPart())
            skipWhitespace()
            guard peek() == UInt8(ascii: ".") else { return parts }
            advance()
        }
    }

    private mutating func keyPart() throws(ConfigurationNode.SyntaxError) -> String {
        if peek() == Self.quote || peek() == Self.apostrophe {
            if next(is: "\"\"\"") || next(is: "'''") { throw error("a key cannot be a multi-line string") }
            return try singleLineString()
        }
        let start = index
        while let byte = peek(), Self.isBareKey(byte) { advance() }
        guard index > start else {
            throw error("expected a key (letters, digits, _ and -, or a quoted string), found \(Self.shown(peek()))")
        }
        return String(decoding: bytes(from: start), as: UTF8.self)
    }

    private static func isBareKey(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }

    /// `"basic"` or `'literal'`, on one line.
    private mutating func singleLineString() throws(ConfigurationNode.SyntaxError) -> String {
        let delimiter = peek()!
        advance()
        var text: [UInt8] = []
        while true {
            guard let byte = peek(), byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "\r") else {
                throw error("a string not closed on its line (use \"\"\" or ''' for text on several lines)")
            }
            if byte == delimiter {
                advance()
                return String(decoding: text, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") && delimiter == Self.quote {
                try escape(into: &text)
                continue
            }
            if Self.isControl(byte) { throw error("a control character (\(Self.shown(byte))) in a string") }
            text.append(byte)
            advance()
        }
    }

    /// `"""basic"""` or `'''literal'''`: a newline right after the opening
    /// delimiter is dropped; up to two delimiters in a row are content, also
    /// just before the closing three.
    private mutating func multiLineString(delimiter: UInt8, escapes: Bool) throws(ConfigurationNode.SyntaxError) -> String {
        advance(3)
        _ = try takeNewline()
        var text: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("a multi-line string not closed") }
            if byte == delimiter {
                var run = 0
                while peek(run) == delimiter { run += 1 }
                if run >= 3 {
                    guard run <= 5 else { throw error("too many quotes at the end of a multi-line string") }
                    text += Array(repeating: delimiter, count: run - 3)
                    advance(run)
                    return String(decoding: text, as: UTF8.self)
                }
                text += Array(repeating: delimiter, count: run)
                advance(run)
                continue
            }
            if byte == UInt8(ascii: "\\") && escapes {
                if try skipLineEndingBackslash() { continue }
                try escape(into: &text)
                continue
            }
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                let start = index
                _ = try takeNewline()
                text += bytes(from: start)
                continue
            }
            if Self.isControl(byte) { throw error("a control character (\(Self.shown(byte))) in a string") }
            text.append(byte)
            advance()
        }
    }

    /// A backslash ending a line in a multi-line basic string joins it to the
    /// next non-blank text: it and all white space and newlines after it go.
    private mutating func skipLineEndingBackslash() throws(ConfigurationNode.SyntaxError) -> Bool {
        var offset = 1
        while peek(offset) == UInt8(ascii: " ") || peek(offset) == UInt8(ascii: "\t") { offset += 1 }
        guard peek(offset) == UInt8(ascii: "\n") || (peek(offset) == UInt8(ascii: "\r") && peek(offset + 1) == UInt8(ascii: "\n"))
        else { return false }
        advance(offset)
        while true {
            skipWhitespace()
            guard try takeNewline() else { return true }
        }
    }

    /// An escape sequence (at its backslash), appended as UTF-8.
    private mutating func escape(into text: inout [UInt8]) throws(ConfigurationNode.SyntaxError) {
        advance()
        let letter = peek()
        advance()
        switch letter {
        case UInt8(ascii: "b"): text.append(0x08)
        case UInt8(ascii: "t"): text.append(0x09)
        case UInt8(ascii: "n"): text.append(0x0A)
        case UInt8(ascii: "f"): text.append(0x0C)
        case UInt8(ascii: "r"): text.append(0x0D)
        case UInt8(ascii: "\""): text.append(Self.quote)
        case UInt8(ascii: "\\"): text.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let digits = letter == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<digits {
                guard let byte = peek(), let digit = Self.hexValue(byte) else {
                    throw error("\\\(letter == UInt8(ascii: "u") ? "u" : "U") takes \(digits) hex digits")
                }
                value = value << 4 | UInt32(digit)
                advance()
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw error("\\u\(String(value, radix: 16, uppercase: true)) is not a Unicode scalar value")
            }
            text += Array(String(Character(scalar)).utf8)
        default:
            throw error("an unknown escape \\\(letter.map { String(Character(Unicode.Scalar($0))) } ?? "") in a string")
        }
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
