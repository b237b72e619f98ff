import CRdKafka
import TributaryCore

/// Makes the Kafka records of one delivery's batch and hands them to a
/// producer: key, value in `value`'s format, the reading's time as the
/// record's timestamp, and the identity headers.
struct RecordMaker {
    private let batch: SinkBatch
    private let key: KafkaSinkSettings.Key
    private let value: KafkaSinkSettings.Value
    private let device: [UInt8]
    private let topic: [UInt8]
    private let partition: [UInt8]
    private let contentType: [UInt8]
    /// The buffers values and offsets are made in; librdkafka copies them.
    private let scratch = Scratch()

    private final class Scratch {
        var bytes: [UInt8] = []
        var offset: [UInt8] = []
    }

    init(batch: SinkBatch, settings: KafkaSinkSettings) {
        self.batch = batch
        self.key = settings.key
        self.value = settings.value
        self.device = Array(batch.deviceID.utf8)
        self.topic = Array(batch.topic.utf8)
        self.partition = Array("\(batch.partition)".utf8)
        self.contentType = Array(settings.value.contentType.utf8)
        scratch.bytes.reserveCapacity(256)
        scratch.offset.reserveCapacity(20)
    }

    /// Produces the record of reading `index` to `kafkaTopic` (a handle of
    /// `producer`'s); librdkafka's answer.
    func produce(_ index: Int, to producer: KafkaProducer, topic kafkaTopic: OpaquePointer,
                 opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        let stored = batch.readings[index]
        scratch.bytes.removeAll(keepingCapacity: true)
        switch value {
        case .json:
            ReadingJSON.writeLine(stored, partition: batch.partition, to: &scratch.bytes,
                                  origin: (device: batch.deviceID, topic: batch.topic))
        case .lineProtocol:
            ReadingLineProtocol.writeLine(stored, device: batch.deviceID, topic: batch.topic,
                                          partition: batch.partition, to: &scratch.bytes)
        }
        scratch.bytes.removeLast()  // the newline
        let headers = rd_kafka_headers_new(5)!
        add(headers, "device", device)
        add(headers, "topic", topic)
        add(headers, "partition", partition)
        scratch.offset.removeAll(keepingCapacity: true)
        JSONValue.writeDecimal(stored.offset, to: &scratch.offset)
        add(headers, "offset", scratch.offset)
        add(headers, "content-type", contentType)
        var keyText: String
        switch key {
        case .sensor: keyText = stored.reading.sensor
        case .device: keyText = batch.deviceID
        case .none: keyText = ""
        }
        let code = scratch.bytes.withUnsafeBytes { valueBytes in
            key == .none
                ? producer.produce(topic: kafkaTopic, key: nil, value: valueBytes, timestamp: stored.reading.timestamp,
                                   headers: headers, opaque: opaque)
                : keyText.withUTF8 { keyBytes in
                    producer.produce(topic: kafkaTopic, key: UnsafeRawBufferPointer(keyBytes), value: valueBytes,
                                     timestamp: stored.reading.timestamp, headers: headers, opaque: opaque)
                }
        }
        // Taken by librdkafka only with the record.
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { rd_kafka_headers_destroy(headers) }
        return code
    }

    private func add(_ headers: OpaquePointer, _ name: StaticString, _ value: [UInt8]) {
        _ = value.withUnsafeBytes { bytes in
            rd_kafka_header_add(headers, UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self),
                                name.utf8CodeUnitCount, bytes.baseAddress, bytes.count)
        }
    }
}
