import Testing
@testable import TributaryCore

@Suite("Configuration source map")
struct ConfigurationSourceMapTests {
    static let text = """
        # comment = 1
        top = "x"
        [log]
        directory = "/var/lib/x"   # [not a header]
        "segment_size" = "16MiB"
        notes = \"\"\"
        fake = 1
        [fake]
        \"\"\"
        list = [
          "a",
          "b = 2",
        ]
        [topics.readings]
        partitions = 2
        [[sources]]
        type = "sim"
        [[sources]]
        type = "serial"
        inline = { a = 1 }
        [[sources.signals]]
        shape = "sine"
        [metrics]
        dotted.key = true
        """

    static func path(_ text: String) -> ConfigurationPath {
        var components: [ConfigurationPath.Component] = []
        for part in text.split(separator: ".") {
            if let bracket = part.firstIndex(of: "[") {
                components.append(.key(String(part[..<bracket])))
                components.append(.index(Int(part[part.index(after: bracket)..<part.index(before: part.endIndex)])!))
            } else {
                components.append(.key(String(part)))
            }
        }
        return ConfigurationPath(components)
    }

    @Test("keys, tables and array-of-tables entries are found on their lines", arguments: [
        ("top", 2), ("log", 3), ("log.directory", 4), ("log.segment_size", 5), ("log.notes", 6), ("log.list", 10),
        ("topics.readings", 14), ("topics.readings.partitions", 15), ("sources[0]", 16), ("sources[0].type", 17),
        ("sources[1]", 18), ("sources[1].type", 19), ("sources[1].inline", 20), ("sources[1].signals[0]", 21),
        ("sources[1].signals[0].shape", 22), ("metrics.dotted.key", 24), ("metrics.dotted", 24),
    ])
    func lines(key: String, line: Int) throws {
        let map = try TOMLReader.read(Self.text).sourceMap
        #expect(map.exactLine(for: Self.path(key)) == line)
        #expect(Self.path(key).description == key)
    }

    @Test("text inside multi-line strings, arrays and comments is not taken for keys", arguments: [
        "fake", "log.fake", "fake.fake", "log.b", "comment",
    ])
    func notKeys(key: String) throws {
        #expect(try TOMLReader.read(Self.text).sourceMap.exactLine(for: Self.path(key)) == nil)
    }

    @Test("a key that is not in the text is placed at its nearest enclosing table")
    func fallsBackToAncestor() throws {
        let map = try TOMLReader.read(Self.text).sourceMap
        #expect(map.line(for: Self.path("sources[1].rate")) == 18)
        #expect(map.line(for: Self.path("sources[1].inline.a")) == 20)
        #expect(map.line(for: Self.path("device.id")) == nil)
    }
}
