import TributaryCore

/// Settings of a `type = "gpio"` source: lines of a GPIO chip read through
/// the Linux GPIO character device (v2 uAPI).
public struct GPIOSourceSettings: SourceSettings {
    public static let type = "gpio"

    /// `chip`: a label (`pinctrl-bcm2711`), a name (`gpiochip0`) or a path (`/dev/gpiochip0`).
    public var chip: String
    /// `[[sources.lines]]`.
    public var lines: [Line]

    public struct Line: Sendable, Equatable {
        /// `line`: an offset on the chip, or a line's name (`GPIO17`).
        public var line: LineID
        /// `name`: names its readings, `SOURCE.NAME` (counters: `.count` and `.rate`).
        public var name: String
        public var mode: Mode
        /// `edge`: which edges a counter counts (a state line watches both).
        public var edge = Edge.rising
        /// `bias`: the line's pull resistor; nil leaves it as it is.
        public var bias: Bias?
        /// `debounce`: the kernel's debounce period, 0 for none.
        public var debounceMicroseconds: UInt32 = 0
        /// `interval`: how often a counter reports its pulses, or a level line is sampled.
        public var intervalMilliseconds: Int64 = 60_000
        /// `active_low`: the line is active (true, counted) when low.
        public var activeLow = false

        public init(line: LineID, name: String, mode: Mode) {
            self.line = line
            self.name = name
            self.mode = mode
        }
    }

    public enum LineID: Sendable, Equatable, CustomStringConvertible {
        case offset(Int)
        case name(String)
        public var description: String {
            switch self {
            case let .offset(offset): "line \(offset)"
            case let .name(name): "line \"\(name)\""
            }
        }
    }

    public enum Mode: String, Sendable, CaseIterable {
        /// Pulses per interval and their rate (a rain gauge, an anemometer, a flow meter).
        case counter
        /// Every change, at the kernel's time of the edge (a door contact).
        case state
        /// The value, sampled every interval.
        case level
    }

    public enum Edge: String, Sendable, CaseIterable { case rising, falling, both }
    public enum Bias: String, Sendable, CaseIterable {
        case pullUp = "pull-up"
        case pullDown = "pull-down"
        case disabled
    }

    public init(chip: String, lines: [Line]) {
        self.chip = chip
        self.lines = lines
    }

    public var summary: String { "\(lines.count) line\(lines.count == 1 ? "" : "s") of GPIO chip \(chip)" }

    public func makeSource(name: String, context: PluginContext) throws -> any Source {
        GPIOSource(name: name, settings: self)
    }

    public static func read(_ table: TableReader) -> GPIOSourceSettings? {
        let chip = table.string("chip", expected: "a GPIO chip's label, name or path, like \"gpiochip0\"")
        if !table.contains("chip") { table.reportMissing("chip", expected: "a GPIO chip's label, name or path") }
        if !table.contains("lines") { table.reportMissing("lines", expected: "[[sources.lines]] tables") }
        var lines: [Line] = []
        for line in table.tables("lines") ?? [] {
            if let read = readLine(line) { lines.append(read) }
            line.finish()
        }
        guard let chip, !lines.isEmpty else { return nil }
        return GPIOSourceSettings(chip: chip, lines: lines)
    }

    private static func readLine(_ table: TableReader) -> Line? {
        var id: LineID?
        if !table.contains("line") {
            table.reportMissing("line", expected: "an offset like 17 or a line name like \"GPIO17\"")
        } else if let text = table.text("line") {
            // An integer is an offset; a string (that is not a number) a line's name.
            if let offset = Int(text) {
                if (0...511).contains(offset) { id = .offset(offset) } else {
                    table.report("line", "expected an offset from 0 to 511 or a line name, found \(offset)")
                }
            } else {
                id = .name(text)
            }
        }
        let name = table.string("name", expected: "a name for the line's readings, like \"rain\"")
        if !table.contains("name") { table.reportMissing("name", expected: "a name for the line's readings") }
        let mode = table.choice("mode", among: Mode.allCases)
        if !table.contains("mode") { table.reportMissing("mode", expected: "\"counter\", \"state\" or \"level\"") }
        let edge = table.choice("edge", among: Edge.allCases)
        if edge != nil, mode != nil, mode != .counter { table.report("edge", "only a counter counts edges: a state line watches both") }
        let bias = table.choice("bias", among: Bias.allCases)
        let debounce = table.milliseconds("debounce", atLeast: 0)
        let interval = table.milliseconds("interval", atLeast: 100)
        if interval != nil, mode == .state { table.report("interval", "a state line reports every change: no interval") }
        let activeLow = table.boolean("active_low")
        guard let id, let name, let mode else { return nil }
        var line = Line(line: id, name: name, mode: mode)
        line.edge = edge ?? line.edge
        line.bias = bias
        line.debounceMicroseconds = UInt32(min(debounce ?? 0, 4_000_000) * 1000)
        line.intervalMilliseconds = interval ?? (mode == .level ? 10_000 : 60_000)
        line.activeLow = activeLow ?? false
        return line
    }
}
