import Testing
import TributaryLog
@testable import TributaryHardware

@Suite struct NMEATests {
    private static func decode(_ sentence: String, generic: Bool = false) -> LineDecoder.Outcome {
        var decoder = LineDecoder(format: .nmea, columns: nil, separator: 0, nmeaGeneric: generic)
        return decoder.decode(Array(sentence.utf8))
    }

    private static func values(_ outcome: LineDecoder.Outcome) -> [String: Value] {
        guard case let .values(values) = outcome else { return [:] }
        return Dictionary(values.map { ($0.field, $0.value) }) { $1 }
    }

    private static func close(_ value: Value?, _ expected: Double) -> Bool {
        guard case let .double(actual)? = value else { return false }
        return abs(actual - expected) < 1e-9
    }

    @Test("GGA: position, altitude, fix quality, satellites, HDOP")
    func gga() {
        let values = Self.values(Self.decode("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"))
        #expect(Self.close(values["latitude"], 48 + 7.038 / 60) && Self.close(values["longitude"], 11 + 31.0 / 60))
        #expect(values["fix_quality"] == .int(1) && values["satellites"] == .int(8))
        #expect(values["hdop"] == .double(0.9) && values["altitude"] == .double(545.4))
    }

    @Test("RMC: validity, position, speed in m/s, course; VTG: course and speed")
    func rmcAndVTG() {
        let rmc = Self.values(Self.decode("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"))
        #expect(rmc["valid"] == .bool(true) && Self.close(rmc["speed"], 22.4 * 1852 / 3600))
        #expect(rmc["course"] == .double(84.4) && Self.close(rmc["latitude"], 48 + 7.038 / 60))
        let vtg = Self.values(Self.decode("$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48"))
        #expect(vtg["course"] == .double(54.7) && Self.close(vtg["speed"], 10.2 / 3.6))
    }

    @Test("no fix: empty fields are no readings; south and west are negative")
    func emptyAndHemispheres() {
        #expect(Self.values(Self.decode("$GNGGA,,,,,,0,00,,,M,,M,,*78")) == ["fix_quality": .int(0), "satellites": .int(0)])
        let body = "GPGGA,1,3345.000,S,07030.000,W,1,05,1.0,10.0,M,,M,,"
        let sum = body.utf8.reduce(UInt8(0), ^)
        let south = Self.values(Self.decode("$\(body)*\(String(sum, radix: 16, uppercase: true))"))
        #expect(Self.close(south["latitude"], -(33 + 45.0 / 60)) && Self.close(south["longitude"], -(70 + 30.0 / 60)))
    }

    @Test("a wrong or missing checksum is malformed; other sentences are ignored unless generic")
    func checksumsAndGeneric() {
        #expect(Self.decode("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*46")
            == .malformed(reason: "checksum", detail: "checksum 46 where the sentence sums to 47"))
        #expect(Self.decode("$GPGGA,123519,4807.038,N")
            == .malformed(reason: "missing-checksum", detail: "no *hh checksum at the end"))
        #expect(Self.decode("garbage*00") == .malformed(reason: "invalid-nmea", detail: "a sentence starts with $ or !"))
        let gsv = "$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75"
        #expect(Self.decode(gsv) == .values([]))
        let kept = Self.values(Self.decode(gsv, generic: true))
        #expect(kept["GSV.1"] == .int(2) && kept["GSV.3"] == .int(8) && kept.count == 19)
    }
}
