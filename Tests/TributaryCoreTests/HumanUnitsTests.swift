import Testing
@testable import TributaryCore

@Suite("Human units")
struct HumanUnitsTests {
    @Test("sizes are read in binary and decimal units, and plain numbers are bytes", arguments: [
        ("16MiB", Int64(16 << 20)), ("512KiB", 512 << 10), ("1GB", 1_000_000_000), ("1GiB", 1 << 30),
        ("100", 100), ("0", 0), ("100B", 100), ("64 KiB", 64 << 10), ("1.5MiB", 1_572_864), ("2kb", 2000),
        ("1TiB", 1 << 40),
    ])
    func sizes(text: String, bytes: Int64) {
        #expect(HumanUnits.bytes(text) == bytes)
    }

    @Test("text that is not a size is refused", arguments: ["", "MiB", "16 MiBs", "-1", "16XB", "fast", "1e3KB",
                                                             "inf", "0x10", "99999999999TiB"])
    func badSizes(text: String) {
        #expect(HumanUnits.bytes(text) == nil)
    }

    @Test("durations are read in ms, s, m, h and d", arguments: [
        ("100ms", Int64(100)), ("30s", 30_000), ("5m", 300_000), ("24h", 86_400_000), ("30d", 2_592_000_000),
        ("0.5s", 500), ("1 h", 3_600_000),
    ])
    func durations(text: String, milliseconds: Int64) {
        #expect(HumanUnits.milliseconds(text) == milliseconds)
    }

    @Test("a duration without a known unit is refused", arguments: ["30", "", "s", "5min", "1w", "-5s", "soon"])
    func badDurations(text: String) {
        #expect(HumanUnits.milliseconds(text) == nil)
    }
}
