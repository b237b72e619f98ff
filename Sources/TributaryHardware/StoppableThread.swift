#if canImport(Glibc)
import Glibc
#endif
import TributaryCore

/// Runs a hardware source's blocking loop on a thread of its own until the
/// loop returns, giving it a descriptor that becomes readable when the
/// calling task is cancelled (the daemon stopping): the loop waits in
/// `poll()` on it beside its device, so it never busy-polls and stops at once.
enum StoppableThread {
    static func run(name: String, output: SourceOutput, _ loop: @escaping @Sendable (_ stop: Int32) -> Void) async throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SerialError.system(operation: "pipe", path: name, errno: errno) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        defer {
            close(ends[0])
            close(ends[1])
        }
        let (stopReader, stopWriter) = (ends[0], ends[1])
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                do {
                    try DedicatedThread.start(name: name) {
                        loop(stopReader)
                        done.resume()
                    }
                } catch {
                    output.reportError("\(error)")
                    done.resume()
                }
            }
        } onCancel: {
            var byte: UInt8 = 1
            _ = write(stopWriter, &byte, 1)
        }
    }

    /// Waits `milliseconds` (-1: for ever) on the loop's `stop` descriptor; true if the source is stopping.
    static func wait(_ stop: Int32, milliseconds: Int32) -> Bool {
        var watched = pollfd(fd: stop, events: Int16(POLLIN), revents: 0)
        return poll(&watched, 1, milliseconds) > 0
    }
}
