#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The benchmark's figures as one flat JSON object, the last line of
/// `tributary-bench log --json`. Keys keep their order; values are numbers,
/// booleans or null (a figure that could not be measured).
struct BenchReport {
    enum Field {
        case number(Double, digits: Int)
        case bool(Bool)
        case missing
    }

    private(set) var fields: [(key: String, value: Field)] = []

    mutating func add(_ key: String, _ value: Double?, digits: Int = 3) {
        guard let value, value.isFinite else { fields.append((key, .missing)); return }
        fields.append((key, .number(value, digits: digits)))
    }

    mutating func add(_ key: String, _ value: Bool) { fields.append((key, .bool(value))) }

    var json: String {
        let members = fields.map { key, value -> String in
            let text: String
            switch value {
            case let .number(number, digits): text = Format.fixed(number, digits)
            case let .bool(flag): text = flag ? "true" : "false"
            case .missing: text = "null"
            }
            return "\"\(key)\":\(text)"
        }
        return "{" + members.joined(separator: ",") + "}"
    }
}

/// Number formatting without Foundation.
enum Format {
    /// `value` with exactly `digits` decimals ("12.30"; "12" for 0 digits).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "nan" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return String(value) }
        let whole = UInt64(scaled)
        let sign = value < 0 && whole != 0 ? "-" : ""
        guard digits > 0 else { return sign + String(whole) }
        let divisor = UInt64(scale)
        let fraction = String(whole % divisor)
        return sign + String(whole / divisor) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// "12.3 M" for 12,345,678.
    static func millions(_ value: Double) -> String { fixed(value / 1e6, value >= 1e8 ? 0 : 2) + " M" }

    /// "3,600,000".
    static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (i, digit) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return (value < 0 ? "-" : "") + result
    }

    static func mebibytes(_ bytes: Int64) -> String { fixed(Double(bytes) / 1_048_576, 1) + " MiB" }

    /// "met" or "MISSED", for a figure against its target.
    static func verdict(_ met: Bool) -> String { met ? "met" : "MISSED" }
}

/// Prints a line at once, so a long run shows its progress even through a pipe.
func say(_ line: String) {
    print(line)
    // fflush(nil) flushes stdout without touching the C global, which Swift 6 rejects.
    fflush(nil)
}
