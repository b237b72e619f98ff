import TributaryCore
import TributaryLog

/// Turns one line from a serial sensor into named values, in the line's
/// format: CSV (columns configured or from a header line), `key=value`
/// pairs, a JSON object, or an NMEA 0183 sentence (`NMEA`). A field's text becomes an int, a double, a bool
/// (`true`/`false`) or else a string; an empty field is no value.
struct LineDecoder {
    let format: SerialSourceSettings.Format
    /// CSV: the names of the columns, in order; nil until a header line gave them.
    private(set) var columns: [String]?
    private let separator: UInt8
    /// NMEA: whether sentences other than GGA, RMC and VTG are kept, their fields by index.
    private let nmeaGeneric: Bool

    /// What a line was.
    enum Outcome: Equatable {
        case values([(field: String, value: Value)])
        /// A CSV header line: it named the columns.
        case header
        case malformed(reason: String, detail: String)

        static func == (lhs: Outcome, rhs: Outcome) -> Bool {
            switch (lhs, rhs) {
            case let (.values(a), .values(b)): a.count == b.count && zip(a, b).allSatisfy { $0 == $1 }
            case (.header, .header): true
            case let (.malformed(a, x), .malformed(b, y)): a == b && x == y
            default: false
            }
        }
    }

    init(format: SerialSourceSettings.Format, columns: [String]?, separator: UInt8, nmeaGeneric: Bool = false) {
        self.format = format
        self.columns = columns
        self.separator = separator
        self.nmeaGeneric = nmeaGeneric
    }

    mutating func decode(_ line: [UInt8]) -> Outcome {
        guard let text = String(validating: line, as: UTF8.self) else {
            return .malformed(reason: "invalid-utf8", detail: "the line is not UTF-8")
        }
        switch format {
        case .csv: return csv(text)
        case .keyValue: return keyValue(text)
        case .json: return json(line)
        case .nmea: return NMEA.decode(text, generic: nmeaGeneric)
        }
    }

    private mutating func csv(_ text: String) -> Outcome {
        let fields = text.split(separator: Character(UnicodeScalar(separator)), omittingEmptySubsequences: false)
            .map { field in field.trimmed { $0 == " " || $0 == "\t" } }
        guard let columns else {
            // The first line names the columns.
            guard !fields.contains(where: \.isEmpty) else {
                return .malformed(reason: "invalid-header", detail: "an empty column name in the header \"\(text)\"")
            }
            self.columns = fields
            return .header
        }
        if fields == columns { return .header }  // the device printed its header again (a restart)
        guard fields.count <= columns.count else {
            return .malformed(reason: "wrong-field-count",
                              detail: "\(fields.count) fields where \(columns.count) columns are named")
        }
        return .values(zip(columns, fields).compactMap { column, field in field.isEmpty ? nil : (column, Self.value(field)) })
    }

    private func keyValue(_ text: String) -> Outcome {
        var values: [(String, Value)] = []
        for token in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == ";" }) {
            guard let equals = token.firstIndex(where: { $0 == "=" || $0 == ":" }), equals != token.startIndex else {
                return .malformed(reason: "invalid-key-value", detail: "\"\(token)\" is not key=value")
            }
            let value = String(token[token.index(after: equals)...])
            if !value.isEmpty { values.append((String(token[..<equals]), Self.value(value))) }
        }
        return .values(values)
    }

    private func json(_ line: [UInt8]) -> Outcome {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(line)
        } catch {
            return .malformed(reason: "invalid-json", detail: "\(error)")
        }
        guard case let .object(fields) = parsed else {
            return .malformed(reason: "invalid-json", detail: "expected an object, found \(parsed.kind)")
        }
        var values: [(String, Value)] = []
        func flatten(_ fields: [(key: String, value: JSONValue)], prefix: String) {
            for (key, value) in fields {
                switch value {
                case let .object(inner): flatten(inner, prefix: prefix + key + ".")
                case let .number(text): values.append((prefix + key, Self.value(text)))
                case let .bool(flag): values.append((prefix + key, .bool(flag)))
                case let .string(text): values.append((prefix + key, .string(text)))
                case .null, .array: break
                }
            }
        }
        flatten(fields, prefix: "")
        return .values(values)
    }

    /// A field's text as the value it reads as.
    static func value(_ text: String) -> Value {
        if let integer = Int64(text) { return .int(integer) }
        if let double = Double(text), double.isFinite { return .double(double) }
        if text == "true" { return .bool(true) }
        if text == "false" { return .bool(false) }
        return .string(text)
    }
}
