import Logging
import Testing
@testable import TributarySystemd

@Suite("Journal logging")
struct JournalTests {
    @Test(
        "metadata keys become valid TRIBUTARY_ journal field names",
        arguments: [
            ("source", "TRIBUTARY_SOURCE"),
            ("sink.name", "TRIBUTARY_SINK_NAME"),
            ("Topic", "TRIBUTARY_TOPIC"),
            ("message", "TRIBUTARY_MESSAGE"),
            ("_trusted", "TRIBUTARY__TRUSTED"),
            ("9lives", "TRIBUTARY_9LIVES"),
            ("température", "TRIBUTARY_TEMP_RATURE"),
            ("a b=c\n", "TRIBUTARY_A_B_C_"),
            ("", "TRIBUTARY_UNNAMED"),
            (String(repeating: "x", count: 100), "TRIBUTARY_" + String(repeating: "X", count: 54)),
        ]
    )
    func fieldNames(key: String, expected: String) {
        let name = JournalFieldName.forMetadataKey(key)
        #expect(name == expected)
        #expect(name.utf8.count <= 64)
        #expect(name.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") })
    }

    @Test(
        "log levels map to syslog priorities",
        arguments: [
            (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
        ]
    )
    func priorities(level: Logger.Level, priority: Int) {
        #expect(JournalLogHandler.priority(of: level) == priority)
    }

    @Test("an entry carries message, priority, code location, label and metadata, call-site metadata winning")
    func entryFields() {
        var handler = JournalLogHandler(label: "tributary.pipeline", metadataProvider: nil)
        handler[metadataKey: "source"] = "handler"
        handler[metadataKey: "device"] = "box-7"
        let event = LogEvent(
            level: .warning,
            message: "queue full\nbackpressure",
            metadata: ["source": "modbus1", "topic": "sensors"],
            source: "TributaryCore",
            file: "TributaryCore/Router.swift",
            function: "route(_:)",
            line: 42
        )
        let fields = handler.fields(for: event)
        #expect(fields.first == "MESSAGE=queue full\nbackpressure")
        for expected in [
            "PRIORITY=4", "SYSLOG_IDENTIFIER=tributary", "CODE_FILE=TributaryCore/Router.swift", "CODE_LINE=42",
            "CODE_FUNC=route(_:)", "TRIBUTARY_LOGGER=tributary.pipeline", "TRIBUTARY_SOURCE=modbus1",
            "TRIBUTARY_TOPIC=sensors", "TRIBUTARY_DEVICE=box-7",
        ] {
            #expect(fields.contains(expected), "missing \(expected) in \(fields)")
        }
        #expect(!fields.contains("TRIBUTARY_SOURCE=handler"))
    }

    @Test(
        "JOURNAL_STREAM must name standard error's device and inode",
        arguments: [
            ("2049:131", true), ("2049:132", false), ("2050:131", false), ("2049", false), ("2049:", false),
            ("x:131", false), ("2049:131:0", false),
        ]
    )
    func journalStream(value: String, matches: Bool) {
        #expect(LogDestination.journalStream(value, names: 2049, inode: 131) == matches)
    }
}
