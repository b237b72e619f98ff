/// How a sensor id is made from where a message came from and what it held:
/// text with placeholders, such as `"{1}.temperature"` or
/// `"{measurement}/{field}"`.
///
/// Placeholders: `{topic}` (the whole MQTT topic), `{0}` to `{9}` (its
/// levels, from 0), `{id}` (the payload's sensor field), `{field}` (the name
/// of the JSON or line-protocol field the value came from), `{measurement}`
/// and `{tag.NAME}` (line protocol). `{{` and `}}` are literal braces.
public struct SensorTemplate: Sendable, Equatable, CustomStringConvertible {
    enum Part: Sendable, Equatable {
        case text(String)
        case topic
        case level(Int)
        case id
        case field
        case measurement
        case tag(String)
    }

    let parts: [Part]
    public let description: String

    /// What a message offers to fill the placeholders with.
    struct Fill {
        var topic: String
        var id: String?
        var field: String?
        var measurement: String?
        var tags: [(key: String, value: String)] = []
    }

    /// Why a template cannot be used, for the configuration error.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public init(_ text: String) throws(Problem) {
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(text)
        while let first = rest.first {
            rest = rest.dropFirst()
            if first == "}" {
                guard rest.first == "}" else { throw Problem(description: "a lone \"}\" (write \"}}\" for a brace)") }
                rest = rest.dropFirst()
                literal.append("}")
                continue
            }
            guard first == "{" else { literal.append(first); continue }
            if rest.first == "{" {
                rest = rest.dropFirst()
                literal.append("{")
                continue
            }
            guard let close = rest.firstIndex(of: "}") else {
                throw Problem(description: "\"{\" without a closing \"}\"")
            }
            let name = String(rest[..<close])
            rest = rest[rest.index(after: close)...]
            if !literal.isEmpty { parts.append(.text(literal)); literal = "" }
            parts.append(try Self.placeholder(name))
        }
        if !literal.isEmpty { parts.append(.text(literal)) }
        guard !parts.isEmpty else { throw Problem(description: "an empty sensor id") }
        self.parts = parts
        self.description = text
    }

    private static func placeholder(_ name: String) throws(Problem) -> Part {
        switch name {
        case "topic": return .topic
        case "id": return .id
        case "field": return .field
        case "measurement": return .measurement
        default:
            if name.hasPrefix("tag."), name.count > 4 { return .tag(String(name.dropFirst(4))) }
            if let level = Int(name), (0...9).contains(level) { return .level(level) }
            throw Problem(description: "unknown placeholder {\(name)}; use {topic}, {0} to {9} (topic levels), "
                + "{id}, {field}, {measurement} or {tag.NAME}")
        }
    }

    /// Whether the template names `{field}`, so several fields of one message get different ids.
    var namesField: Bool { parts.contains(.field) }

    /// The sensor id for `fill`, or what the message lacks to make it.
    func expand(_ fill: Fill) throws(MalformedPayload) -> String {
        var sensor = ""
        for part in parts {
            switch part {
            case let .text(text): sensor += text
            case .topic: sensor += fill.topic
            case let .level(index):
                let levels = fill.topic.split(separator: "/", omittingEmptySubsequences: false)
                guard index < levels.count else {
                    throw MalformedPayload(.missingField, "topic \"\(fill.topic)\" has no level {\(index)}")
                }
                sensor += levels[index]
            case .id: sensor += try present(fill.id, "{id}")
            case .field: sensor += try present(fill.field, "{field}")
            case .measurement: sensor += try present(fill.measurement, "{measurement}")
            case let .tag(name):
                guard let tag = fill.tags.first(where: { $0.key == name }) else {
                    throw MalformedPayload(.missingField, "no tag \"\(name)\" for {tag.\(name)}")
                }
                sensor += tag.value
            }
        }
        guard !sensor.isEmpty else { throw MalformedPayload(.missingField, "the sensor id comes out empty") }
        return sensor
    }

    private func present(_ value: String?, _ placeholder: String) throws(MalformedPayload) -> String {
        guard let value else {
            throw MalformedPayload(.missingField, "nothing in this message fills \(placeholder)")
        }
        return value
    }
}
