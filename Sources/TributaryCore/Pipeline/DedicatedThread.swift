#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Starts blocking work (appends with fdatasync, serial reads, C library
/// loops) on a thread of its own, never on Swift's cooperative pool.
public enum DedicatedThread {
    private final class Work: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Runs `body` on a new detached thread; `name` identifies it in errors.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let work = Unmanaged.passRetained(Work(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<Work>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, work)
        guard result == 0 else {
            Unmanaged<Work>.fromOpaque(work).release()
            throw PipelineError.threadUnavailable(name: name, errno: result)
        }
        pthread_detach(thread)
    }
}
