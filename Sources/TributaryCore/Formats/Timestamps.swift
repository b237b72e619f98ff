import FoundationEssentials

/// Milliseconds since the Unix epoch, as the log stores them, to and from text.
public enum Timestamps {
    private static let millisecondsPerDay: Int64 = 86_400_000

    /// ISO 8601 in UTC with milliseconds, for any Int64: years outside
    /// 0000...9999 use the expanded form with a sign (`+292278994-08-17T...`).
    /// Computed here rather than with `Date` so that every timestamp the log
    /// can hold prints, exactly, without going through a Double.
    public static func iso8601(milliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        writeISO8601(milliseconds: milliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `iso8601(milliseconds:)`'s text as UTF-8, without allocating.
    static func writeISO8601(milliseconds: Int64, to output: inout [UInt8]) {
        var days = milliseconds / millisecondsPerDay
        var rest = milliseconds % millisecondsPerDay
        if rest < 0 {
            rest += millisecondsPerDay
            days -= 1
        }
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        if (0...9999).contains(year) {
            padded(year, 4, &output)
        } else {
            output.append(UInt8(ascii: year < 0 ? "-" : "+"))
            output.append(contentsOf: String(year.magnitude).utf8)
        }
        let hour = rest / 3_600_000, minute = rest / 60_000 % 60, second = rest / 1000 % 60, milli = rest % 1000
        output.append(UInt8(ascii: "-"))
        padded(month, 2, &output)
        output.append(UInt8(ascii: "-"))
        padded(day, 2, &output)
        output.append(UInt8(ascii: "T"))
        padded(hour, 2, &output)
        output.append(UInt8(ascii: ":"))
        padded(minute, 2, &output)
        output.append(UInt8(ascii: ":"))
        padded(second, 2, &output)
        output.append(UInt8(ascii: "."))
        padded(milli, 3, &output)
        output.append(UInt8(ascii: "Z"))
    }

    /// Parses a time given on the command line or in an input line:
    /// milliseconds since the epoch (`1767225600000`, may be negative), an
    /// ISO 8601 date-time with `Z` or an offset and optional fraction
    /// (`2026-01-01T00:00:00Z`, `2026-01-01T01:00:00.5+01:00`), or a date
    /// alone (`2026-01-01`, midnight UTC).
    public static func parse(_ text: String) -> Int64? {
        if let milliseconds = Int64(text) { return milliseconds }
        let candidates = [text, text + "T00:00:00Z"]
        for candidate in candidates {
            for style in [Date.ISO8601FormatStyle(includingFractionalSeconds: true), Date.ISO8601FormatStyle()] {
                if let date = try? style.parse(candidate) {
                    let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
                    guard let exact = Int64(exactly: milliseconds) else { return nil }
                    return exact
                }
            }
        }
        return nil
    }

    /// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a
    /// day count, exact over the whole Int64 millisecond range.
    private static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// Appends a small non-negative `value` (a date or time field) in
    /// decimal, zero-padded to `width` digits.
    private static func padded(_ value: Int64, _ width: Int, _ output: inout [UInt8]) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor * 10 <= value { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            output.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
