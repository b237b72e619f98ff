import Testing
@testable import TributaryCore

@Suite struct PayloadMappingTests {
    private let now: Int64 = 1_767_225_600_000

    private func decode(_ payload: String, topic: String = "sensors/boiler/temperature",
                        _ configure: (inout PayloadMapping) throws -> Void = { _ in }) throws -> [Reading] {
        var mapping = PayloadMapping()
        try configure(&mapping)
        var readings: [Reading] = []
        try mapping.decode(Array(payload.utf8), topic: topic, receivedAt: now, into: &readings)
        return readings
    }

    private func reason(_ payload: [UInt8], _ configure: (inout PayloadMapping) throws -> Void = { _ in })
        throws -> MalformedPayload.Reason? {
        var mapping = PayloadMapping()
        try configure(&mapping)
        var readings: [Reading] = []
        do {
            try mapping.decode(payload, topic: "a/b", receivedAt: now, into: &readings)
            return nil
        } catch {
            #expect(readings.isEmpty, "a malformed message adds nothing")
            return error.reason
        }
    }

    @Test func plainJSONValuesAreOneReadingNamedByTopic() throws {
        #expect(try decode("21.5") == [Reading(sensor: "sensors/boiler/temperature", timestamp: now, value: .double(21.5))])
        #expect(try decode("42") == [Reading(sensor: "sensors/boiler/temperature", timestamp: now, value: .int(42))])
        #expect(try decode("true").first?.value == .bool(true))
        #expect(try decode("\"on\"").first?.value == .string("on"))
    }

    @Test func sensorFromTopicLevels() throws {
        let readings = try decode("21.5") { $0.sensor = try SensorTemplate("{1}.temperature") }
        #expect(readings.map(\.sensor) == ["boiler.temperature"])
    }

    @Test func valueAndTimestampFromFieldPaths() throws {
        let payload = #"{"id":"pump-3","reading":{"v":3.25},"meta":{"ts":1767225601.5}}"#
        let readings = try decode(payload) {
            $0.sensorField = ["id"]
            $0.valueField = ["reading", "v"]
            $0.timestampField = ["meta", "ts"]
            $0.timestampUnit = .s
        }
        #expect(readings == [Reading(sensor: "pump-3", timestamp: 1_767_225_601_500, value: .double(3.25))])
    }

