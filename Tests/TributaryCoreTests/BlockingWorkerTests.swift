import Dispatch
import Synchronization
import Testing
@testable import TributaryCore

@Suite("Blocking worker")
struct BlockingWorkerTests {
    @Test("jobs run one after another in the order they were submitted, and return their results")
    func runsInOrder() async throws {
        let worker = BlockingWorker(name: "test-order")
        try worker.start()
        defer { worker.stop() }
        let seen = Mutex<[Int]>([])
        for index in 0..<20 {
            let result = try await worker.perform { seen.withLock { $0.append(index) }; return index * 2 }
            #expect(result == index * 2)
        }
        #expect(seen.withLock { $0 } == Array(0..<20))
    }

    @Test("a cancelled caller returns at once while its blocked job runs on; the worker then goes on")
    func cancellationDoesNotWaitForTheJob() async throws {
        let worker = BlockingWorker(name: "test-cancel")
        try worker.start()
        defer { worker.stop() }
        let release = DispatchSemaphore(value: 0)
        // Were cancellation to wait for the job, this lets the test end (and fail) instead of hanging.
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { release.signal() }
        let started = Atomic(false)
        let waiting = Task {
            try await worker.perform {
                started.store(true, ordering: .releasing)
                release.wait()
                return 1
            }
        }
        while !started.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(5)) }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        release.signal()
        #expect(try await worker.perform { 2 } == 2, "the next job runs once the blocked one returns")
    }

    @Test("after stop, new jobs are refused with an error naming the worker")
    func stoppedWorkerRefuses() async throws {
        let worker = BlockingWorker(name: "test-stop")
        try worker.start()
        worker.stop()
        await #expect(throws: PipelineError.workerStopped(name: "test-stop")) { try await worker.perform { 1 } }
    }

    @Test("a job's error reaches the caller")
    func errorsReachTheCaller() async throws {
        struct Failed: Error, Equatable {}
        let worker = BlockingWorker(name: "test-error")
        try worker.start()
        defer { worker.stop() }
        await #expect(throws: Failed()) { try await worker.perform { () throws -> Int in throw Failed() } }
    }
}
