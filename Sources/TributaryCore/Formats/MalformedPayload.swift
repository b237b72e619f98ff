/// Why a message could not be turned into readings: a reason it is counted
/// under, and the detail for the log.
public struct MalformedPayload: Error, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        /// Longer than the source's `max_payload`.
        case oversize
        /// Nothing in it (an MQTT retained message being cleared, for one).
        case empty
        case invalidUTF8 = "invalid-utf8"
        case invalidJSON = "invalid-json"
        case invalidLineProtocol = "invalid-line-protocol"
        /// A value or timestamp of a type the mapping cannot use.
        case wrongType = "wrong-type"
        /// "NaN" or "Infinity" where a number was expected.
        case notANumber = "not-a-number"
        /// A number beyond what a reading can hold.
        case outOfRange = "out-of-range"
        /// A field (or topic level, or tag) the mapping names is not there.
        case missingField = "missing-field"
    }

    public var reason: Reason
    public var detail: String

    public init(_ reason: Reason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}
