import Foundation
import TributaryTestSupport

/// Everything the daemon sent to the notification socket, in order, with
/// the time each datagram was read. A datagram may carry several lines.
final class NotificationLog {
    let socket: NotifySocket
    private(set) var received: [(time: ContinuousClock.Instant, line: String)] = []

    init(_ socket: NotifySocket) { self.socket = socket }

    /// Reads until a line satisfying `match` arrives; returns it, or nil after `timeout`.
    /// Whatever is queued is always read before giving up, so a test task that
    /// other tests kept from running past its deadline still sees what came.
    func wait(for timeout: Duration, until match: (String) -> Bool) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            while let datagram = socket.receiveNow() {
                let now = ContinuousClock.now
                for line in datagram.split(separator: "\n").map(String.init) {
                    received.append((now, line))
                    if match(line) { return line }
                }
            }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Reads for `duration` and returns how many `WATCHDOG=1` arrived meanwhile.
    func watchdogPings(during duration: Duration) async -> Int {
        let before = received.count
        _ = await wait(for: duration) { _ in false }
        return received[before...].filter { $0.line == "WATCHDOG=1" }.count
    }

    var lines: [String] { received.map(\.line) }
}
