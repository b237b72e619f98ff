import TributaryCore

/// Settings of a `type = "serial"` source: a sensor on a serial port that
/// writes a line per measurement.
public struct SerialSourceSettings: SourceSettings {
    public static let type = "serial"

    /// `device`: the port, best at a stable path like `/dev/serial/by-id/...`.
    public var device: String
    public var port = Port()
    /// `format`: what a line holds.
    public var format: Format
    /// `columns` (CSV): the columns' names; nil: the first line is a header naming them.
    public var columns: [String]?
    /// `separator` (CSV): one ASCII character.
    public var separator = UInt8(ascii: ",")
    /// `max_line`: longer lines are counted as malformed (`oversize`) and skipped.
    public var maxLine = 4096
    /// `[sources.fields]`: a field's sensor id instead of `SOURCE.FIELD`.
    public var fields: [String: String] = [:]
    /// `nmea_generic` (NMEA): keep other sentences' fields by index (`GSV.3`) instead of ignoring them.
    public var nmeaGeneric = false

    /// How the port is set up.
    public struct Port: Sendable, Equatable {
        /// `baud`: any rate the adapter can make, standard or not (250000).
        public var baud = 9600
        /// `data_bits`: 5 to 8.
        public var dataBits = 8
        /// `parity`.
        public var parity = Parity.none
        /// `stop_bits`: 1 or 2.
        public var stopBits = 1
        /// `flow_control`.
        public var flowControl = FlowControl.none

        public init() {}

        /// `baud`, `data_bits`, `parity` and `stop_bits` over the defaults:
        /// the keys a serial source and a Modbus bus share, each within its own ranges.
        static func read(_ table: TableReader, bauds: ClosedRange<Int>, baudExpected: String,
                         dataBits: ClosedRange<Int>, dataBitsExpected: String) -> Port {
            var port = Port()
            port.baud = table.integer("baud", in: bauds, expected: baudExpected) ?? port.baud
            port.dataBits = table.integer("data_bits", in: dataBits, expected: dataBitsExpected) ?? port.dataBits
            port.parity = table.choice("parity", among: Parity.allCases) ?? port.parity
            port.stopBits = table.integer("stop_bits", in: 1...2, expected: "1 or 2") ?? port.stopBits
            return port
        }
    }

    public enum Parity: String, Sendable, CaseIterable {
        case none, even, odd
        var letter: CChar { CChar(UInt8(ascii: self == .none ? "N" : self == .even ? "E" : "O")) }
    }

    public enum FlowControl: String, Sendable, CaseIterable {
        case none
        case rtsCts = "rts-cts"
        case xonXoff = "xon-xoff"
    }

    public enum Format: String, Sendable, CaseIterable {
        /// Comma-separated values: `21.5,40.2`.
        case csv
        /// `temp=21.5 hum=40.2` (spaces, commas or semicolons between; `:` also separates a key).
        case keyValue = "key-value"
        /// A JSON object a line: `{"temp":21.5,"hum":40.2}`; nested objects' fields are `outer.inner`.
        case json
        /// NMEA 0183 sentences, checksums verified: GGA, RMC and VTG as named readings.
        case nmea
    }

    public init(device: String, format: Format) {
        self.device = device
        self.format = format
    }

    public var summary: String {
        "\(format.rawValue) lines from \(device) at \(port.baud) baud \(port.dataBits)"
            + "\(port.parity.rawValue.prefix(1).uppercased())\(port.stopBits)"
    }

    public func makeSource(name: String, context: PluginContext) throws -> any Source {
        SerialSource(name: name, settings: self)
    }

    public static func read(_ table: TableReader) -> SerialSourceSettings? {
        let device = table.string("device", expected: "the serial port, like \"/dev/serial/by-id/usb-...\"")
        if !table.contains("device") { table.reportMissing("device", expected: "the serial port, like \"/dev/ttyUSB0\"") }
        let format = table.choice("format", among: Format.allCases)
        if !table.contains("format") {
            table.reportMissing("format", expected: Format.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
        }
        var port = Port.read(table, bauds: 50...16_000_000, baudExpected: "a baud rate like 9600 or 115200",
                             dataBits: 5...8, dataBitsExpected: "5, 6, 7 or 8")
        port.flowControl = table.choice("flow_control", among: FlowControl.allCases) ?? port.flowControl
        let columns = table.strings("columns", expected: "the CSV columns' names, like [\"temperature\", \"humidity\"]")
        let separator = table.string("separator", expected: "one character, like \",\" or \";\"")
        if let separator, separator.utf8.count != 1 || separator == "\n" {
            table.report("separator", "expected one ASCII character, found \"\(separator)\"")
        }
        if format != .csv, format != nil, let key = ["columns", "separator"].first(where: { table.contains($0) }) {
            table.report(key, "only format = \"csv\" has \(key)")
        }
        let nmeaGeneric = table.boolean("nmea_generic")
        if nmeaGeneric != nil, format != .nmea, format != nil {
            table.report("nmea_generic", "only format = \"nmea\" has nmea_generic")
        }
        let maxLine = table.bytes("max_line", atLeast: 16)
        if let maxLine, maxLine > 1 << 20 { table.report("max_line", "expected at most 1MiB, found \(maxLine) bytes") }
        var fields: [String: String] = [:]
        if let mapping = table.table("fields") {
            for field in mapping.keys {
                if let sensor = mapping.string(field, expected: "the sensor id for field \"\(field)\"") {
                    fields[field] = sensor
                }
            }
        }
        guard let device, let format else { return nil }
        var settings = SerialSourceSettings(device: device, format: format)
        settings.port = port
        settings.columns = columns
        if let separator, separator.utf8.count == 1 { settings.separator = separator.utf8.first! }
        settings.maxLine = maxLine.map { Int(min($0, 1 << 20)) } ?? settings.maxLine
        settings.fields = fields
        settings.nmeaGeneric = nmeaGeneric ?? false
        return settings
    }
}
