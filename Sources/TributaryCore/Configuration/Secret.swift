/// A password or key read from a secret file; never printed.
public struct Secret: Sendable, Equatable, CustomStringConvertible {
    /// The secret itself, for the code that hands it to a library.
    public var value: String

    /// Wraps `value`.
    public init(_ value: String) { self.value = value }

    /// Always `<redacted>`, so a summary or log line cannot leak it.
    public var description: String { "<redacted>" }
}
