@testable import TributaryHardware

/// A serial byte stream through the line framer and one format's decoder, as
/// the serial source reads it: lines never longer than the bound nor holding a
/// newline, and each line gives values, a header or a malformed reason. The input
/// arrives in two reads, cut in the middle.
struct SerialLines {
    static let maximumLine = 256

    static func check(_ input: [UInt8], _ format: SerialSourceSettings.Format, separator: Character = ",") -> Bool {
        var framer = LineFramer(maximum: maximumLine)
        var decoder = LineDecoder(format: format, columns: nil, separator: UInt8(ascii: separator.unicodeScalars.first!),
                                  nmeaGeneric: true)
        var allDecoded = true
        let cut = input.count / 2
        for part in [input[..<cut], input[cut...]] {
            for piece in part.withUnsafeBytes({ framer.take($0) }) {
                guard case let .line(line) = piece else { allDecoded = false; continue }
                precondition(!line.isEmpty && line.count <= maximumLine && !line.contains(UInt8(ascii: "\n")),
                             "a line of \(line.count) bytes")
                if case .malformed = decoder.decode(line) { allDecoded = false }
            }
        }
        return allDecoded
    }
}

enum SerialCSVFuzz: FuzzTarget {
    static let name = "serial-csv"
    static func seeds() throws -> [[UInt8]] {
        [Array("time,temp,hum,state\n1,21.5,40,open\r\n2,-0.25,,closed\n3,1e3,41,\"q\"\n".utf8)]
    }
    static func check(_ input: [UInt8]) -> Bool { SerialLines.check(input, .csv) }
}

enum SerialKeyValueFuzz: FuzzTarget {
    static let name = "serial-kv"
    static func seeds() throws -> [[UInt8]] {
        [Array("temp=21.5 hum=40.2\nT:22;H:39,ok=true\r\nnone= x=\n".utf8)]
    }
    static func check(_ input: [UInt8]) -> Bool { SerialLines.check(input, .keyValue) }
}

enum SerialJSONFuzz: FuzzTarget {
    static let name = "serial-json"
    static func seeds() throws -> [[UInt8]] {
        [Array(#"{"temp":21.5,"hum":40,"ok":true,"probe":{"id":"a","v":[1,2]}}"#.utf8) + [10]
            + Array(#"{"x":null,"s":"\u00e9\n"}"#.utf8) + [10]]
    }
    static func check(_ input: [UInt8]) -> Bool { SerialLines.check(input, .json) }
}

enum SerialNMEAFuzz: FuzzTarget {
    static let name = "serial-nmea"
    static func seeds() throws -> [[UInt8]] {
        [
            "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
                + "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"
                + "$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48\r\n",
            "$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75\r\n$GNGGA,,,,,,0,00,,,M,,M,,*78\r\n",
        ].map { Array($0.utf8) }
    }
    static func check(_ input: [UInt8]) -> Bool { SerialLines.check(input, .nmea) }
}
