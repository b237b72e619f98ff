import FoundationEssentials
import TributaryLog

/// The JSON-lines form of readings that `log dump` and `log tail` print and
/// `log append` reads: one object per line, fields in this order:
///
///     {"offset":7,"partition":0,"timestamp":1767225600000,"time":"2026-01-01T00:00:00.000Z",
///      "sensor":"boiler/temp","type":"double","value":21.5}
///
/// `type` is double, int, bool, string or bytes. Doubles are numbers in the
/// shortest form that reads back to the same bits; the values JSON has no
/// number for are strings: "NaN", "Infinity", "-Infinity", and "NaN(0x...)"
/// with the 64-bit pattern for any NaN other than the standard one. Bytes
/// are base64. `time` is for people; `timestamp` (ms) is what counts.
public enum ReadingJSON {
    /// The standard quiet NaN, which prints as plain "NaN".
    private static let standardNaN = Double.nan.bitPattern

    /// Appends `reading` as one JSON line, newline included. With `origin`,
    /// the line starts with `"device"` and `"topic"` fields (what a sink
    /// sends, so the lines identify themselves).
    public static func writeLine(_ stored: StoredReading, partition: Int, to output: inout [UInt8],
                                 origin: (device: String, topic: String)? = nil) {
        // Written byte by byte rather than through a JSONValue tree: sinks
        // print millions of these, and the tree's allocations dominated.
        let reading = stored.reading
        output.append(UInt8(ascii: "{"))
        if let origin {
            key("device", first: true, &output)
            JSONValue.writeString(origin.device, to: &output)
            key("topic", &output)
            JSONValue.writeString(origin.topic, to: &output)
        }
        key("offset", first: origin == nil, &output)
        JSONValue.writeDecimal(stored.offset, to: &output)
        key("partition", &output)
        JSONValue.writeDecimal(Int64(partition), to: &output)
        key("timestamp", &output)
        JSONValue.writeDecimal(reading.timestamp, to: &output)
        key("time", &output)
        output.append(UInt8(ascii: "\""))
        Timestamps.writeISO8601(milliseconds: reading.timestamp, to: &output)
        output.append(UInt8(ascii: "\""))
        key("sensor", &output)
        JSONValue.writeString(reading.sensor, to: &output)
        key("type", &output)
        switch reading.value {
        case let .double(value):
            output.append(contentsOf: #""double","value":"#.utf8)
            json(value).write(to: &output)
        case let .int(value):
            output.append(contentsOf: #""int","value":"#.utf8)
            JSONValue.writeDecimal(value, to: &output)
        case let .bool(value):
            output.append(contentsOf: (value ? #""bool","value":true"# : #""bool","value":false"#).utf8)
        case let .string(value):
            output.append(contentsOf: #""string","value":"#.utf8)
            JSONValue.writeString(value, to: &output)
        case let .bytes(value):
            output.append(contentsOf: #""bytes","value":""#.utf8)
            output.append(contentsOf: Data(value).base64EncodedString().utf8)
            output.append(UInt8(ascii: "\""))
        }
        output.append(contentsOf: "}\n".utf8)
    }

    /// `"name":`, after a comma unless it is the object's first field.
    private static func key(_ name: StaticString, first: Bool = false, _ output: inout [UInt8]) {
        if !first { output.append(UInt8(ascii: ",")) }
        output.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { output.append(contentsOf: $0) }
        output.append(contentsOf: "\":".utf8)
    }

    static func typeAndValue(_ value: Value) -> (String, JSONValue) {
        switch value {
        case let .double(v): return ("double", json(v))
        case let .int(v): return ("int", .int(v))
        case let .bool(v): return ("bool", .bool(v))
        case let .string(v): return ("string", .string(v))
        case let .bytes(v): return ("bytes", .string(Data(v).base64EncodedString()))
        }
    }

    private static func json(_ value: Double) -> JSONValue {
        if value.isFinite { return .number(value.description) }
        if value.isInfinite { return .string(value < 0 ? "-Infinity" : "Infinity") }
        if value.bitPattern == standardNaN { return .string("NaN") }
        let hex = String(value.bitPattern, radix: 16)
        return .string("NaN(0x" + String(repeating: "0", count: 16 - hex.count) + hex + ")")
    }

    /// What is wrong with an input line, in words a user can act on.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Reads one line. `offset`, `partition` and `time` are ignored (the log
    /// assigns offsets; `time` is used only when `timestamp` is absent), as
    /// are fields this format does not know. Without `type`, the type
    /// follows the JSON value: true/false is bool, a string is string, a
    /// whole number that fits in 64 bits is int, any other number is double.
    public static func reading(fromLine line: [UInt8]) throws(Problem) -> Reading {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(line)
        } catch {
            throw Problem(error.description)
        }
        guard case let .object(fields) = parsed else {
            throw Problem("expected a JSON object ({...}), found \(parsed.kind)")
        }
        var byName: [String: JSONValue] = [:]
        for (key, value) in fields {
            guard byName.updateValue(value, forKey: key) == nil else { throw Problem("field \"\(key)\" appears twice") }
        }
        guard let sensorField = byName["sensor"] else { throw Problem("missing field \"sensor\"") }
        guard case let .string(sensor) = sensorField else {
            throw Problem("field \"sensor\" must be a string, found \(sensorField.kind)")
        }
        let timestamp = try timestamp(in: byName)
        guard let valueField = byName["value"] else { throw Problem("missing field \"value\"") }
        let value: Value
        switch byName["type"] {
        case nil: value = try inferred(valueField)
        case let .string(type)?: value = try typed(valueField, as: type)
        case let other?: throw Problem("field \"type\" must be a string, found \(other.kind)")
        }
        return Reading(sensor: sensor, timestamp: timestamp, value: value)
    }

    private static func timestamp(in fields: [String: JSONValue]) throws(Problem) -> Int64 {
        switch (fields["timestamp"], fields["time"]) {
        case let (.number(text)?, _):
            guard let timestamp = Int64(text) else {
                throw Problem("field \"timestamp\" must be whole milliseconds that fit in 64 bits, found \(text)")
            }
            return timestamp
        case let (other?, _):
            throw Problem("field \"timestamp\" must be a number (ms since the epoch), found \(other.kind)")
        case let (nil, .string(text)?):
            guard let timestamp = Timestamps.parse(text) else {
                throw Problem("field \"time\" is not an ISO 8601 time such as 2026-01-01T00:00:00Z: \"\(text)\"")
            }
            return timestamp
        case (nil, _):
            throw Problem("missing field \"timestamp\" (ms since the epoch)")
        }
    }

    private static func typed(_ json: JSONValue, as type: String) throws(Problem) -> Value {
        switch (type, json) {
        case let ("double", .number(text)):
            guard let value = Double(text), value.isFinite else {
                throw Problem("value \(text) is out of range for a double")
            }
            return .double(value)
        case let ("double", .string(text)):
            guard let value = specialDouble(text) else {
                throw Problem("value \"\(text)\" is not a double: use a number, \"NaN\", \"Infinity\", "
                    + "\"-Infinity\" or \"NaN(0x<16 hex digits>)\"")
            }
            return .double(value)
        case let ("int", .number(text)):
            guard let value = Int64(text) else {
                let whole = !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
                throw Problem(whole ? "value \(text) does not fit in a 64-bit integer"
                                    : "value \(text) is not a whole number, as type int needs")
            }
            return .int(value)
        case let ("bool", .bool(value)):
            return .bool(value)
        case let ("string", .string(value)):
            return .string(value)
        case let ("bytes", .string(text)):
            guard let data = Data(base64Encoded: text) else { throw Problem("value for type bytes is not valid base64") }
            return .bytes(Array(data))
        case ("double", _), ("int", _):
            throw Problem("value for type \(type) must be a number, found \(json.kind)")
        case ("bool", _):
            throw Problem("value for type bool must be true or false, found \(json.kind)")
        case ("string", _), ("bytes", _):
            throw Problem("value for type \(type) must be a string, found \(json.kind)")
        default:
            throw Problem("unknown type \"\(type)\": use double, int, bool, string or bytes")
        }
    }

    private static func inferred(_ json: JSONValue) throws(Problem) -> Value {
        switch json {
        case let .bool(value): return .bool(value)
        case let .string(value): return .string(value)
        case let .number(text):
            if let value = Int64(text) { return .int(value) }
            return try typed(json, as: "double")
        default: throw Problem("field \"value\" must be a number, string or boolean, found \(json.kind)")
        }
    }

    private static func specialDouble(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard text.hasPrefix("NaN(0x"), text.hasSuffix(")"), text.count == 23,
                  let bits = UInt64(text.dropFirst(6).dropLast(), radix: 16) else { return nil }
            let value = Double(bitPattern: bits)
            return value.isNaN ? value : nil
        }
    }
}
