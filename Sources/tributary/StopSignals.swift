#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM, taken as a request to stop at the next wait.
///
/// The signals are blocked and collected with sigtimedwait, which doubles as
/// the poll interval's sleep: no handler runs at an arbitrary point, and no
/// global flag is shared with one.
struct StopSignals {
    private var signals = sigset_t()

    /// Blocks SIGINT and SIGTERM for the calling thread (the only one the CLI
    /// runs), so that they wait to be collected by `wait`.
    init() {
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        // A shell starts background jobs with SIGINT ignored, and an ignored
        // signal is discarded rather than left pending for sigtimedwait.
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    /// Sleeps up to `milliseconds`; true if a stop signal arrived meanwhile.
    mutating func wait(milliseconds: Int) -> Bool {
        var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        return sigtimedwait(&signals, nil, &timeout) > 0
    }
}
