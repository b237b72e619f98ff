import Foundation
import TributaryTestSupport

/// Everything the daemon sent to the notification socket, in order, with
/// the time each datagram was read. A datagram may carry several lines.
final class NotificationLog {
    let socket: NotifySocket
    private(set) var received: [(time: ContinuousClock.Instant, line: String)] = []

    init(_ socket: NotifySocket) { self.socket = socket }

    /// Reads until a line satisfying `match` arrives; returns it, or nil after `timeout`.
    func wait(for timeout: Duration, until match: (String) -> Bool) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let datagram = await socket.receive(within: deadline - ContinuousClock.now) else { break }
            let now = ContinuousClock.now
            for line in datagram.split(separator: "\n").map(String.init) {
                received.append((now, line))
                if match(line) { return line }
            }
        }
        return nil
    }

    /// Reads for `duration` and returns how many `WATCHDOG=1` arrived meanwhile.
    func watchdogPings(during duration: Duration) async -> Int {
        let before = received.count
        _ = await wait(for: duration) { _ in false }
        return received[before...].filter { $0.line == "WATCHDOG=1" }.count
    }

    var lines: [String] { received.map(\.line) }
}
