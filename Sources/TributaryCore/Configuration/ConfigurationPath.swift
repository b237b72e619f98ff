/// The place of a value in a TOML document: keys and array indices from the
/// root, written `sources[1].rate` (indices count from 0).
public struct ConfigurationPath: Sendable, Hashable, CustomStringConvertible {
    /// One step down from a table or an array.
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    /// The steps from the root; empty for the root itself.
    public var components: [Component]

    /// The path with these steps.
    public init(_ components: [Component] = []) { self.components = components }

    /// This path, one key deeper.
    public func appending(_ key: String) -> ConfigurationPath { ConfigurationPath(components + [.key(key)]) }

    /// This path, one array element deeper.
    public func appending(index: Int) -> ConfigurationPath { ConfigurationPath(components + [.index(index)]) }

    /// The path one step up; the root is its own parent.
    public var parent: ConfigurationPath { ConfigurationPath(Array(components.dropLast())) }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case let .key(key):
                if !text.isEmpty { text += "." }
                text += Self.isBare(key) ? key : "\"" + key + "\""
            case let .index(index):
                text += "[\(index)]"
            }
        }
        return text
    }

    /// Whether `key` can be written without quotes in TOML (A-Z a-z 0-9 _ -).
    static func isBare(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D
        }
    }
}
