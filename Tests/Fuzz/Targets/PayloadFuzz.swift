@testable import TributaryCore
import TributaryLog

/// MQTT payloads (`PayloadMapping.decode`) in each format, with and without
/// field mappings; the first byte picks the mapping, the rest is the payload. A
/// payload gives readings or a malformed reason, and a refused payload leaves
/// the readings it was decoded into as they were.
enum PayloadFuzz: FuzzTarget {
    static let name = "mqtt"

    static let mappings: [PayloadMapping] = {
        var mapped = PayloadMapping(format: .json)
        mapped.sensorField = ["id"]
        mapped.valueField = ["data", "value"]
        mapped.timestampField = ["ts"]
        mapped.timestampUnit = .s
        var iso = PayloadMapping(format: .json)
        iso.timestampField = ["time"]
        iso.timestampUnit = .iso8601
        iso.valueType = .double
        var templated = PayloadMapping(format: .lineProtocol)
        templated.sensor = try! SensorTemplate("{topic}/{field}")
        templated.timestampUnit = .ms
        var text = PayloadMapping(format: .text)
        text.valueType = .int
        return [PayloadMapping(format: .json), mapped, iso, PayloadMapping(format: .lineProtocol), templated,
                PayloadMapping(format: .text), text, PayloadMapping(format: .raw)]
    }()

    static func seeds() throws -> [[UInt8]] {
        let payloads: [(Int, String)] = [
            (0, #"{"temp":21.5,"hum":40,"ok":true,"state":"open"}"#),
            (0, #"[{"temp":1},{"temp":2.5e3}]"#),
            (1, #"{"id":"pump-7","data":{"value":3.25},"ts":1767225600}"#),
            (1, #"[{"id":"a","data":{"value":1},"ts":1.5},{"id":"b","data":{"value":"x"},"ts":2}]"#),
            (2, #"{"value":-0.5,"time":"2026-01-01T00:00:00.123Z"}"#),
            (3, "weather,station=roof temp=21.5,hum=40i,ok=t,name=\"north\" 1767225600000000000\n"),
            (4, "cpu,host=a usage=0.5 1767225600000\ncpu,host=b usage=1.5\n"),
            (5, "21.5\n"),
            (6, "-42"),
            (7, "\u{0}\u{1}binary"),
        ]
        return payloads.map { [UInt8($0.0)] + Array($0.1.utf8) }
    }

    static func check(_ input: [UInt8]) -> Bool {
        guard let selector = input.first else { return false }
        let mapping = mappings[Int(selector) % mappings.count]
        let marker = Reading(sensor: "marker", timestamp: 0, value: .int(0))
        var readings = [marker]
        do {
            try mapping.decode(Array(input.dropFirst()), topic: "site/7/meter", receivedAt: 1_767_225_600_000,
                               into: &readings)
            return true
        } catch {
            precondition(readings == [marker], "a refused payload appended \(readings.count - 1) readings")
            return false
        }
    }
}
