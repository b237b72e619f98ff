/// How a message's payload becomes readings: its format, where the sensor
/// id, value and timestamp come from, and how large it may be. Read from
/// the keys of a source's table (an MQTT subscription, a serial port), so
/// every source that receives messages maps them the same way.
///
/// - `json`: a scalar is one reading; an object is one reading when
///   `value_field` names its value, otherwise one per scalar field
///   (`{field}` in the sensor id); an array is a list of such payloads. The
///   sensor id may come from `sensor_field`, the timestamp from
///   `timestamp_field`, both paths like `meta.ts`.
/// - `text`: a plain number, `true`/`false`, or a string.
/// - `line-protocol`: InfluxDB line protocol, one reading per field.
/// - `raw`: the bytes as they are.
///
/// A message is all or nothing: if any part of it cannot be read, none of
/// it becomes readings and the whole of it is malformed.
public struct PayloadMapping: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case json, text
        case lineProtocol = "line-protocol"
        case raw
    }

    /// What values become. `auto`: numbers are int when whole and double
    /// otherwise, booleans bool, strings string.
    public enum ValueType: String, Sendable, CaseIterable {
        case auto, double, int, bool, string
    }

    /// The unit of a timestamp in the payload.
    public enum TimeUnit: String, Sendable, CaseIterable {
        case s, ms, us, ns
        /// A string like `2026-01-01T00:00:00.5Z`.
        case iso8601
    }

    public var format = Format.json
    /// `sensor`; nil: `{topic}`, `{id}` with `sensor_field`, `/{field}`
    /// added when an object gives several readings, and
    /// `{measurement}/{field}` for line protocol.
    public var sensor: SensorTemplate?
    public var sensorField: [String]?
    public var valueField: [String]?
    public var valueType = ValueType.auto
    public var timestampField: [String]?
    /// nil: milliseconds, nanoseconds for line protocol.
    public var timestampUnit: TimeUnit?
    /// Payloads longer than this are malformed (`oversize`).
    public var maxPayload = 256 * 1024

    public init(format: Format = .json) { self.format = format }

    /// Reads `format`, `sensor`, `sensor_field`, `value_field`, `value_type`,
    /// `timestamp_field`, `timestamp_unit` and `max_payload` from `table`,
    /// each falling back to `defaults`.
    public static func read(_ table: TableReader, defaults: PayloadMapping = PayloadMapping()) -> PayloadMapping {
        var mapping = defaults
        mapping.format = table.choice("format", among: Format.allCases) ?? mapping.format
        if let text = table.string("sensor", expected: "a sensor id template like \"{1}.temperature\"") {
            do {
                mapping.sensor = try SensorTemplate(text)
            } catch {
                table.report("sensor", "cannot use \"\(text)\" as a sensor id: \(error)")
            }
        }
        let pathExpectation = "a JSON field or path like \"value\" or \"meta.ts\""
        mapping.sensorField = readPath("sensor_field", table, pathExpectation) ?? mapping.sensorField
        mapping.valueField = readPath("value_field", table, pathExpectation) ?? mapping.valueField
        mapping.timestampField = readPath("timestamp_field", table, pathExpectation) ?? mapping.timestampField
        mapping.valueType = table.choice("value_type", among: ValueType.allCases) ?? mapping.valueType
        mapping.timestampUnit = table.choice("timestamp_unit", among: TimeUnit.allCases) ?? mapping.timestampUnit
        if let bytes = table.bytes("max_payload", atLeast: 1) {
            if bytes > 256 * 1024 * 1024 {
                table.report("max_payload", "expected at most 256MiB, found \(bytes) bytes")
            } else {
                mapping.maxPayload = Int(bytes)
            }
        }
        let jsonOnly = ["sensor_field", "value_field", "timestamp_field"].filter { table.contains($0) }
        if mapping.format != .json, let key = jsonOnly.first {
            table.report(key, "applies to format = \"json\" only, but the format is \"\(mapping.format.rawValue)\"")
        }
        return mapping
    }

    private static func readPath(_ key: String, _ table: TableReader, _ expected: String) -> [String]? {
        guard let text = table.string(key, expected: expected) else { return nil }
        let path = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.contains(where: \.isEmpty) else {
            table.report(key, "expected \(expected), found \"\(text)\"")
            return nil
        }
        return path
    }

    /// A few words for `check-config`.
    public var summary: String {
        var words = format.rawValue
        if let sensor { words += ", sensor \(sensor)" }
        return words
    }

    /// The readings in `payload`, received on `topic` at `receivedAt` (ms
    /// since the epoch), appended to `readings`; nothing is appended when it throws.
    public func decode(_ payload: [UInt8], topic: String, receivedAt: Int64,
                       into readings: inout [Reading]) throws(MalformedPayload) {
        guard payload.count <= maxPayload else {
            throw MalformedPayload(.oversize, "\(payload.count) bytes, more than max_payload (\(maxPayload))")
        }
        if format == .raw {
            let sensor = try (sensor ?? Self.topicSensor).expand(.init(topic: topic))
            readings.append(Reading(sensor: sensor, timestamp: receivedAt, value: .bytes(payload)))
            return
        }
        guard !payload.isEmpty else { throw MalformedPayload(.empty, "an empty payload") }
        guard let text = String(validating: payload, as: UTF8.self) else {
            throw MalformedPayload(.invalidUTF8, "the payload is not valid UTF-8")
        }
        var decoded: [Reading] = []
        switch format {
        case .json:
            let json: JSONValue
            do {
                json = try JSONParser.parse(payload)
            } catch {
                throw MalformedPayload(.invalidJSON, error.description)
            }
            try decodeJSON(json, topic: topic, receivedAt: receivedAt, arrayAllowed: true, into: &decoded)
        case .text:
            // Serial lines and shell publishers end in newlines; the value is what is between.
            let trimmed = text.trimmed(\.isWhitespace)
            let sensor = try (sensor ?? Self.topicSensor).expand(.init(topic: topic))
            decoded.append(Reading(sensor: sensor, timestamp: receivedAt, value: try value(text: trimmed)))
        case .lineProtocol:
            for point in try LineProtocol.parse(payload) {
                let timestamp = try point.timestamp.map { raw throws(MalformedPayload) in
                    try Self.milliseconds(raw, unit: timestampUnit ?? .ns)
                } ?? receivedAt
                for field in point.fields {
                    let fill = SensorTemplate.Fill(topic: topic, field: field.key, measurement: point.measurement,
                                                   tags: point.tags)
                    decoded.append(Reading(sensor: try (sensor ?? Self.lineProtocolSensor).expand(fill),
                                           timestamp: timestamp, value: field.value))
                }
            }
            guard !decoded.isEmpty else { throw MalformedPayload(.empty, "no points, only comments or blank lines") }
        case .raw:
            preconditionFailure("handled above")
        }
        readings += decoded
    }

    // swiftlint:disable force_try
    private static let topicSensor = try! SensorTemplate("{topic}")
    private static let idSensor = try! SensorTemplate("{id}")
    private static let topicFieldSensor = try! SensorTemplate("{topic}/{field}")
    private static let idFieldSensor = try! SensorTemplate("{id}/{field}")
    private static let lineProtocolSensor = try! SensorTemplate("{measurement}/{field}")
    // swiftlint:enable force_try

    private func decodeJSON(_ json: JSONValue, topic: String, receivedAt: Int64, arrayAllowed: Bool,
                            into readings: inout [Reading]) throws(MalformedPayload) {
        switch json {
        case let .array(elements) where arrayAllowed:
            for element in elements {
                try decodeJSON(element, topic: topic, receivedAt: receivedAt, arrayAllowed: false, into: &readings)
            }
            guard !elements.isEmpty else { throw MalformedPayload(.empty, "an empty array") }
        case let .object(fields):
            try decodeObject(fields, json: json, topic: topic, receivedAt: receivedAt, into: &readings)
        case .array, .null:
            throw MalformedPayload(.wrongType, "expected a value, an object or an array of them, found \(json.kind)")
        default:
            if sensorField != nil || valueField != nil || timestampField != nil {
                throw MalformedPayload(.wrongType, "expected an object with the configured fields, found \(json.kind)")
            }
            let sensor = try (sensor ?? Self.topicSensor).expand(.init(topic: topic))
            readings.append(Reading(sensor: sensor, timestamp: receivedAt, value: try value(json, field: "the payload")))
        }
    }

    private func decodeObject(_ fields: [(key: String, value: JSONValue)], json: JSONValue, topic: String,
                              receivedAt: Int64, into readings: inout [Reading]) throws(MalformedPayload) {
        var id: String?
        if let sensorField {
            switch try Self.lookup(sensorField, in: json) {
            case let .string(text) where !text.isEmpty: id = text
            case let .number(text): id = text
            case let other: throw MalformedPayload(.wrongType, "sensor field \(Self.shown(sensorField)) must be "
                + "a non-empty string or a number, found \(other.kind)")
            }
        }
        var timestamp = receivedAt
        if let timestampField {
            timestamp = try self.timestamp(try Self.lookup(timestampField, in: json), field: timestampField)
        }
        if let valueField {
            let template = sensor ?? (id == nil ? Self.topicSensor : Self.idSensor)
            let sensor = try template.expand(.init(topic: topic, id: id))
            readings.append(Reading(sensor: sensor, timestamp: timestamp,
                                    value: try value(try Self.lookup(valueField, in: json),
                                                     field: Self.shown(valueField))))
            return
        }
        let template = sensor ?? (id == nil ? Self.topicFieldSensor : Self.idFieldSensor)
        var found = false
        for (key, field) in fields where key != sensorField?.first && key != timestampField?.first {
            switch field {
            case .null, .object, .array: continue
            default: break
            }
            found = true
            let sensor = try template.expand(.init(topic: topic, id: id, field: key))
            readings.append(Reading(sensor: sensor, timestamp: timestamp, value: try value(field, field: "\"\(key)\"")))
        }
        guard found else { throw MalformedPayload(.wrongType, "an object without a number, string or boolean field") }
    }

    private static func shown(_ path: [String]) -> String { "\"" + path.joined(separator: ".") + "\"" }

    private static func lookup(_ path: [String], in json: JSONValue) throws(MalformedPayload) -> JSONValue {
        var node = json
        for key in path {
            guard case let .object(fields) = node, let next = fields.first(where: { $0.key == key }) else {
                throw MalformedPayload(.missingField, "no field \(shown(path))")
            }
            node = next.value
        }
        return node
    }

    /// A JSON value as a reading's value, per `valueType`.
    private func value(_ json: JSONValue, field: String) throws(MalformedPayload) -> Value {
        switch json {
        case let .number(text):
            return try value(text: text)
        case let .string(text):
            return valueType == .auto ? .string(text) : try value(text: text)
        case let .bool(flag):
            switch valueType {
            case .auto, .bool: return .bool(flag)
            case .string: return .string(flag ? "true" : "false")
            case .double, .int: throw MalformedPayload(.wrongType, "\(field): expected a number, found a boolean")
            }
        default:
            throw MalformedPayload(.wrongType, "\(field): expected a number, string or boolean, found \(json.kind)")
        }
    }

    /// Text (a JSON number, a typed JSON string, a `text` payload) as a value, per `valueType`.
    private func value(text: String) throws(MalformedPayload) -> Value {
        switch valueType {
        case .string:
            return .string(text)
        case .bool:
            switch text {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: throw MalformedPayload(.wrongType, "expected true or false, found \"\(text.prefix(40))\"")
            }
        case .int:
            if let value = Int64(text) { return .int(value) }
            if let number = Double(text), number.isFinite {
                throw MalformedPayload(number.rounded() == number ? .outOfRange : .wrongType,
                                       "expected a 64-bit whole number, found \(text.prefix(40))")
            }
            throw MalformedPayload(.wrongType, "expected a whole number, found \"\(text.prefix(40))\"")
        case .double:
            guard let number = try Self.finite(text) else {
                throw MalformedPayload(.wrongType, "expected a number, found \"\(text.prefix(40))\"")
            }
            return .double(number)
        case .auto:
            if let value = Int64(text) { return .int(value) }
            if let number = try Self.finite(text) { return .double(number) }
            switch text {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: return .string(text)
            }
        }
    }

    /// `text` as a finite double; nil when it is not a number at all.
    private static func finite(_ text: String) throws(MalformedPayload) -> Double? {
        guard let number = Double(text) else { return nil }
        guard number.isFinite else {
            let reason: MalformedPayload.Reason = number.isNaN || text.lowercased().contains("inf")
                ? .notANumber : .outOfRange
            throw MalformedPayload(reason, "\(text.prefix(40)) is not a finite number")
        }
        return number
    }

    private func timestamp(_ json: JSONValue, field: [String]) throws(MalformedPayload) -> Int64 {
        let unit = timestampUnit ?? .ms
        switch (json, unit) {
        case let (.string(text), .iso8601):
            guard let milliseconds = Timestamps.parse(text) else {
                throw MalformedPayload(.wrongType, "timestamp \(Self.shown(field)): \"\(text.prefix(40))\" "
                    + "is not an ISO 8601 time such as 2026-01-01T00:00:00Z")
            }
            return milliseconds
        case let (.number(text), _) where unit != .iso8601:
            if let whole = Int64(text) { return try Self.milliseconds(whole, unit: unit) }
            guard let number = Double(text), number.isFinite else {
                throw MalformedPayload(.outOfRange, "timestamp \(Self.shown(field)): \(text.prefix(40))")
            }
            let scaled = (number * Self.millisecondsPer(unit)).rounded(.down)
            guard let milliseconds = Int64(exactly: scaled) else {
                throw MalformedPayload(.outOfRange, "timestamp \(Self.shown(field)): \(text.prefix(40))")
            }
            return milliseconds
        default:
            let expected = unit == .iso8601 ? "an ISO 8601 string" : "a number of \(unit.rawValue)"
            throw MalformedPayload(.wrongType, "timestamp \(Self.shown(field)): expected \(expected), found \(json.kind)")
        }
    }

    private static func millisecondsPer(_ unit: TimeUnit) -> Double {
        switch unit {
        case .s: return 1000
        case .ms, .iso8601: return 1
        case .us: return 1e-3
        case .ns: return 1e-6
        }
    }

    /// A whole-number timestamp in `unit` as milliseconds (rounded down).
    static func milliseconds(_ value: Int64, unit: TimeUnit) throws(MalformedPayload) -> Int64 {
        switch unit {
        case .s:
            let (product, overflow) = value.multipliedReportingOverflow(by: 1000)
            guard !overflow else { throw MalformedPayload(.outOfRange, "timestamp \(value) s is out of range") }
            return product
        case .ms, .iso8601: return value
        case .us: return value.floorDivided(by: 1000)
        case .ns: return value.floorDivided(by: 1_000_000)
        }
    }
}

extension Int64 {
    /// Division rounding towards minus infinity, so times before 1970 round down too.
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }
}
