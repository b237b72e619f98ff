import Testing
import TributaryCore
@testable import TributaryMetrics

@Suite("Prometheus exporter")
struct PrometheusExporterTests {
    private static func snapshot(received: Int64, stored: Int64, forwarded: Int64, lag: Int64) -> PipelineSnapshot {
        PipelineSnapshot(
            deviceID: "box", timestamp: 1_767_225_600_000, uptimeSeconds: 12,
            sources: [SourceStatus(name: "sim", topic: "readings", received: received, malformed: 1, refused: 2,
                                   reconnects: 3, lastReading: 1_767_225_598_000, error: "port gone",
                                   deviceErrors: ["meter-2": ["timeout": 14, "crc": 1]])],
            topics: [TopicStatus(name: "readings", partitions: [
                PartitionStatus(id: 0, startOffset: 0, durableOffset: stored, stored: stored, dropped: 0,
                                deletedSegments: 4, queueDepth: 3, diskBytes: 4096),
            ])],
            sinks: [SinkStatus(name: "up", forwarded: forwarded, failures: 0, lag: lag, linkUp: false,
                               lastUpload: 1_767_225_599_000, inFlight: 5,
                               partitions: [SinkPartitionStatus(topic: "readings", partition: 0,
                                                                acknowledgedOffset: forwarded,
                                                                committedOffset: forwarded, lag: lag)],
                               statistics: [SinkStatistic(name: "reconnects_total", value: 2, help: "Reconnections"),
                                            SinkStatistic(name: "connected", value: 1, help: "Connected")])],
            disk: DiskStatus(usedBytes: 4096, budgetBytes: 1 << 20))
    }

    private static func value(_ text: String, _ series: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.map { String($0.dropFirst(series.count + 1)) }
    }

    @Test("every figure of the snapshot appears under its name and labels")
    func exportsTheSnapshot() {
        let text = String(decoding: PrometheusExporter().render(Self.snapshot(received: 10, stored: 9, forwarded: 7,
                                                                                lag: 2)), as: UTF8.self)
        #expect(Self.value(text, #"tributary_source_readings_received_total{source="sim",topic="readings"}"#) == "10")
        #expect(Self.value(text, #"tributary_source_readings_malformed_total{source="sim",topic="readings"}"#) == "1")
        #expect(Self.value(text, #"tributary_log_readings_stored_total{topic="readings",partition="0"}"#) == "9")
        #expect(Self.value(text, #"tributary_log_queue_depth_readings{topic="readings",partition="0"}"#) == "3.0")
        #expect(Self.value(text, #"tributary_source_readings_refused_total{source="sim",topic="readings"}"#) == "2")
        #expect(Self.value(text, #"tributary_source_reconnects_total{source="sim",topic="readings"}"#) == "3")
        #expect(Self.value(text, #"tributary_source_device_errors_total{source="sim",topic="readings",device="meter-2",kind="timeout"}"#)
            == "14")
        #expect(Self.value(text, #"tributary_source_up{source="sim",topic="readings"}"#) == "0.0")
        #expect(Self.value(text, #"tributary_source_last_reading_timestamp_seconds{source="sim",topic="readings"}"#)
            == "1767225598.0")
        #expect(Self.value(text, #"tributary_log_segments_deleted_total{topic="readings",partition="0"}"#) == "4")
        #expect(Self.value(text, #"tributary_sink_deliveries_in_flight{sink="up"}"#) == "5.0")
        #expect(Self.value(text, #"tributary_sink_readings_forwarded_total{sink="up"}"#) == "7")
        #expect(Self.value(text, #"tributary_sink_reconnects_total{sink="up"}"#) == "2", "a sink's own counter")
        #expect(Self.value(text, #"tributary_sink_connected{sink="up"}"#) == "1.0", "a sink's own gauge")
        #expect(Self.value(text, #"tributary_sink_lag_readings{sink="up"}"#) == "2.0")
        #expect(Self.value(text, #"tributary_sink_link_up{sink="up"}"#) == "0.0")
        #expect(Self.value(text, #"tributary_sink_last_upload_timestamp_seconds{sink="up"}"#) == "1767225599.0")
        #expect(Self.value(text, "tributary_disk_used_bytes") == "4096.0")
        #expect(Self.value(text, "tributary_disk_budget_bytes") == "1048576.0")
        #expect(text.contains("# TYPE tributary_sink_readings_forwarded_total counter"))
        #expect(text.contains("# TYPE tributary_sink_lag_readings gauge"))
    }

    @Test("counters follow the pipeline's totals across scrapes and never go down")
    func countersFollowTotals() {
        let exporter = PrometheusExporter()
        let series = #"tributary_sink_readings_forwarded_total{sink="up"}"#
        var seen: [String?] = []
        for forwarded in [5, 12, 12, 30] as [Int64] {
            let text = String(decoding: exporter.render(Self.snapshot(received: 40, stored: 40, forwarded: forwarded,
                                                                       lag: 0)), as: UTF8.self)
            seen.append(Self.value(text, series))
        }
        #expect(seen == ["5", "12", "12", "30"])
    }
}
