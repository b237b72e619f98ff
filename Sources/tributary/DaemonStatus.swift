import TributaryCore
import TributarySystemd

/// The pipeline's components as the watchdog judges them: each partition
/// writer (readings stored vs. its queue) and each forwarder (deliveries
/// tried vs. its lag). A forwarder whose upstream is down still counts as
/// progressing while it keeps trying; only one stuck in a call does not.
enum WatchdogProbe {
    static func progress(of snapshot: PipelineSnapshot) -> [ComponentProgress] {
        var components: [ComponentProgress] = []
        for topic in snapshot.topics {
            for partition in topic.partitions {
                components.append(ComponentProgress(
                    component: "writer \(topic.name)-\(partition.id)", completed: UInt64(max(0, partition.stored)),
                    backlog: UInt64(max(0, partition.queueDepth))))
            }
        }
        for sink in snapshot.sinks {
            components.append(ComponentProgress(
                component: "forwarder \(sink.name)", completed: UInt64(max(0, sink.forwarded + sink.failures)),
                backlog: UInt64(max(0, sink.lag))))
        }
        return components
    }
}

/// Keeps systemd's `STATUS=` line (and the demo's progress line) current.
struct StatusReporter {
    let notifier: SystemdNotifier
    let interval: Duration
    /// Called with the current and the previous snapshot.
    let onStatus: (@Sendable (PipelineSnapshot, PipelineSnapshot) -> Void)?

    func run(snapshot: @Sendable () -> PipelineSnapshot) async {
        var previous = snapshot()
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            let current = snapshot()
            try? notifier.status(StatusText.line(current, previous: previous))
            onStatus?(current, previous)
            previous = current
        }
    }
}

/// Short human summaries of a snapshot.
enum StatusText {
    /// One line: "1,000 readings/s, stored 12,345, backlog 0, disk 1.2 MiB of 1.0 GiB".
    static func line(_ current: PipelineSnapshot, previous: PipelineSnapshot) -> String {
        let received = current.sources.reduce(0) { $0 + $1.received }
        let before = previous.sources.reduce(0) { $0 + $1.received }
        let seconds = max(current.uptimeSeconds - previous.uptimeSeconds, 0.001)
        let rate = Double(received - before) / seconds
        var parts = ["\(HumanText.grouped(Int64(rate.rounded()))) readings/s",
                     "stored \(HumanText.grouped(current.topics.reduce(0) { $0 + $1.stored }))"]
        if !current.sinks.isEmpty {
            parts.append("backlog \(HumanText.grouped(current.sinks.reduce(0) { $0 + $1.lag }))")
            let down = current.sinks.filter { !$0.linkUp }.map(\.name)
            if !down.isEmpty { parts.append("link down: " + down.joined(separator: ", ")) }
        }
        let dropped = current.topics.reduce(0) { $0 + $1.dropped }
        if dropped > 0 { parts.append("dropped \(HumanText.grouped(dropped))") }
        let malformed = current.sources.reduce(0) { $0 + $1.malformed }
        if malformed > 0 { parts.append("malformed \(HumanText.grouped(malformed))") }
        var disk = "disk \(HumanText.bytes(current.disk.usedBytes))"
        if let budget = current.disk.budgetBytes { disk += " of \(HumanText.bytes(budget))" }
        parts.append(disk)
        return parts.joined(separator: ", ")
    }
}
