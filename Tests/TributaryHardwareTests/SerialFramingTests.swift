import Testing
import TributaryLog
@testable import TributaryHardware

@Suite struct SerialFramingTests {
    private static func take(_ framer: inout LineFramer, _ text: String) -> [LineFramer.Piece] {
        Array(text.utf8).withUnsafeBytes { framer.take($0) }
    }

    @Test("lines end at LF, a CR before it goes, empty lines are skipped, a line may come in pieces")
    func lines() {
        var framer = LineFramer(maximum: 64)
        #expect(Self.take(&framer, "21.5,40\r\n\n22") == [.line(Array("21.5,40".utf8))])
        #expect(Self.take(&framer, ".0,41\n") == [.line(Array("22.0,41".utf8))])
    }

    @Test("an over-long line is reported once, then dropped up to its end; the next line reads")
    func overlong() {
        var framer = LineFramer(maximum: 8)
        #expect(Self.take(&framer, "0123456789abcdef") == [.overlong(Array("01234567".utf8))])
        #expect(Self.take(&framer, "ghij\nok\n") == [.line(Array("ok".utf8))])
    }

    @Test("CSV: named columns, a header line, the header again after a restart, too many fields")
    func csv() {
        var named = LineDecoder(format: .csv, columns: ["t", "h"], separator: UInt8(ascii: ","))
        #expect(named.decode(Array(" 21.5, 40 ".utf8)) == .values([("t", .double(21.5)), ("h", .int(40))]))
        #expect(named.decode(Array("21.5,".utf8)) == .values([("t", .double(21.5))]), "an empty field is no value")
        #expect(named.decode(Array("1,2,3".utf8))
            == .malformed(reason: "wrong-field-count", detail: "3 fields where 2 columns are named"))
        var headed = LineDecoder(format: .csv, columns: nil, separator: UInt8(ascii: ";"))
        #expect(headed.decode(Array("temp;door".utf8)) == .header)
        #expect(headed.decode(Array("19.25;open".utf8)) == .values([("temp", .double(19.25)), ("door", .string("open"))]))
        #expect(headed.decode(Array("temp;door".utf8)) == .header)
    }

    @Test("key=value pairs and JSON objects; what is neither is malformed by reason")
    func keyValueAndJSON() {
        var pairs = LineDecoder(format: .keyValue, columns: nil, separator: 0)
        #expect(pairs.decode(Array("t=21.5 h:40, ok=true".utf8))
            == .values([("t", .double(21.5)), ("h", .int(40)), ("ok", .bool(true))]))
        #expect(pairs.decode(Array("t=21.5 garbage".utf8))
            == .malformed(reason: "invalid-key-value", detail: "\"garbage\" is not key=value"))
        var json = LineDecoder(format: .json, columns: nil, separator: 0)
        #expect(json.decode(Array(#"{"t":21.5,"env":{"h":40},"id":"a","x":null}"#.utf8))
            == .values([("t", .double(21.5)), ("env.h", .int(40)), ("id", .string("a"))]))
        #expect({ if case .malformed(reason: "invalid-json", _) = json.decode(Array("{t:1".utf8)) { true } else { false } }())
        #expect(json.decode([0xFF, 0xFE]) == .malformed(reason: "invalid-utf8", detail: "the line is not UTF-8"))
    }
}
