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
        var parts = ["\(grouped(Int64(rate.rounded()))) readings/s",
                     "stored \(grouped(current.topics.reduce(0) { $0 + $1.stored }))"]
        if !current.sinks.isEmpty {
            parts.append("backlog \(grouped(current.sinks.reduce(0) { $0 + $1.lag }))")
            let down = current.sinks.filter { !$0.linkUp }.map(\.name)
            if !down.isEmpty { parts.append("link down: " + down.joined(separator: ", ")) }
        }
        let dropped = current.topics.reduce(0) { $0 + $1.dropped }
        if dropped > 0 { parts.append("dropped \(grouped(dropped))") }
        let malformed = current.sources.reduce(0) { $0 + $1.malformed }
        if malformed > 0 { parts.append("malformed \(grouped(malformed))") }
        var disk = "disk \(bytes(current.disk.usedBytes))"
        if let budget = current.disk.budgetBytes { disk += " of \(bytes(budget))" }
        parts.append(disk)
        return parts.joined(separator: ", ")
    }

    /// 1234567 as "1,234,567".
    static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }

    /// 1288490 as "1.2 MiB".
    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1024 && unit < units.count - 1 {
            amount /= 1024
            unit += 1
        }
        if unit == 0 { return "\(value) B" }
        return "\((amount * 10).rounded() / 10) \(units[unit])"
    }
}
