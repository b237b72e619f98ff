import Foundation
import Synchronization

/// The process's environment, shared by every test in the one test process.
///
/// setenv/unsetenv may move `environ` while another thread reads it to start
/// a child (posix_spawn, Foundation's Process) or to copy it; seen here as
/// posix_spawn failing with EFAULT. Tests that change the environment and
/// tests that start processes go through this one lock.
public enum ProcessEnvironment {
    private static let lock = Mutex(())

    /// Sets (or with nil, removes) one variable.
    public static func set(_ name: String, _ value: String?) {
        lock.withLock { _ in
            _ = value.map { setenv(name, $0, 1) } ?? unsetenv(name)
        }
    }

    /// Runs `body`, which starts a process or reads the environment, with no
    /// change to the environment in between.
    public static func reading<T>(_ body: () throws -> T) rethrows -> T {
        try lock.withLock { _ in try body() }
    }
}
