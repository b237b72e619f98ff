import TributaryCore
import TributaryLog

/// A `type = "sysfs"` source: every `interval`, reads the channels of the
/// kernel sensors its settings match (see `SysfsScanner`) and sends one
/// reading per channel, named `<source>.<device>.<channel>`, like
/// `board.cpu_thermal.temp`.
///
/// Polls keep their schedule (the n-th is due at start + n x interval, not
/// an interval after the previous one ended; a poll that overran skips the
/// ones it missed). Devices are looked for at every poll, so a sensor that
/// disappears (a 1-Wire probe unplugged, a driver unloaded) shows as the
/// source failing, with the path, until it is back. Reads run on a thread of
/// the source's own: a 1-Wire conversion takes most of a second.
public struct SysfsSource: Source {
    public let name: String
    public let settings: SysfsSourceSettings

    public init(name: String, settings: SysfsSourceSettings) {
        self.name = name
        self.settings = settings
    }

    public func run(output: SourceOutput) async throws {
        let worker = BlockingWorker(name: "sysfs-\(name)")
        try worker.start()
        defer { worker.stop() }
        let scanner = SysfsScanner(root: settings.root, devices: settings.devices)
        let interval = Duration.milliseconds(settings.intervalMilliseconds)
        let clock = ContinuousClock()
        let start = clock.now
        var due = start
        while !Task.isCancelled {
            let timestamp = SystemClock.wallMilliseconds()
            let poll = try await worker.perform { scanner.poll() }
            try await output.send(poll.values.map {
                Reading(sensor: "\(name).\($0.channel)", timestamp: timestamp, value: .double($0.value))
            })
            for input in poll.malformed {
                await output.reportMalformed(input.raw, reason: input.reason, detail: input.detail, at: timestamp)
            }
            if let error = poll.errors.first {
                output.reportError(poll.errors.count == 1 ? error : "\(error) (and \(poll.errors.count - 1) more)")
            } else {
                output.reportRecovered()
            }
            // The next poll on the schedule that is still ahead.
            let missed = Int64(((clock.now - due) / interval).rounded(.down))
            due = due + interval * Double(max(1, missed + 1))
            try await Task.sleep(until: due, clock: clock)
        }
    }
}
