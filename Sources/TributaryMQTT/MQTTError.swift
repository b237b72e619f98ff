/// Errors of the MQTT source and sink.
public enum MQTTError: Error, Equatable, CustomStringConvertible {
    /// A libmosquitto call failed (its `MOSQ_ERR_*` code, and what it means).
    case client(operation: String, code: Int32, detail: String)
    /// The broker refused or dropped the connection.
    case connection(broker: String, reason: String)
    /// The broker refused a message (an MQTT v5 reason code of 0x80 or more).
    case refused(topic: String, reason: String)

    public var description: String {
        switch self {
        case let .client(operation, _, detail):
            return "\(operation): \(detail)"
        case let .connection(broker, reason):
            return "no connection to the MQTT broker \(broker): \(reason)"
        case let .refused(topic, reason):
            return "the MQTT broker refused a message for \(topic): \(reason)"
        }
    }
}
