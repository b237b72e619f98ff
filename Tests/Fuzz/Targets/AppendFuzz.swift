@testable import TributaryCore
import TributaryLog

/// The JSON lines `tributary log append` reads (`ReadingJSON`): a line is a
/// reading or a clear problem, and a reading written back as a line (as
/// `log dump` does) reads as the same reading.
enum AppendFuzz: FuzzTarget {
    static let name = "append"

    static func seeds() throws -> [[UInt8]] {
        let dumped = sampleReadings(12).enumerated().map { offset, reading in
            var line: [UInt8] = []
            ReadingJSON.writeLine(StoredReading(offset: Int64(offset), reading: reading), partition: 0, to: &line)
            return line
        }
        let written = [
            #"{"sensor":"boiler/temp","timestamp":1767225600000,"value":21.5}"#,
            #"{"sensor":"door","time":"2026-01-01T00:00:00.5Z","type":"bool","value":true}"#,
            #"{"sensor":"raw","timestamp":-1,"type":"bytes","value":"AAEC/w=="}"#,
            #"{"sensor":"big","timestamp":1767225600000,"type":"int","value":-9223372036854775808}"#,
            #"{"sensor":"odd","timestamp":0,"type":"double","value":"NaN"}"#,
        ]
        return dumped + written.map { Array($0.utf8) }
    }

    static func check(_ input: [UInt8]) -> Bool {
        guard let reading = try? ReadingJSON.reading(fromLine: input.last == 10 ? Array(input.dropLast()) : input) else {
            return false
        }
        var line: [UInt8] = []
        ReadingJSON.writeLine(StoredReading(offset: 0, reading: reading), partition: 0, to: &line)
        line.removeLast() // the newline
        let again: Reading
        do {
            again = try ReadingJSON.reading(fromLine: line)
        } catch {
            preconditionFailure("a reading written as \(String(decoding: line, as: UTF8.self)) does not read back: \(error)")
        }
        precondition(again == reading || (isNaN(again.value) && isNaN(reading.value) && again.sensor == reading.sensor
                                          && again.timestamp == reading.timestamp),
                     "\(reading) read back as \(again)")
        return true
    }

    /// NaNs are written as "NaN", so their payload bits are not kept.
    private static func isNaN(_ value: Value) -> Bool {
        if case let .double(number) = value { number.isNaN } else { false }
    }
}
