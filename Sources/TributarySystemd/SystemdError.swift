/// What can go wrong when talking to systemd; each case names what was being sent or read.
public enum SystemdError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `sd_notify` failed to deliver `state` to the socket in `NOTIFY_SOCKET`; `errno` is positive.
    case notifyFailed(state: String, errno: Int32)
    /// `WATCHDOG_USEC` (or `WATCHDOG_PID`) holds something systemd never writes there.
    case malformedWatchdogEnvironment(usec: String?, pid: String?, errno: Int32)

    public var description: String {
        switch self {
        case let .notifyFailed(state, errno):
            let first = state.split(separator: "\n").first.map(String.init) ?? state
            return "could not notify systemd (\(first)): \(errnoName(errno)); is NOTIFY_SOCKET still a listening socket?"
        case let .malformedWatchdogEnvironment(usec, pid, errno):
            return "WATCHDOG_USEC=\(usec ?? "(unset)") WATCHDOG_PID=\(pid ?? "(unset)") is not a valid watchdog "
                + "setting (\(errnoName(errno))); expected a positive number of microseconds and this process's id"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `strerror` text for a positive errno, with the number kept for searching.
func errnoName(_ errno: Int32) -> String {
    guard let text = strerror(errno) else { return "errno \(errno)" }
    return "\(String(cString: text)) (errno \(errno))"
}
