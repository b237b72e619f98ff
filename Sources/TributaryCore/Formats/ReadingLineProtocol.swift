import FoundationEssentials
import TributaryLog

/// Readings as InfluxDB line protocol, what a sink sends with
/// `payload = "line-protocol"`: the topic is the measurement, the device,
/// partition and sensor are tags, the value and the offset are fields, and
/// the timestamp is in nanoseconds:
///
///     readings,device=box-1,partition=0,sensor=boiler/temp value=21.5,offset=7i 1767225600000000000
///
/// Doubles are floats (NaN and the infinities, which line protocol has no
/// float for, are the strings "NaN", "Infinity", "-Infinity"), ints `7i`,
/// booleans `true`/`false`, strings quoted, bytes base64 strings. A
/// timestamp beyond what nanoseconds hold in 64 bits (before 1677 or after
/// 2262) is left out, with the milliseconds kept in a `timestamp_ms` field.
public enum ReadingLineProtocol {
    /// Appends `stored` as one line, newline included.
    public static func writeLine(_ stored: StoredReading, device: String, topic: String, partition: Int,
                                 to output: inout [UInt8]) {
        escaped(topic, escaping: measurementSpecials, to: &output)
        output.append(contentsOf: ",device=".utf8)
        escaped(device, escaping: tagSpecials, to: &output)
        output.append(contentsOf: ",partition=".utf8)
        JSONValue.writeDecimal(Int64(partition), to: &output)
        output.append(contentsOf: ",sensor=".utf8)
        escaped(stored.reading.sensor, escaping: tagSpecials, to: &output)
        output.append(contentsOf: " value=".utf8)
        switch stored.reading.value {
        case let .double(value) where value.isFinite: output.append(contentsOf: value.description.utf8)
        case let .double(value): quoted(value.isNaN ? "NaN" : value < 0 ? "-Infinity" : "Infinity", to: &output)
        case let .int(value):
            JSONValue.writeDecimal(value, to: &output)
            output.append(UInt8(ascii: "i"))
        case let .bool(value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case let .string(value): quoted(value, to: &output)
        case let .bytes(value): quoted(Data(value).base64EncodedString(), to: &output)
        }
        output.append(contentsOf: ",offset=".utf8)
        JSONValue.writeDecimal(stored.offset, to: &output)
        output.append(UInt8(ascii: "i"))
        let (nanoseconds, overflow) = stored.reading.timestamp.multipliedReportingOverflow(by: 1_000_000)
        if overflow {
            output.append(contentsOf: ",timestamp_ms=".utf8)
            JSONValue.writeDecimal(stored.reading.timestamp, to: &output)
            output.append(UInt8(ascii: "i"))
        } else {
            output.append(UInt8(ascii: " "))
            JSONValue.writeDecimal(nanoseconds, to: &output)
        }
        output.append(UInt8(ascii: "\n"))
    }

    private static let measurementSpecials: [UInt8] = [UInt8(ascii: ","), UInt8(ascii: " ")]
    private static let tagSpecials: [UInt8] = [UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: " ")]

    /// A name or tag value with `escaping` characters (and backslashes) escaped;
    /// a newline, which nothing can escape, becomes a space.
    private static func escaped(_ text: String, escaping: [UInt8], to output: inout [UInt8]) {
        for byte in text.utf8 {
            if byte == UInt8(ascii: "\n") {
                output.append(contentsOf: "\\ ".utf8)
                continue
            }
            if escaping.contains(byte) || byte == UInt8(ascii: "\\") { output.append(UInt8(ascii: "\\")) }
            output.append(byte)
        }
    }

    private static func quoted(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { output.append(UInt8(ascii: "\\")) }
            output.append(byte)
        }
        output.append(UInt8(ascii: "\""))
    }
}
