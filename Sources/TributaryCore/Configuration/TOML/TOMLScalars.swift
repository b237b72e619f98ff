/// TOML's booleans, integers, floats and dates and times.
extension TOMLCursor {
    /// The value starting here that is neither a string, an array nor an inline table.
    mutating func scalar() throws(ConfigurationNode.SyntaxError) -> ConfigurationNode {
        let start = index
        let at = self
        while let byte = peek(), Self.isScalarByte(byte) { advance() }
        // A date and a time may be separated by a space: `1979-05-27 07:32:00`.
        if index - start == 10, peek() == UInt8(ascii: " "), let hour = peek(1), Self.isDigit(hour),
           peek(3) == UInt8(ascii: ":") {
            advance()
            while let byte = peek(), Self.isScalarByte(byte) { advance() }
        }
        let token = Array(bytes(from: start))
        guard !token.isEmpty else { throw error("expected a value, found \(Self.shown(peek()))") }
        let text = String(decoding: token, as: UTF8.self)
        switch text {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if token.contains(UInt8(ascii: ":")) || (token.count >= 10 && token[4] == UInt8(ascii: "-")) {
            guard let kind = TOMLDateTime.kind(of: token) else { throw at.error("not a valid date or time: \(text)") }
            return .other(typeName: kind, text: text)
        }
        if let integer = Self.integer(token) { return .integer(integer) }
        if let float = Self.float(token) { return .float(float) }
        throw at.error("not a valid value: \(text) (strings are quoted; numbers like 42, 0x2A, 3.14, 1e6)")
    }

    private static func isScalarByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: ":")
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Digits where each `_` stands between two digits; the digits without them, nil if not so.
    private static func digits(_ token: ArraySlice<UInt8>, isDigit: (UInt8) -> Bool) -> [UInt8]? {
        guard let first = token.first, let last = token.last, isDigit(first), isDigit(last) else { return nil }
        var digits: [UInt8] = []
        var previous = first
        for byte in token {
            if byte == UInt8(ascii: "_") {
                guard previous != UInt8(ascii: "_") else { return nil }
            } else {
                guard isDigit(byte) else { return nil }
                digits.append(byte)
            }
            previous = byte
        }
        return digits
    }

