import Prometheus
import Synchronization
import TributaryCore

/// Turns pipeline snapshots into Prometheus text.
///
/// The pipeline keeps its own totals (the log counts what it stores and
/// drops, the forwarders what they deliver); at each scrape the exporter
/// moves its counters up to those totals and sets its gauges, so a counter
/// never goes down while the daemon runs.
final class PrometheusExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// What each counter, by name and labels, was last moved to.
    private let exported = Mutex<[String: Int64]>([:])
    /// One scrape at a time, so concurrent scrapes cannot interleave updates.
    private let scrape = Mutex(())

    func render(_ snapshot: PipelineSnapshot) -> [UInt8] {
        scrape.withLock { _ in
            update(snapshot)
            return registry.emitToBuffer()
        }
    }

    private func update(_ snapshot: PipelineSnapshot) {
        for source in snapshot.sources {
            let labels = [("source", source.name), ("topic", source.topic)]
            counter("tributary_source_readings_received_total", labels, source.received,
                    "Readings a source handed to the log")
            counter("tributary_source_readings_malformed_total", labels, source.malformed,
                    "Inputs a source could not turn into readings")
            for (reason, count) in source.malformedByReason {
                counter("tributary_source_malformed_by_reason_total", labels + [("reason", reason)], count,
                        "Inputs a source could not turn into readings, by reason")
            }
            counter("tributary_source_readings_refused_total", labels, source.refused,
                    "Readings the log did not take from a source (the daemon was stopping)")
            counter("tributary_source_reconnects_total", labels, source.reconnects,
                    "Reconnections of a source to its device or broker")
            for (device, kinds) in source.deviceErrors {
                for (kind, count) in kinds {
                    counter("tributary_source_device_errors_total", labels + [("device", device), ("kind", kind)], count,
                            "Errors of a device behind a source (timeout, crc, exception), by device and kind")
                }
            }
            gauge("tributary_source_up", labels, source.error == nil ? 1 : 0,
                  "1 while the source reads, 0 while it reports an error or has stopped")
            gauge("tributary_source_last_reading_timestamp_seconds", labels,
                  source.lastReading.map { Double($0) / 1000 } ?? 0,
                  "When the log last took a reading from the source (0: never since start)")
        }
        for topic in snapshot.topics {
            for partition in topic.partitions {
                let labels = [("topic", topic.name), ("partition", "\(partition.id)")]
                counter("tributary_log_readings_stored_total", labels, partition.stored,
                        "Readings made durable in the log")
                counter("tributary_log_readings_dropped_total", labels, partition.dropped,
                        "Readings lost to retention before every sink had them, refused, or lost to failed writes")
                counter("tributary_log_segments_deleted_total", labels, partition.deletedSegments,
                        "Segments deleted by retention or the disk budget")
                gauge("tributary_log_queue_depth_readings", labels, Double(partition.queueDepth),
                      "Readings waiting in the partition writer's queue")
                gauge("tributary_log_durable_offset", labels, Double(partition.durableOffset),
                      "Offset below which readings are durable")
                gauge("tributary_log_partition_bytes", labels, Double(partition.diskBytes),
                      "Bytes the partition takes on disk")
            }
        }
        for sink in snapshot.sinks {
            let labels = [("sink", sink.name)]
            counter("tributary_sink_readings_forwarded_total", labels, sink.forwarded,
                    "Readings the upstream acknowledged")
            counter("tributary_sink_delivery_failures_total", labels, sink.failures,
                    "Deliveries that failed and will be retried")
            gauge("tributary_sink_link_up", labels, sink.linkUp ? 1 : 0,
                  "1 if the last delivery succeeded, else 0")
            gauge("tributary_sink_last_upload_timestamp_seconds", labels,
                  sink.lastUpload.map { Double($0) / 1000 } ?? 0,
                  "When the upstream last acknowledged a delivery (0: never since start)")
            gauge("tributary_sink_lag_readings", labels, Double(sink.lag),
                  "Durable readings the upstream has not acknowledged yet")
            gauge("tributary_sink_deliveries_in_flight", labels, Double(sink.inFlight),
                  "Deliveries sent to the upstream and not yet acknowledged or failed")
            gauge("tributary_sink_backfill_lag_readings", labels, Double(sink.backfillLag),
                  "Backlog readings not acknowledged yet while live readings go out ahead of them")
            for statistic in sink.statistics {
                let name = "tributary_sink_" + statistic.name
                if statistic.isCounter {
                    counter(name, labels, Int64(statistic.value), statistic.help)
                } else {
                    gauge(name, labels, statistic.value, statistic.help)
                }
            }
            for partition in sink.partitions {
                gauge("tributary_sink_partition_lag_readings",
                      [("sink", sink.name), ("topic", partition.topic), ("partition", "\(partition.partition)")],
                      Double(partition.lag), "Durable readings of the partition not acknowledged yet")
            }
        }
        gauge("tributary_disk_used_bytes", [], Double(snapshot.disk.usedBytes), "Bytes the log takes on disk")
        if let budget = snapshot.disk.budgetBytes {
            gauge("tributary_disk_budget_bytes", [], Double(budget), "The log's disk budget")
        }
        gauge("tributary_uptime_seconds", [], snapshot.uptimeSeconds, "Seconds since the daemon started")
    }

    private func counter(_ name: String, _ labels: [(String, String)], _ total: Int64, _ help: String) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = exported.withLock { exported -> Int64 in
            let previous = exported[key] ?? 0
            guard total > previous else { return 0 }
            exported[key] = total
            return total - previous
        }
        let counter = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help),
                                           labels: labels)
        if delta > 0 { counter.increment(by: delta) }
    }

    private func gauge(_ name: String, _ labels: [(String, String)], _ value: Double, _ help: String) {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
            .set(value)
    }
}
