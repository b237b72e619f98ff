/// Errors of the Kafka sink.
public enum KafkaError: Error, Equatable, CustomStringConvertible {
    /// librdkafka refused a property (nil: the combination), in its words.
    case configuration(property: String?, reason: String)
    /// librdkafka did not deliver a record: its error name and words.
    case delivery(topic: String, code: String, reason: String)
    /// librdkafka would not take a record (`rd_kafka_producev` failed).
    case produce(topic: String, code: String, reason: String)
    /// The sink is stopping, or has no producer since a fatal error.
    case noProducer(reason: String)

    public var description: String {
        switch self {
        case let .configuration(property?, reason):
            return "librdkafka refused \(property): \(reason)"
        case let .configuration(nil, reason):
            return "librdkafka refused the configuration: \(reason)"
        case let .delivery(topic, code, reason):
            return "Kafka did not take a record for \(topic): \(reason) (\(code))"
        case let .produce(topic, code, reason):
            return "librdkafka would not take a record for \(topic): \(reason) (\(code))"
        case let .noProducer(reason):
            return "no Kafka producer: \(reason)"
        }
    }
}
