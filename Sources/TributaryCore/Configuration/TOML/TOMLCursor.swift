/// A place in a TOML text, read a byte at a time, that knows its line and
/// column for error messages and reads the small things every part of the
/// grammar shares: white space, comments and ends of lines.
struct TOMLCursor {
    private let bytes: [UInt8]
    private(set) var index = 0
    /// 1-based.
    private(set) var line = 1
    private var lineStart = 0

    init(_ text: String) {
        var bytes = Array(text.utf8)
        // A byte order mark is not content.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        self.bytes = bytes
    }

    var isAtEnd: Bool { index >= bytes.count }

    /// The byte `offset` places ahead, nil past the end.
    func peek(_ offset: Int = 0) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    /// Whether the text goes on with `prefix`.
    func next(is prefix: String) -> Bool {
        var offset = 0
        for byte in prefix.utf8 {
            guard peek(offset) == byte else { return false }
            offset += 1
        }
        return true
    }

    mutating func advance(_ count: Int = 1) {
        for _ in 0..<count where index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                line += 1
                lineStart = index + 1
            }
            index += 1
        }
    }

    /// The bytes from `start` to here.
    func bytes(from start: Int) -> ArraySlice<UInt8> { bytes[start..<index] }

    /// A syntax error here.
    func error(_ message: String) -> ConfigurationNode.SyntaxError {
        // Columns count characters: UTF-8 continuation bytes do not start one.
        let column = bytes[lineStart..<min(index, bytes.count)].reduce(1) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        return ConfigurationNode.SyntaxError(line: line, column: column, message: message)
    }

    mutating func skipWhitespace() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
    }

    /// A comment, if one starts here, up to (not including) the end of its line.
    mutating func skipComment() throws(ConfigurationNode.SyntaxError) {
        guard peek() == UInt8(ascii: "#") else { return }
        advance()
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            if byte == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { return }
            if Self.isControl(byte) { throw error("a control character (\(Self.shown(byte))) in a comment") }
            advance()
        }
    }

    /// Takes an end of line (LF or CR LF) if one is here.
    mutating func takeNewline() throws(ConfigurationNode.SyntaxError) -> Bool {
        if peek() == UInt8(ascii: "\n") {
            advance()
            return true
        }
        if peek() == UInt8(ascii: "\r") {
            guard peek(1) == UInt8(ascii: "\n") else { throw error("a carriage return not followed by a line feed") }
            advance(2)
            return true
        }
        return false
    }

    /// White space, comments and ends of lines, as arrays allow between their values.
    mutating func skipBlankLines() throws(ConfigurationNode.SyntaxError) {
        while true {
            skipWhitespace()
            try skipComment()
            guard try takeNewline() else { return }
        }
    }

    /// The rest of a line after a key/value pair or a table header: white space, a comment, its end.
    mutating func finishLine(after what: String) throws(ConfigurationNode.SyntaxError) {
        skipWhitespace()
        try skipComment()
        if isAtEnd { return }
        guard try takeNewline() else { throw error("expected the end of the line after \(what), found \(Self.shown(peek()))") }
    }

    /// Control characters TOML allows in no string or comment: all but tab.
    static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F
    }

    /// A byte as an error message shows it: `'x'`, or `U+000B` when it is not printable.
    static func shown(_ byte: UInt8?) -> String {
        guard let byte else { return "the end of the text" }
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        if byte == UInt8(ascii: "\n") { return "the end of the line" }
        let hex = String(byte, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