    /// `42`, `+17`, `-0`, `1_000`, `0xDEAD_BEEF`, `0o755`, `0b1101`; nil if the token is none of these.
    static func integer(_ token: [UInt8]) -> Int? {
        if token.count > 2, token[0] == UInt8(ascii: "0") {
            let radix: Int
            let isDigit: (UInt8) -> Bool
            switch token[1] {
            case UInt8(ascii: "x"): (radix, isDigit) = (16, { hexValue($0) != nil })
            case UInt8(ascii: "o"): (radix, isDigit) = (8, { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") })
            case UInt8(ascii: "b"): (radix, isDigit) = (2, { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "1") })
            default: return decimal(token)
            }
            guard let digits = digits(token[2...], isDigit: isDigit) else { return nil }
            return Int(String(decoding: digits, as: UTF8.self), radix: radix)
        }
        return decimal(token)
    }

    private static func decimal(_ token: [UInt8]) -> Int? {
        let signed = token.first == UInt8(ascii: "+") || token.first == UInt8(ascii: "-")
        let body = token[(signed ? 1 : 0)...]
        guard let digits = digits(body, isDigit: isDigit), digits.count == 1 || body.first != UInt8(ascii: "0") else {
            return nil
        }
        return Int(String(decoding: (signed ? [token[0]] : []) + digits, as: UTF8.self))
    }

    /// `3.14`, `-0.01`, `5e+22`, `6.626e-34`, `1_000.000_001`; nil if the token is none of these.
    static func float(_ token: [UInt8]) -> Double? {
        let signed = token.first == UInt8(ascii: "+") || token.first == UInt8(ascii: "-")
        var body = token[(signed ? 1 : 0)...]
        var text: [UInt8] = signed ? [token[0]] : []
        let exponentAt = body.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        let exponent = exponentAt.map { body[body.index(after: $0)...] }
        if let exponentAt { body = body[..<exponentAt] }
        let dot = body.firstIndex(of: UInt8(ascii: "."))
        let whole = dot.map { body[..<$0] } ?? body
        guard let wholeDigits = digits(whole, isDigit: isDigit),
              wholeDigits.count == 1 || whole.first != UInt8(ascii: "0") else { return nil }
        text += wholeDigits
        if let dot {
            guard let fraction = digits(body[body.index(after: dot)...], isDigit: isDigit) else { return nil }
            text += [UInt8(ascii: ".")] + fraction
        }
        if var exponent {
            text.append(UInt8(ascii: "e"))
            if exponent.first == UInt8(ascii: "+") || exponent.first == UInt8(ascii: "-") {
                text.append(exponent.first!)
                exponent = exponent.dropFirst()
            }
            guard let digits = digits(exponent, isDigit: isDigit) else { return nil }
            text += digits
        }
        guard dot != nil || exponent != nil else { return nil }
        return Double(String(decoding: text, as: UTF8.self))
    }
}

/// TOML's dates and times, checked (a real day of a real month, hours to 23,
/// seconds to 60 for a leap second) and kept as written: no tributary key takes one.
enum TOMLDateTime {
    /// The kind of date or time `token` is (`offset date-time`, `local date-time`, `local date`,
    /// `local time`), nil if it is not a valid one.
    static func kind(of token: [UInt8]) -> String? {
        if token.count == 10 { return date(token[...]) ? "local date" : nil }
        if token.count >= 8, token[2] == UInt8(ascii: ":") { return time(token[...]) ? "local time" : nil }
        guard token.count >= 19, date(token[..<10]),
              [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(token[10]) else { return nil }
        var rest = token[11...]
        var offset: ArraySlice<UInt8>?
        if let last = rest.last, last == UInt8(ascii: "Z") || last == UInt8(ascii: "z") {
            offset = rest.suffix(1)
            rest = rest.dropLast()
        } else if rest.count > 6, rest[rest.endIndex - 6] == UInt8(ascii: "+") || rest[rest.endIndex - 6] == UInt8(ascii: "-") {
            offset = rest.suffix(6)
            rest = rest.dropLast(6)
        }
        guard time(rest) else { return nil }
        guard let offset else { return "local date-time" }
        if offset.count == 1 { return "offset date-time" }
        let zone = offset.dropFirst()
        guard zone.count == 5, zone[zone.startIndex + 2] == UInt8(ascii: ":"),
              let hours = number(zone.prefix(2)), let minutes = number(zone.suffix(2)), hours < 24, minutes < 60
        else { return nil }
        return "offset date-time"
    }

    /// `YYYY-MM-DD`, a day that exists.
    private static func date(_ text: ArraySlice<UInt8>) -> Bool {
        let start = text.startIndex
        guard text.count == 10, text[start + 4] == UInt8(ascii: "-"), text[start + 7] == UInt8(ascii: "-"),
              let year = number(text[start..<start + 4]), let month = number(text[start + 5..<start + 7]),
              let day = number(text[start + 8..<start + 10]), (1...12).contains(month), day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }

    /// `HH:MM:SS` with an optional fraction of a second.
    private static func time(_ text: ArraySlice<UInt8>) -> Bool {
        let start = text.startIndex
        guard text.count >= 8, text[start + 2] == UInt8(ascii: ":"), text[start + 5] == UInt8(ascii: ":"),
              let hour = number(text[start..<start + 2]), let minute = number(text[start + 3..<start + 5]),
              let second = number(text[start + 6..<start + 8]), hour < 24, minute < 60, second <= 60 else { return false }
        if text.count == 8 { return true }
        let fraction = text[(start + 8)...]
        return fraction.count >= 2 && fraction.first == UInt8(ascii: ".") && fraction.dropFirst().allSatisfy(TOMLCursor.isDigit)
    }

    /// Decimal digits only.
    private static func number(_ text: ArraySlice<UInt8>) -> Int? {
        guard !text.isEmpty, text.allSatisfy(TOMLCursor.isDigit) else { return nil }
        return text.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }
}