    @Test func anObjectOfFieldsIsSeveralReadings() throws {
        let readings = try decode(#"{"ts":"2026-01-01T00:00:01Z","temp":21.5,"hum":40,"ok":true,"note":null}"#) {
            $0.timestampField = ["ts"]
            $0.timestampUnit = .iso8601
            $0.sensor = try SensorTemplate("{1}.{field}")
        }
        #expect(readings == [
            Reading(sensor: "boiler.temp", timestamp: now + 1000, value: .double(21.5)),
            Reading(sensor: "boiler.hum", timestamp: now + 1000, value: .int(40)),
            Reading(sensor: "boiler.ok", timestamp: now + 1000, value: .bool(true)),
        ])
    }

    @Test func anArrayIsAListOfReadings() throws {
        let payload = #"[{"sensor":"a","value":1,"t":1000},{"sensor":"b","value":2.5,"t":2000}]"#
        let readings = try decode(payload) {
            $0.sensorField = ["sensor"]
            $0.valueField = ["value"]
            $0.timestampField = ["t"]
        }
        #expect(readings == [Reading(sensor: "a", timestamp: 1000, value: .int(1)),
                             Reading(sensor: "b", timestamp: 2000, value: .double(2.5))])
    }

    @Test func valueTypesConvertOrRefuse() throws {
        #expect(try decode("\"21.5\"") { $0.valueType = .double }.first?.value == .double(21.5))
        #expect(try decode("7") { $0.valueType = .string }.first?.value == .string("7"))
        #expect(try reason(Array("\"NaN\"".utf8)) { $0.valueType = .double } == .notANumber)
        #expect(try reason(Array("\"warm\"".utf8)) { $0.valueType = .double } == .wrongType)
        #expect(try reason(Array("2.5".utf8)) { $0.valueType = .int } == .wrongType)
        #expect(try reason(Array("true".utf8)) { $0.valueType = .int } == .wrongType)
    }

    @Test func textPayloads() throws {
        let text: (inout PayloadMapping) -> Void = { $0.format = .text }
        #expect(try decode("21.5\n", text).first?.value == .double(21.5))
        #expect(try decode("-3", text).first?.value == .int(-3))
        #expect(try decode("open", text).first?.value == .string("open"))
        #expect(try reason(Array("NaN".utf8), text) == .notANumber)
        #expect(try reason(Array("-inf".utf8), text) == .notANumber)
        #expect(try reason([], text) == .empty)
    }

    @Test func rawPayloadsKeepTheirBytes() throws {
        var mapping = PayloadMapping(format: .raw)
        var readings: [Reading] = []
        try mapping.decode([0xFF, 0x00, 0x7F], topic: "t", receivedAt: now, into: &readings)
        #expect(readings == [Reading(sensor: "t", timestamp: now, value: .bytes([0xFF, 0x00, 0x7F]))])
        mapping.maxPayload = 2
        #expect(throws: MalformedPayload.self) { try mapping.decode([1, 2, 3], topic: "t", receivedAt: now, into: &readings) }
    }

    @Test func lineProtocolFieldsAreReadings() throws {
        let payload = """
            # a comment
            weather,location=us\\ midwest,station=7 temperature=82.5,humidity=71i,raining=f,label="a \\"b\\"" 1767225600000000000
            cpu usage=0.5

            """
        let readings = try decode(payload) { $0.format = .lineProtocol }
        #expect(readings == [
            Reading(sensor: "weather/temperature", timestamp: now, value: .double(82.5)),
            Reading(sensor: "weather/humidity", timestamp: now, value: .int(71)),
            Reading(sensor: "weather/raining", timestamp: now, value: .bool(false)),
            Reading(sensor: "weather/label", timestamp: now, value: .string("a \"b\"")),
            Reading(sensor: "cpu/usage", timestamp: now, value: .double(0.5)),
        ])
        let tagged = try decode("weather,location=north t=1 5") {
            $0.format = .lineProtocol
            $0.timestampUnit = .s
            $0.sensor = try SensorTemplate("{tag.location}.{measurement}.{field}")
        }
        #expect(tagged == [Reading(sensor: "north.weather.t", timestamp: 5000, value: .double(1))])
    }

    @Test func eachKindOfMalformedPayloadHasItsReason() throws {
        #expect(try reason(Array("{\"a\":".utf8)) == .invalidJSON)
        #expect(try reason([0x22, 0xC3, 0x28, 0x22]) == .invalidUTF8)
        #expect(try reason(Array("null".utf8)) == .wrongType)
        #expect(try reason(Array("[]".utf8)) == .empty)
        #expect(try reason(Array("{\"x\":1}".utf8)) { $0.valueField = ["value"] } == .missingField)
        #expect(try reason(Array("{\"v\":1}".utf8)) { $0.valueField = ["v"]; $0.timestampField = ["t"] } == .missingField)
        #expect(try reason(Array("{\"v\":1,\"t\":\"soon\"}".utf8)) {
            $0.valueField = ["v"]; $0.timestampField = ["t"]
        } == .wrongType)
        #expect(try reason(Array("1e400".utf8)) == .invalidJSON || reason(Array("1e400".utf8)) == .outOfRange)
        #expect(try reason(Array("21.5".utf8)) { $0.sensor = try SensorTemplate("{7}") } == .missingField)
        #expect(try reason(Array(repeating: UInt8(ascii: "1"), count: 10)) { $0.maxPayload = 9 } == .oversize)
        let lineProtocol: (inout PayloadMapping) -> Void = { $0.format = .lineProtocol }
        #expect(try reason(Array("weather".utf8), lineProtocol) == .invalidLineProtocol)
        #expect(try reason(Array("w t=\"open".utf8), lineProtocol) == .invalidLineProtocol)
        #expect(try reason(Array("w t=99999999999999999999i".utf8), lineProtocol) == .outOfRange)
        #expect(try reason(Array("w t=1 soon".utf8), lineProtocol) == .invalidLineProtocol)
        #expect(try reason(Array("# only a comment".utf8), lineProtocol) == .empty)
    }

    @Test func templatesRefuseWhatTheyCannotFill() {
        #expect(throws: SensorTemplate.Problem.self) { try SensorTemplate("{level}") }
        #expect(throws: SensorTemplate.Problem.self) { try SensorTemplate("a{1") }
        #expect(throws: SensorTemplate.Problem.self) { try SensorTemplate("") }
        #expect((try? SensorTemplate("{{x}}.{0}"))?.parts == [.text("{x}."), .level(0)])
    }
}

@Suite struct ReadingLineProtocolTests {
    @Test func whatTheSinkWritesTheSourceReadsBack() throws {
        let readings: [(Value, Value)] = [
            (.double(21.5), .double(21.5)), (.int(-7), .int(-7)), (.bool(true), .bool(true)),
            (.string("a \"quoted\" \\ text"), .string("a \"quoted\" \\ text")),
            (.bytes([1, 2, 255]), .string("AQL/")), (.double(.nan), .string("NaN")),
        ]
        var output: [UInt8] = []
        for (index, (value, _)) in readings.enumerated() {
            ReadingLineProtocol.writeLine(StoredReading(offset: Int64(index), reading: Reading(
                sensor: "boiler, room=2", timestamp: 1_767_225_600_000 + Int64(index), value: value)),
                device: "box 1", topic: "my readings", partition: 3, to: &output)
        }
        let points = try LineProtocol.parse(output)
        #expect(points.count == readings.count)
        for (index, point) in points.enumerated() {
            #expect(point.measurement == "my readings")
            #expect(point.tags.map(\.key) == ["device", "partition", "sensor"])
            #expect(point.tags.map(\.value) == ["box 1", "3", "boiler, room=2"])
            #expect(point.fields.map(\.key) == ["value", "offset"])
            #expect(point.fields[0].value == readings[index].1 && point.fields[1].value == .int(Int64(index)))
            #expect(point.timestamp == (1_767_225_600_000 + Int64(index)) * 1_000_000)
        }
    }
}
