import TributaryCore

/// The figures tributary keeps from librdkafka's statistics (the JSON it
/// emits every `statistics.interval.ms`), per producer.
struct KafkaStatistics: Sendable, Equatable {
    /// Brokers whose connection is up.
    var brokersUp = 0
    /// Brokers librdkafka knows of (bootstrap addresses included).
    var brokers = 0
    /// The mean of the up brokers' average round-trip times, in seconds.
    var roundTripSeconds = 0.0
    /// Records in librdkafka's queues, waiting or in flight (`msg_cnt`).
    var queued = 0
    /// Requests sent again (the brokers' `txretries`).
    var retries: Int64 = 0
    /// Requests that failed (the brokers' `txerrs`) or timed out (`req_timeouts`).
    var errors: Int64 = 0
    /// Bytes sent to the brokers (`tx_bytes`): compressed records and the protocol around them.
    var bytesSent: Int64 = 0
    /// Records sent to the brokers, sent again ones included (`txmsgs`).
    var recordsSent: Int64 = 0

    /// Reads the figures out of librdkafka's statistics JSON; nil when it is not what librdkafka writes.
    init?(json: [UInt8]) {
        guard let parsed = try? JSONParser.parse(json), case let .object(fields) = parsed else { return nil }
        queued = Int(Self.number(fields, "msg_cnt"))
        bytesSent = Int64(Self.number(fields, "tx_bytes"))
        recordsSent = Int64(Self.number(fields, "txmsgs"))
        guard case let .object(brokers)? = fields.first(where: { $0.key == "brokers" })?.value else { return }
        var roundTrips: [Double] = []
        for case let (_, .object(broker)) in brokers {
            self.brokers += 1
            retries += Int64(Self.number(broker, "txretries"))
            errors += Int64(Self.number(broker, "txerrs") + Self.number(broker, "req_timeouts"))
            guard case .string("UP")? = broker.first(where: { $0.key == "state" })?.value else { continue }
            brokersUp += 1
            if case let .object(rtt)? = broker.first(where: { $0.key == "rtt" })?.value {
                roundTrips.append(Self.number(rtt, "avg") / 1_000_000)
            }
        }
        if !roundTrips.isEmpty { roundTripSeconds = roundTrips.reduce(0, +) / Double(roundTrips.count) }
    }

    init() {}

    private static func number(_ fields: [(key: String, value: JSONValue)], _ name: String) -> Double {
        guard case let .number(text)? = fields.first(where: { $0.key == name })?.value else { return 0 }
        return Double(text) ?? 0
    }
}
