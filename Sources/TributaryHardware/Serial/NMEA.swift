import TributaryLog

/// NMEA 0183 sentences from a GPS or other instrument: `$GPGGA,...*47`.
///
/// The checksum (the XOR of every character between `$` and `*`, as two hex
/// digits) is verified; a sentence without one or with a wrong one is
/// malformed, never a reading. GGA, RMC and VTG (from any talker: GP, GN,
/// GL, GA, BD, ...) become named readings; with `generic`, any other
/// sentence's fields are kept by index (`GSV.3`), else it is ignored. A
/// field left empty (no fix yet) is no reading.
enum NMEA {
    /// Knots to metres a second.
    private static let knot = 1852.0 / 3600

    static func decode(_ text: String, generic: Bool) -> LineDecoder.Outcome {
        guard text.first == "$" || text.first == "!" else {
            return .malformed(reason: "invalid-nmea", detail: "a sentence starts with $ or !")
        }
        guard let star = text.lastIndex(of: "*") else {
            return .malformed(reason: "missing-checksum", detail: "no *hh checksum at the end")
        }
        let body = text[text.index(after: text.startIndex)..<star]
        let given = text[text.index(after: star)...]
        let computed = body.utf8.reduce(UInt8(0), ^)
        guard given.count == 2, let expected = UInt8(given, radix: 16) else {
            return .malformed(reason: "missing-checksum", detail: "\"\(given)\" is not a two-digit hex checksum")
        }
        guard expected == computed else {
            return .malformed(reason: "checksum",
                              detail: "checksum \(given) where the sentence sums to \(String(computed, radix: 16, uppercase: true))")
        }
        let fields = body.split(separator: ",", omittingEmptySubsequences: false)
        guard let address = fields.first, address.count >= 3 else {
            return .malformed(reason: "invalid-nmea", detail: "no sentence type")
        }
        // A talker's two letters, then the type (a proprietary $P... sentence has no talker).
        let type = address.hasPrefix("P") ? address : address.dropFirst(2)
        var values: [(field: String, value: Value)] = []
        func number(_ index: Int) -> Double? { index < fields.count ? Double(fields[index]) : nil }
        func integer(_ index: Int) -> Int64? { index < fields.count ? Int64(fields[index]) : nil }
        func add(_ name: String, _ value: Double?) { if let value { values.append((name, .double(value))) } }
        func position(latitude: Int) {
            add("latitude", angle(fields, latitude, degreeDigits: 2, negative: "S"))
            add("longitude", angle(fields, latitude + 2, degreeDigits: 3, negative: "W"))
        }
        switch type {
        case "GGA":
            position(latitude: 2)
            // Counts, read as integers: through a Double, "1e30" would not fit an Int64.
            if let quality = integer(6) { values.append(("fix_quality", .int(quality))) }
            if let satellites = integer(7) { values.append(("satellites", .int(satellites))) }
            add("hdop", number(8))
            add("altitude", number(9))
        case "RMC":
            guard fields.count > 8 else { return .malformed(reason: "invalid-nmea", detail: "RMC has \(fields.count) fields") }
            values.append(("valid", .bool(fields[2] == "A")))
            if fields[2] == "A" {
                position(latitude: 3)
                add("speed", number(7).map { $0 * knot })
                add("course", number(8))
            }
        case "VTG":
            add("course", number(1))
            add("speed", number(7).map { $0 / 3.6 })
        default:
            guard generic else { return .values([]) }
            for (index, field) in fields.enumerated().dropFirst() where !field.isEmpty {
                values.append(("\(type).\(index)", LineDecoder.value(String(field))))
            }
        }
        return .values(values)
    }

    /// `ddmm.mmmm` (or `dddmm.mmmm`) and a hemisphere letter at `index + 1`, in decimal degrees.
    private static func angle(_ fields: [Substring], _ index: Int, degreeDigits: Int, negative: String) -> Double? {
        guard index + 1 < fields.count, fields[index].count > degreeDigits,
              let degrees = Double(fields[index].prefix(degreeDigits)),
              let minutes = Double(fields[index].dropFirst(degreeDigits)) else { return nil }
        let value = degrees + minutes / 60
        return fields[index + 1] == negative ? -value : value
    }
}
