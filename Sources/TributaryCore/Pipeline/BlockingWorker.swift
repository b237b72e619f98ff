import Dispatch
import Synchronization

/// A thread of its own that runs blocking calls (reads of the log, commits
/// with fdatasync, writes to a pipe) one after another for async code, so
/// they never block Swift's cooperative pool.
///
/// Thread-safe. Whoever starts the thread (`start`) stops it (`stop`). Jobs
/// run in the order they were submitted; jobs submitted before `start` wait
/// for it. After `stop`, the jobs already queued still run, new ones are
/// refused, and the thread ends.
public final class BlockingWorker: Sendable {
    private let name: String
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var stopped = false
    }

    /// A worker whose thread is not started yet; `name` identifies it in errors.
    public init(name: String) {
        self.name = name
    }

    /// Starts the thread.
    public func start() throws {
        try DedicatedThread.start(name: name) { [self] in run() }
    }

    /// Queues `job` to run on the worker's thread without waiting for it.
    /// - Returns: false, and `job` does not run, once `stop` was called.
    @discardableResult
    public func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.jobs.append(job)
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    /// Runs `body` on the worker's thread and returns its result.
    ///
    /// If the calling task is cancelled before `body` finishes, this returns
    /// at once with `CancellationError` and `body` still runs to its end on
    /// the thread, its result dropped: a blocking call cannot be interrupted,
    /// but the task waiting for it need not hang with it (a sink wedged in
    /// write(2) must not keep the daemon from stopping).
    /// - Throws: what `body` throws, `CancellationError`, or
    ///   `PipelineError.workerStopped` after `stop`.
    public func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let once = Mutex<CheckedContinuation<T, Error>?>(nil)
        // The first of the job's result and the cancellation resumes the caller.
        let finish: @Sendable (Result<T, Error>) -> Void = { result in
            once.withLock { pending in
                defer { pending = nil }
                return pending
            }?.resume(with: result)
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                once.withLock { $0 = continuation }
                if Task.isCancelled { return finish(.failure(CancellationError())) }
                if !submit({ finish(Result { try body() }) }) {
                    finish(.failure(PipelineError.workerStopped(name: name)))
                }
            }
        } onCancel: {
            finish(.failure(CancellationError()))
        }
    }

    /// Lets the queued jobs finish, then ends the thread.
    public func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    private func run() {
        while true {
            wake.wait()
            let (jobs, stopped) = state.withLock { state in
                defer { state.jobs.removeAll() }
                return (state.jobs, state.stopped)
            }
            for job in jobs { job() }
            if stopped && jobs.isEmpty { return }
            if stopped { wake.signal() }
        }
    }
}
