import CRdKafka
import TributaryCore

/// The Kafka records of one delivery's batch: values in `value`'s format
/// and the offsets' text, made when the delivery is sent (on the
/// forwarder's thread), so that the producer's thread, the sink's narrow
/// point, only hands them to librdkafka with their key, the reading's time
/// as timestamp, and the identity headers.
struct RecordMaker: Sendable {
    private let batch: SinkBatch
    private let key: KafkaSinkSettings.Key
    private let device: [UInt8]
    private let topic: [UInt8]
    private let partition: [UInt8]
    private let contentType: [UInt8]
    /// Every record's value, one after another, and where each ends.
    private let values: [UInt8]
    private let valueEnds: [Int]
    /// Every record's offset as decimal text, one after another, and where each ends.
    private let offsets: [UInt8]
    private let offsetEnds: [Int]

    init(batch: SinkBatch, settings: KafkaSinkSettings) {
        self.batch = batch
        self.key = settings.key
        self.device = Array(batch.deviceID.utf8)
        self.topic = Array(batch.topic.utf8)
        self.partition = Array("\(batch.partition)".utf8)
        self.contentType = Array(settings.value.contentType.utf8)
        var values: [UInt8] = []
        var valueEnds: [Int] = []
        var offsets: [UInt8] = []
        var offsetEnds: [Int] = []
        values.reserveCapacity(batch.readings.count * 200)
        valueEnds.reserveCapacity(batch.readings.count)
        offsets.reserveCapacity(batch.readings.count * 8)
        offsetEnds.reserveCapacity(batch.readings.count)
        for stored in batch.readings {
            switch settings.value {
            case .json:
                ReadingJSON.writeLine(stored, partition: batch.partition, to: &values,
                                      origin: (device: batch.deviceID, topic: batch.topic))
            case .lineProtocol:
                ReadingLineProtocol.writeLine(stored, device: batch.deviceID, topic: batch.topic,
                                              partition: batch.partition, to: &values)
            }
            values.removeLast()  // the newline
            valueEnds.append(values.count)
            JSONValue.writeDecimal(stored.offset, to: &offsets)
            offsetEnds.append(offsets.count)
        }
        self.values = values
        self.valueEnds = valueEnds
        self.offsets = offsets
        self.offsetEnds = offsetEnds
    }

    /// The number of records.
    var count: Int { batch.readings.count }

    /// Produces record `index` to `kafkaTopic` (a topic handle of
    /// `producer`'s), with `opaque` for its delivery report; librdkafka's
    /// answer (`NO_ERROR`, `_QUEUE_FULL`, `_FATAL`...). librdkafka copies
    /// the key and value, and takes the headers when it accepts the record.
    func produce(_ index: Int, to producer: OpaquePointer, topic kafkaTopic: OpaquePointer,
                 opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        let reading = batch.readings[index].reading
        let headers = rd_kafka_headers_new(5)!
        add(headers, "device", device[...])
        add(headers, "topic", topic[...])
        add(headers, "partition", partition[...])
        add(headers, "offset", offsets[(index == 0 ? 0 : offsetEnds[index - 1])..<offsetEnds[index]])
        add(headers, "content-type", contentType[...])
        var keyText: String
        switch key {
        case .sensor: keyText = reading.sensor
        case .device: keyText = batch.deviceID
        case .none: keyText = ""
        }
        let value = values[(index == 0 ? 0 : valueEnds[index - 1])..<valueEnds[index]]
        let code = value.withUnsafeBytes { value in
            keyText.withUTF8 { key in
                tributary_kafka_produce(producer, kafkaTopic, self.key == .none ? nil : key.baseAddress,
                                        self.key == .none ? 0 : key.count, value.baseAddress, value.count,
                                        reading.timestamp, headers, opaque)
            }
        }
        // Taken by librdkafka only with the record.
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { rd_kafka_headers_destroy(headers) }
        return code
    }

    private func add(_ headers: OpaquePointer, _ name: StaticString, _ value: ArraySlice<UInt8>) {
        _ = value.withUnsafeBytes { bytes in
            rd_kafka_header_add(headers, UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self),
                                name.utf8CodeUnitCount, bytes.baseAddress, bytes.count)
        }
    }
}
