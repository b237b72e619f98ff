#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CRdKafka

/// `tributary-bench kafka-mock --brokers N`: librdkafka's mock Kafka cluster
/// (`rdkafka_mock.h`, a real Kafka protocol endpoint on 127.0.0.1) for the
/// tests and benchmarks, Debian having no Kafka broker.
///
/// Prints `bootstrap HOST:PORT,...` once the brokers listen, then takes one
/// command a line on standard input and answers each with `ok` or
/// `error: ...` (so a test knows the fault is in place before it goes on):
///
///     topic NAME PARTITIONS REPLICAS   create a topic
///     down BROKER | up BROKER          a broker stops answering, or answers again
///     leader TOPIC PARTITION BROKER    move a partition's leadership (-1: none)
///     rtt BROKER MILLISECONDS          delay a broker's answers
///     errors API CODE...               the next requests of API (0: Produce) fail with these codes
///     topicerror TOPIC CODE            metadata answers this error for the topic (0: none)
///     quit                             (or end of input) stop the cluster and exit
final class KafkaMockCluster {
    /// `host:port,...` of the brokers.
    let bootstrap: String
    private let handle: OpaquePointer
    private let cluster: OpaquePointer

    /// Starts `brokers` brokers on 127.0.0.1 (the benchmarks host one in their own process).
    init(brokers: Int) {
        let conf = rd_kafka_conf_new()
        var error = [CChar](repeating: 0, count: 512)
        // Errors only: the hosting client has no bootstrap servers and would say so.
        guard rd_kafka_conf_set(conf, "log_level", "3", &error, error.count) == RD_KAFKA_CONF_OK else {
            fail("log_level: \(Self.text(error))")
        }
        // The mock cluster lives in a client instance; this one only hosts it.
        guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &error, error.count) else {
            fail("rd_kafka_new: \(Self.text(error))")
        }
        guard let cluster = rd_kafka_mock_cluster_new(handle, Int32(brokers)) else {
            fail("rd_kafka_mock_cluster_new failed")
        }
        self.handle = handle
        self.cluster = cluster
        self.bootstrap = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(handle)
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The helper: the cluster driven by commands on standard input.
    static func run(brokers: Int) throws {
        let mock = KafkaMockCluster(brokers: brokers)
        say("bootstrap \(mock.bootstrap)")
        while let line = readLine() {
            let words = line.split(separator: " ").map(String.init)
            guard let command = words.first else { continue }
            if command == "quit" { break }
            say(mock.perform(command, Array(words.dropFirst())))
        }
    }

    /// Runs one command (as the helper reads them); `ok` or `error: ...`.
    func perform(_ command: String, _ arguments: [String]) -> String {
        let numbers = arguments.map { Int32($0) }
        let code: rd_kafka_resp_err_t
        switch (command, numbers.count) {
        case ("topic", 3) where numbers[1] != nil && numbers[2] != nil:
            code = rd_kafka_mock_topic_create(cluster, arguments[0], numbers[1]!, numbers[2]!)
        case ("down", 1) where numbers[0] != nil:
            code = rd_kafka_mock_broker_set_down(cluster, numbers[0]!)
        case ("up", 1) where numbers[0] != nil:
            code = rd_kafka_mock_broker_set_up(cluster, numbers[0]!)
        case ("leader", 3) where numbers[1] != nil && numbers[2] != nil:
            code = rd_kafka_mock_partition_set_leader(cluster, arguments[0], numbers[1]!, numbers[2]!)
        case ("rtt", 2) where numbers[0] != nil && numbers[1] != nil:
            code = rd_kafka_mock_broker_set_rtt(cluster, numbers[0]!, numbers[1]!)
        case ("topicerror", 2) where numbers[1] != nil:
            rd_kafka_mock_topic_set_error(cluster, arguments[0], rd_kafka_resp_err_t(rawValue: numbers[1]!))
            code = RD_KAFKA_RESP_ERR_NO_ERROR
        case ("errors", _) where numbers.count >= 2 && !numbers.contains(nil):
            let errors = numbers.dropFirst().map { rd_kafka_resp_err_t(rawValue: $0!) }
            rd_kafka_mock_push_request_errors_array(cluster, Int16(numbers[0]!), errors.count, errors)
            code = RD_KAFKA_RESP_ERR_NO_ERROR
        default:
            return "error: unknown command or arguments: \(([command] + arguments).joined(separator: " "))"
        }
        return code == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok" : "error: \(String(cString: rd_kafka_err2str(code)))"
    }
}
