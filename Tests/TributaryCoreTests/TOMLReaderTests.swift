import Foundation
import Testing
@testable import TributaryCore

/// The configuration's TOML reader held to the TOML 1.0 specification: its
/// examples, section by section, that must read (with the values they must
/// give) and those it calls invalid, which must fail on their line.
@Suite("TOML reader")
struct TOMLReaderTests {
    struct Valid: CustomTestStringConvertible, Sendable {
        var name: String
        var toml: String
        var expected: [String: ConfigurationNode]
        var testDescription: String { name }
    }

    struct Invalid: CustomTestStringConvertible, Sendable {
        var name: String
        var toml: String
        var line: Int
        var testDescription: String { name }
    }

    static let valid: [Valid] = [
        Valid(name: "comments", toml: "# This is a full-line comment\nkey = \"value\"  # This is a comment at the end of a line\n"
                  + "another = \"# This is not a comment\"\n",
              expected: ["key": .string("value"), "another": .string("# This is not a comment")]),
        Valid(name: "bare and quoted keys", toml: """
            key = "value"
            bare_key = "value"
            bare-key = "value"
            1234 = "value"
            "127.0.0.1" = "value"
            "character encoding" = "value"
            "ʎǝʞ" = "value"
            'key2' = "value"
            'quoted "value"' = "value"
            "" = "blank"
            """,
              expected: ["key": .string("value"), "bare_key": .string("value"), "bare-key": .string("value"),
                         "1234": .string("value"), "127.0.0.1": .string("value"), "character encoding": .string("value"),
                         "ʎǝʞ": .string("value"), "key2": .string("value"), "quoted \"value\"": .string("value"),
                         "": .string("blank")]),
        Valid(name: "dotted keys", toml: """
            name = "Orange"
            physical.color = "orange"
            physical.shape = "round"
            site."google.com" = true
            fruit . flavor = "sweet"
            3.14159 = "pi"
            """,
              expected: ["name": .string("Orange"),
                         "physical": .table(["color": .string("orange"), "shape": .string("round")]),
                         "site": .table(["google.com": .boolean(true)]), "fruit": .table(["flavor": .string("sweet")]),
                         "3": .table(["14159": .string("pi")])]),
        Valid(name: "basic strings and escapes",
              toml: #"str = "I'm a string. \"You can quote me\". Name\tJos\u00E9\nLocation\tSF. \U0001F600 \\ \b\f\r""#,
              expected: ["str": .string("I'm a string. \"You can quote me\". Name\tJos\u{E9}\nLocation\tSF. \u{1F600} \\ \u{8}\u{C}\r")]),
        Valid(name: "multi-line basic strings", toml: "str1 = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n"
                  + "str2 = \"\"\"\nThe quick brown \\\n\n\n  fox jumps over \\\n    the lazy dog.\"\"\"\n"
                  + "str3 = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\n"
                  + "str4 = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n",
              expected: ["str1": .string("Roses are red\nViolets are blue"),
                         "str2": .string("The quick brown fox jumps over the lazy dog."),
                         "str3": .string("Here are two quotation marks: \"\". Simple enough."),
                         "str4": .string("\"This,\" she said, \"is just a pointless statement.\"")]),
        Valid(name: "literal strings", toml: #"""
            winpath  = 'C:\Users\nodejs\templates'
            quoted   = 'Tom "Dubs" Preston-Werner'
            regex    = '<\i\c*\s*>'
            regex2 = '''I [dw]on't need \d{2} apples'''
            lines  = '''
            The first newline is
            trimmed in raw strings.
            '''
            quot15 = '''Here are fifteen quotation marks: """""""""""""""'''
            apos15 = "Here are fifteen apostrophes: '''''''''''''''"
            str = ''''That,' she said, 'is still pointless.''''
            """#,
              expected: ["winpath": .string(#"C:\Users\nodejs\templates"#), "quoted": .string("Tom \"Dubs\" Preston-Werner"),
                         "regex": .string(#"<\i\c*\s*>"#), "regex2": .string(#"I [dw]on't need \d{2} apples"#),
                         "lines": .string("The first newline is\ntrimmed in raw strings.\n"),
                         "quot15": .string("Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\""),
                         "apos15": .string("Here are fifteen apostrophes: '''''''''''''''"),
                         "str": .string("'That,' she said, 'is still pointless.'")]),
        Valid(name: "integers", toml: """
            int1 = +99
            int2 = 42
            int3 = 0
            int4 = -17
            int5 = 1_000
            int6 = 5_349_221
            int7 = 53_49_221
            int8 = 1_2_3_4_5
            hex1 = 0xDEADBEEF
            hex2 = 0xdeadbeef
            hex3 = 0xdead_beef
            oct1 = 0o01234567
            oct2 = 0o755
            bin1 = 0b11010110
            max = 9_223_372_036_854_775_807
            min = -9_223_372_036_854_775_808
            """,
              expected: ["int1": .integer(99), "int2": .integer(42), "int3": .integer(0), "int4": .integer(-17),
                         "int5": .integer(1000), "int6": .integer(5_349_221), "int7": .integer(5_349_221),
                         "int8": .integer(12345), "hex1": .integer(0xDEADBEEF), "hex2": .integer(0xDEADBEEF),
                         "hex3": .integer(0xDEADBEEF), "oct1": .integer(0o01234567), "oct2": .integer(0o755),
                         "bin1": .integer(0b11010110), "max": .integer(Int.max), "min": .integer(Int.min)]),
        Valid(name: "floats", toml: """
            flt1 = +1.0
            flt2 = 3.1415
            flt3 = -0.01
            flt4 = 5e+22
            flt5 = 1e06
            flt6 = -2E-2
            flt7 = 6.626e-34
            flt8 = 224_617.445_991_228
            sf1 = inf
            sf2 = +inf
            sf3 = -inf
            """,
              expected: ["flt1": .float(1), "flt2": .float(3.1415), "flt3": .float(-0.01), "flt4": .float(5e22),
                         "flt5": .float(1e6), "flt6": .float(-2e-2), "flt7": .float(6.626e-34),
                         "flt8": .float(224_617.445_991_228), "sf1": .float(.infinity), "sf2": .float(.infinity),
                         "sf3": .float(-.infinity)]),
        Valid(name: "booleans and dates and times", toml: """
            bool1 = true
            bool2 = false
            odt1 = 1979-05-27T07:32:00Z
            odt2 = 1979-05-27T00:32:00-07:00
            odt3 = 1979-05-27T00:32:00.999999-07:00
            odt4 = 1979-05-27 07:32:00Z
            ldt1 = 1979-05-27T07:32:00
            ld1 = 1979-05-27
            lt1 = 07:32:00
            lt2 = 00:32:00.999999
            leap = 2024-02-29
            """,
              expected: ["bool1": .boolean(true), "bool2": .boolean(false),
                         "odt1": .other(typeName: "offset date-time", text: "1979-05-27T07:32:00Z"),
                         "odt2": .other(typeName: "offset date-time", text: "1979-05-27T00:32:00-07:00"),
                         "odt3": .other(typeName: "offset date-time", text: "1979-05-27T00:32:00.999999-07:00"),
                         "odt4": .other(typeName: "offset date-time", text: "1979-05-27 07:32:00Z"),
                         "ldt1": .other(typeName: "local date-time", text: "1979-05-27T07:32:00"),
                         "ld1": .other(typeName: "local date", text: "1979-05-27"),
                         "lt1": .other(typeName: "local time", text: "07:32:00"),
                         "lt2": .other(typeName: "local time", text: "00:32:00.999999"),
                         "leap": .other(typeName: "local date", text: "2024-02-29")]),
        Valid(name: "arrays", toml: """
            integers = [ 1, 2, 3 ]
            nested_mixed_array = [ [ 1, 2 ], ["a", "b", "c"] ]
            numbers = [ 0.1, 0.2, 0.5, 1, 2, 5 ]
            contributors = [
              "Foo Bar <foo@example.com>",  # a comment
              { name = "Baz Qux", email = "bazqux@example.com" },
            ]
            empty = [ ]
            """,
              expected: ["integers": .array([.integer(1), .integer(2), .integer(3)]),
                         "nested_mixed_array": .array([.array([.integer(1), .integer(2)]),
                                                       .array([.string("a"), .string("b"), .string("c")])]),
                         "numbers": .array([.float(0.1), .float(0.2), .float(0.5), .integer(1), .integer(2), .integer(5)]),
                         "contributors": .array([.string("Foo Bar <foo@example.com>"),
                                                 .table(["name": .string("Baz Qux"), "email": .string("bazqux@example.com")])]),
                         "empty": .array([])]),
        Valid(name: "tables, implicit and dotted", toml: """
            [dog."tater.man"]
            type.name = "pug"
            [ j . "ʞ" . 'l' ]
            [x.y.z.w]
            [x]
            [fruit]
            apple.color = "red"
            apple.taste.sweet = true
            [fruit.apple.texture]
            smooth = true
            """,
              expected: ["dog": .table(["tater.man": .table(["type": .table(["name": .string("pug")])])]),
                         "j": .table(["ʞ": .table(["l": .table([:])])]),
                         "x": .table(["y": .table(["z": .table(["w": .table([:])])])]),
                         "fruit": .table(["apple": .table(["color": .string("red"),
                                                           "taste": .table(["sweet": .boolean(true)]),
                                                           "texture": .table(["smooth": .boolean(true)])])])]),
        Valid(name: "inline tables", toml: """
            name = { first = "Tom", last = "Preston-Werner" }
            point = { x = 1, y = 2 }
            animal = { type.name = "pug" }
            """,
              expected: ["name": .table(["first": .string("Tom"), "last": .string("Preston-Werner")]),
                         "point": .table(["x": .integer(1), "y": .integer(2)]),
                         "animal": .table(["type": .table(["name": .string("pug")])])]),
        Valid(name: "arrays of tables", toml: """
            [[products]]
            name = "Hammer"
            sku = 738594937
            [[products]]  # empty table within the array
            [[products]]
            name = "Nail"
            [[fruits]]
            name = "apple"
            [fruits.physical]
            color = "red"
            [[fruits.varieties]]
            name = "red delicious"
            [[fruits.varieties]]
            name = "granny smith"
            [[fruits]]
            name = "banana"
            """,
              expected: ["products": .array([.table(["name": .string("Hammer"), "sku": .integer(738_594_937)]), .table([:]),
                                             .table(["name": .string("Nail")])]),
                         "fruits": .array([.table(["name": .string("apple"), "physical": .table(["color": .string("red")]),
                                                   "varieties": .array([.table(["name": .string("red delicious")]),
                                                                        .table(["name": .string("granny smith")])])]),
                                           .table(["name": .string("banana")])])]),
        Valid(name: "CR LF line ends and a byte order mark", toml: "\u{FEFF}a = 1\r\n[t]\r\nb = \"\"\"x\r\ny\"\"\"\r\n",
              expected: ["a": .integer(1), "t": .table(["b": .string("x\r\ny")])]),
    ]

    static let invalid: [Invalid] = [
        Invalid(name: "a key without a value", toml: "a = 1\nkey = # INVALID\n", line: 2),
        Invalid(name: "two pairs on a line", toml: "first = \"Tom\" last = \"Preston-Werner\"", line: 1),
        Invalid(name: "an empty bare key", toml: "= \"no key name\"", line: 1),
        Invalid(name: "a duplicate key", toml: "name = \"Tom\"\nname = \"Pradyun\"", line: 2),
        Invalid(name: "a duplicate key spelled two ways", toml: "spelling = \"favorite\"\n\"spelling\" = \"favourite\"", line: 2),
        Invalid(name: "a value extended by a dotted key", toml: "fruit.apple = 1\nfruit.apple.smooth = true", line: 2),
        Invalid(name: "an unknown escape", toml: "a = \"\\q\"", line: 1),
        Invalid(name: "a surrogate escape", toml: "a = \"\\uD800\"", line: 1),
        Invalid(name: "a string across lines", toml: "a = \"one\ntwo\"", line: 1),
        Invalid(name: "a control character in a string", toml: "a = \"\u{7F}\"", line: 1),
        Invalid(name: "six quotes closing a multi-line string", toml: "a = \"\"\"x\"\"\"\"\"\"", line: 1),
        Invalid(name: "a leading zero", toml: "a = 1\nb = 012", line: 2),
        Invalid(name: "a lone underscore", toml: "a = 1__000", line: 1),
        Invalid(name: "an underscore at an end", toml: "a = 1_", line: 1),
        Invalid(name: "an integer out of range", toml: "a = 9_223_372_036_854_775_808", line: 1),
        Invalid(name: "a signed hex integer", toml: "a = +0xFF", line: 1),
        Invalid(name: "a float without a whole part", toml: "a = .7", line: 1),
        Invalid(name: "a float without a fraction", toml: "a = 7.", line: 1),
        Invalid(name: "a float with a dot before its exponent", toml: "a = 3.e+20", line: 1),
        Invalid(name: "a day that does not exist", toml: "a = 2023-02-29", line: 1),
        Invalid(name: "an hour out of range", toml: "a = 24:00:00", line: 1),
        Invalid(name: "a time without seconds (TOML 1.1)", toml: "a = 07:32", line: 1),
        Invalid(name: "a table defined twice", toml: "[fruit]\napple = \"red\"\n[fruit]\norange = \"orange\"", line: 3),
        Invalid(name: "a table defined by a key and a header", toml: "[fruit]\napple = \"red\"\n[fruit.apple]\ntexture = \"smooth\"",
                line: 3),
        Invalid(name: "a header over a table made by dotted keys", toml: "[fruit]\napple.color = \"red\"\n[fruit.apple]", line: 3),
        Invalid(name: "dotted keys adding to a header's table", toml: "[a.b]\nz = 9\n[a]\nb.t = 1", line: 4),
        Invalid(name: "an inline table extended", toml: "type = { name = \"Nail\" }\ntype.edible = false", line: 2),
        Invalid(name: "an inline table extended by a header", toml: "a = { b = 1 }\n[a.c]", line: 2),
        Invalid(name: "an inline table across lines", toml: "a = { b = 1,\n c = 2 }", line: 1),
        Invalid(name: "a trailing comma in an inline table", toml: "a = { b = 1, }", line: 1),
        Invalid(name: "a static array appended to", toml: "fruits = []\n[[fruits]]", line: 2),
        Invalid(name: "an array of tables made a table", toml: "[[fruits]]\nname = \"apple\"\n[fruits]", line: 3),
        Invalid(name: "a missing comma in an array", toml: "a = [1\n 2]", line: 2),
        Invalid(name: "an unclosed array", toml: "a = [1, 2", line: 1),
        Invalid(name: "a header not closed", toml: "[a\nb = 1", line: 1),
        Invalid(name: "brackets of an array of tables apart", toml: "[ [a] ]", line: 1),
        Invalid(name: "a lone carriage return", toml: "a = 1\rb = 2", line: 1),
        Invalid(name: "a control character in a comment", toml: "a = 1 # \u{1}", line: 1),
        Invalid(name: "nesting without end", toml: String(repeating: "a = [", count: 1) + String(repeating: "[", count: 200), line: 1),
    ]

    @Test("the specification's examples read as it says", arguments: valid)
    func reads(_ example: Valid) throws {
        #expect(try TOMLReader.read(example.toml).entries == example.expected)
    }

    @Test("nan reads as a float that is not a number")
    func notANumber() throws {
        let entries = try TOMLReader.read("a = nan\nb = -nan").entries
        guard case let .float(a) = entries["a"], case let .float(b) = entries["b"] else {
            Issue.record("not floats: \(entries)")
            return
        }
        #expect(a.isNaN && b.isNaN)
    }

    @Test("what the specification calls invalid is an error on its line", arguments: invalid)
    func refuses(_ example: Invalid) {
        #expect {
            _ = try TOMLReader.read(example.toml)
        } throws: { error in
            (error as? ConfigurationNode.SyntaxError)?.line == example.line
        }
    }

    @Test("keys inside inline tables and array elements have their lines")
    func linesOfInlineKeysAndElements() throws {
        let map = try TOMLReader.read("a = 1\nlist = [\n  \"x\",\n  { y = 2 },\n]\nt = { k = 3 }").sourceMap
        #expect(map.exactLine(for: ConfigurationPath([.key("list"), .index(1)])) == 4)
        #expect(map.exactLine(for: ConfigurationPath([.key("list"), .index(1), .key("y")])) == 4)
        #expect(map.exactLine(for: ConfigurationPath([.key("t"), .key("k")])) == 6)
    }

    /// toml-test's TOML 1.0 cases (github.com/toml-lang/toml-test), where a copy of its `tests`
    /// directory is named by TOML_TEST_DIR: every valid file reads to its JSON, every invalid one fails.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TOML_TEST_DIR"] != nil))
    func tomlTestSuite() throws {
        let directory = ProcessInfo.processInfo.environment["TOML_TEST_DIR"]!
        let list = try String(contentsOfFile: directory + "/files-toml-1.0.0", encoding: .utf8)
        var failures: [String] = []
        var checked = 0
        for name in list.split(separator: "\n") where name.hasSuffix(".toml") {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
            // Invalid UTF-8 is part of what must fail; Swift's String would repair it.
            let text = String(validating: data, as: UTF8.self)
            checked += 1
            if name.hasPrefix("valid/") {
                let json = try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: directory + "/" + name.dropLast(5) + ".json")))
                do {
                    let entries = try TOMLReader.read(text ?? "").entries
                    if !Self.matches(.table(entries), json) { failures.append("\(name): read differently") }
                } catch {
                    failures.append("\(name): \(error)")
                }
            } else if let text, (try? TOMLReader.read(text)) != nil {
                failures.append("\(name): read, but is invalid")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(checked):\n\(failures.joined(separator: "\n"))")
    }

    /// Whether `node` is what toml-test's tagged JSON says.
    private static func matches(_ node: ConfigurationNode, _ json: Any) -> Bool {
        switch node {
        case let .table(entries):
            guard let object = json as? [String: Any], object.count == entries.count else { return false }
            return entries.allSatisfy { key, value in object[key].map { matches(value, $0) } ?? false }
        case let .array(elements):
            guard let array = json as? [Any], array.count == elements.count else { return false }
            return zip(elements, array).allSatisfy { matches($0, $1) }
        default:
            guard let tagged = json as? [String: String], let type = tagged["type"], let value = tagged["value"] else {
                return false
            }
            switch node {
            case let .string(text): return type == "string" && text == value
            case let .integer(number): return type == "integer" && Int(value) == number
            case let .float(number):
                guard type == "float" else { return false }
                if number.isNaN { return value.hasSuffix("nan") }
                return Double(value.replacingOccurrences(of: "inf", with: "infinity")) == number
            case let .boolean(flag): return type == "bool" && value == String(flag)
            case let .other(typeName, _):
                let types = ["offset date-time": "datetime", "local date-time": "datetime-local",
                             "local date": "date-local", "local time": "time-local"]
                return types[typeName] == type
            default: return false
            }
        }
    }
}
