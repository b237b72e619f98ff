/// The line of every key, table header (`[log]`), array-of-tables entry
/// (`[[sources]]`, the second one `sources[1]`) and array element in a TOML
/// text, as `TOMLReader` found them.
public struct ConfigurationSourceMap: Sendable {
    private let lines: [ConfigurationPath: Int]

    init(lines: [ConfigurationPath: Int]) { self.lines = lines }

    /// The 1-based line where `path` is defined or, if it is not in the text
    /// (a missing key, a key inside an inline table), the line of its nearest
    /// ancestor that is; nil when not even the top-level key is there.
    public func line(for path: ConfigurationPath) -> Int? {
        var path = path
        while !path.components.isEmpty {
            if let line = lines[path] { return line }
            path = path.parent
        }
        return nil
    }

    /// The line where exactly `path` is defined, without looking at ancestors.
    public func exactLine(for path: ConfigurationPath) -> Int? { lines[path] }
}
