/// Sizes and durations as people write them: `"16MiB"`, `"512KiB"`, `"1GB"`,
/// `"100ms"`, `"30s"`, `"5m"`, `"24h"`, `"30d"`.
public enum HumanUnits {
    /// What a size may look like, for error messages.
    public static let sizeExpectation =
        "a size like \"16MiB\", \"512KiB\" or \"1GB\" (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB) or a whole number of bytes"
    /// What a duration may look like, for error messages.
    public static let durationExpectation =
        "a duration like \"100ms\", \"30s\", \"5m\", \"24h\" or \"30d\" (units ms, s, m, h, d)"

    private static let sizeUnits: [String: Double] = [
        "b": 1,
        "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
        "kib": 1024, "mib": 1_048_576, "gib": 1_073_741_824, "tib": 1_099_511_627_776,
    ]
    private static let durationUnits: [String: Double] = [
        "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
    ]

    /// Bytes in `text`: a number (decimals allowed) followed by a unit, case
    /// insensitive; a bare whole number means bytes. Fractions of a byte round
    /// down. Nil when the text is not a size or the result does not fit in Int64.
    public static func bytes(_ text: String) -> Int64? {
        if let plain = Int64(text.trimmingSpaces), plain >= 0 { return plain }
        return measure(text, units: sizeUnits)
    }

    /// Milliseconds in `text`, which must carry a unit (a bare number is
    /// ambiguous); decimals are allowed and fractions of a millisecond round down.
    public static func milliseconds(_ text: String) -> Int64? {
        measure(text, units: durationUnits)
    }

    private static func measure(_ text: String, units: [String: Double]) -> Int64? {
        let text = text.trimmingSpaces
        guard let unitStart = text.firstIndex(where: { $0.isLetter }) else { return nil }
        let number = String(text[..<unitStart]).trimmingSpaces
        let unit = text[unitStart...].lowercased()
        // Double("inf"), "nan", "0x10" and "1e3" are not how anyone writes a size.
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(number), let scale = units[unit] else { return nil }
        let result = (value * scale).rounded(.down)
        guard result.isFinite, result >= 0, result < 9.2e18 else { return nil }
        return Int64(result)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
