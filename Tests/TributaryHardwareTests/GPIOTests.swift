import CTributaryShims
import Foundation
import Testing
import TributaryCore
import TributaryLog
import TributaryTestSupport
@testable import TributaryHardware

/// The GPIO source: its logic fed the kernel's binary event records through
/// a pipe here, and the ioctl path against a real kernel's gpio-sim chip
/// under `../shared/tools/hwsim.sh` (see `GPIOKernelTests`).
@Suite struct GPIOLogicTests {
    /// Events written as the kernel writes them, read back from a pipe in pieces as the source reads a line.
    private static func throughAPipe(_ events: [(milliseconds: UInt64, rising: Bool, sequence: UInt32)]) throws -> [GPIOEvent] {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SocketFailure(call: "pipe", errno: errno) }
        defer { close(ends[0]) }
        let size = Int(tributary_gpio_event_size())
        var records = [UInt8](repeating: 0, count: size * events.count)
        records.withUnsafeMutableBytes { bytes in
            for (index, event) in events.enumerated() {
                tributary_gpio_make_event(bytes.baseAddress! + index * size, event.milliseconds * 1_000_000,
                                          event.rising ? 1 : 2, 0, event.sequence)
            }
        }
        _ = records.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        close(ends[1])
        var parsed: [GPIOEvent] = []
        var buffer = [UInt8](repeating: 0, count: size * 2)
        while case let count = buffer.withUnsafeMutableBytes({ read(ends[0], $0.baseAddress, $0.count) }), count > 0 {
            parsed += buffer.withUnsafeBytes { GPIOEvent.parse(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return parsed
    }

    private static func line(_ mode: GPIOSourceSettings.Mode, edge: GPIOSourceSettings.Edge = .rising) -> GPIOSourceSettings.Line {
        var line = GPIOSourceSettings.Line(line: .offset(0), name: "rain", mode: mode)
        line.edge = edge
        return line
    }

    @Test("a counter counts its edges and reports pulses and rate each interval; a sequence gap counts lost events")
    func counter() throws {
        let events = try Self.throughAPipe([(1000, true, 1), (1010, false, 2), (1020, true, 3), (1030, false, 4),
                                            (1040, true, 7)])
        #expect(events.count == 5 && events[0] == GPIOEvent(timestamp: 1000, rising: true, sequence: 1))
        var rising = GPIOLineLogic(line: Self.line(.counter), source: "yard")
        var both = GPIOLineLogic(line: Self.line(.counter, edge: .both), source: "yard")
        for event in events {
            #expect(rising.take(event).isEmpty && both.take(event).isEmpty)
        }
        #expect(rising.tick(at: 2000, seconds: 10) == [Reading(sensor: "yard.rain.count", timestamp: 2000, value: .int(3)),
                                                        Reading(sensor: "yard.rain.rate", timestamp: 2000, value: .double(0.3))])
        #expect(both.tick(at: 2000, seconds: 10).first?.value == .int(5))
        #expect(rising.tick(at: 3000, seconds: 10).first?.value == .int(0), "counted afresh each interval")
        #expect(rising.lost == 2, "sequence 5 and 6 never arrived")
    }

    @Test("a state line reports every change at the kernel's time of the edge")
    func state() throws {
        var logic = GPIOLineLogic(line: Self.line(.state), source: "yard")
        let readings = try Self.throughAPipe([(5000, true, 1), (5250, false, 2)]).flatMap { logic.take($0) }
        #expect(readings == [Reading(sensor: "yard.rain", timestamp: 5000, value: .bool(true)),
                             Reading(sensor: "yard.rain", timestamp: 5250, value: .bool(false))])
    }
}

/// The ioctl path on a real kernel: only inside `hwsim.sh` (HWSIM=1), where
/// a gpio-sim chip labelled `tributary-sim` has 8 lines whose inputs the
/// test drives through their `pull` files. `.ci/run` runs them there.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["HWSIM"] == "1"))
struct GPIOKernelTests {
    private static let simulator = ProcessInfo.processInfo.environment["HWSIM_GPIOSIM"] ?? ""

    private static func pull(_ line: Int, up: Bool) throws {
        try Data((up ? "pull-up" : "pull-down").utf8)
            .write(to: URL(fileURLWithPath: "\(simulator)/sim_gpio\(line)/pull"))
    }

    /// Whether line `offset` of the simulated chip is requested (by the source under test).
    private static func held(_ offset: Int) -> Bool {
        let chip = open(ProcessInfo.processInfo.environment["HWSIM_GPIOCHIP"] ?? "/dev/gpiochip0", O_RDONLY)
        guard chip >= 0 else { return false }
        defer { close(chip) }
        var name = [CChar](repeating: 0, count: 32)
        var consumer = [CChar](repeating: 0, count: 32)
        var used: Int32 = 0
        return tributary_gpio_line_info(chip, UInt32(offset), &name, &used, &consumer) == 0 && used != 0
    }

    private static func line(_ offset: Int, _ name: String, _ mode: GPIOSourceSettings.Mode,
                             interval: Int64 = 60_000) -> GPIOSourceSettings.Line {
        var line = GPIOSourceSettings.Line(line: .offset(offset), name: name, mode: mode)
        line.intervalMilliseconds = interval
        return line
    }

    @Test func edgesReachTheSourceInOrderAndACounterCountsABurst() async throws {
        for line in 0...2 { try Self.pull(line, up: false) }
        let scratch = try Scratch()
        let test = try SourceTestLog(directory: scratch.path("log"), source: "yard")
        let output = test.output
        let settings = GPIOSourceSettings(chip: "tributary-sim", lines: [
            Self.line(0, "door", .state), Self.line(1, "rain", .counter, interval: 1000),
            Self.line(2, "switch", .level, interval: 500),
        ])
        let source = GPIOSource(name: "yard", settings: settings)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await source.run(output: output) }
            try await eventually { output.received > 0 }  // the level line's first sample: the lines are requested
            for up in [true, false, true, false] {
                try Self.pull(0, up: up)
                try await Task.sleep(for: .milliseconds(50))
            }
            for _ in 0..<10 {
                try Self.pull(1, up: true)
                try await Task.sleep(for: .milliseconds(10))
                try Self.pull(1, up: false)
                try await Task.sleep(for: .milliseconds(10))
            }
            try Self.pull(2, up: true)
            try await eventually(seconds: 20) { output.received >= 12 }
            try await Task.sleep(for: .seconds(2))  // the counter's next interval ends
            tasks.cancelAll()
        }
        let (stored, _) = try await test.finish()
        let door = stored.filter { $0.sensor == "yard.door" }.sorted { $0.timestamp < $1.timestamp }.map(\.value)
        #expect(door == [.bool(true), .bool(false), .bool(true), .bool(false)])
        let counted = stored.filter { $0.sensor == "yard.rain.count" }.reduce(Int64(0)) {
            if case let .int(count) = $1.value { return $0 + count } else { return $0 }
        }
        #expect(counted == 10, "ten rising edges counted")
        #expect(stored.contains { $0.sensor == "yard.switch" && $0.value == .bool(true) })
    }

    @Test func aMissingChipAMissingLineAndALineInUseAreErrorsNamingThem() async throws {
        let scratch = try Scratch()
        for (settings, words) in [
            (GPIOSourceSettings(chip: "no-such-chip", lines: [Self.line(0, "a", .state)]),
             "cannot open GPIO chip no-such-chip: No such file or directory"),
            (GPIOSourceSettings(chip: "tributary-sim", lines: [Self.line(42, "a", .state)]),
             "GPIO chip tributary-sim has no line 42 (it has 8 lines)"),
        ] {
            let test = try SourceTestLog(directory: scratch.path("log-\(words.count)"), source: "yard")
            let output = test.output
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await GPIOSource(name: "yard", settings: settings).run(output: output) }
                try await eventually { output.status.error != nil }
                #expect(output.status.error == words)
                tasks.cancelAll()
            }
            _ = try await test.finish()
        }
        // Line 3 held by another request (as another program would hold it).
        let held = try GPIOChip.request(GPIOSourceSettings(chip: "tributary-sim", lines: [Self.line(3, "held", .state)]),
                                        consumer: "someone-else")
        defer { for line in held { close(line.descriptor) } }
        #expect(throws: GPIOError.self) {
            _ = try GPIOChip.request(GPIOSourceSettings(chip: "tributary-sim", lines: [Self.line(3, "b", .state)]),
                                     consumer: "tributary")
        }
        do {
            _ = try GPIOChip.request(GPIOSourceSettings(chip: "tributary-sim", lines: [Self.line(3, "b", .state)]),
                                     consumer: "tributary")
        } catch {
            #expect("\(error)" == "line 3 of GPIO chip tributary-sim is in use by \"someone-else\"")
        }
    }

    @Test func theKernelsDebounceSwallowsABounce() async throws {
        try Self.pull(4, up: false)
        let scratch = try Scratch()
        let test = try SourceTestLog(directory: scratch.path("log"), source: "yard")
        let output = test.output
        var contact = Self.line(4, "contact", .state)
        contact.debounceMicroseconds = 200_000
        let source = GPIOSource(name: "yard", settings: GPIOSourceSettings(chip: "tributary-sim", lines: [contact]))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await source.run(output: output) }
            try await eventually { Self.held(4) }
            // A bouncing contact: five quick changes, then it rests closed.
            for up in [true, false, true, false, true] { try Self.pull(4, up: up) }
            try await eventually { output.received >= 1 }
            try await Task.sleep(for: .milliseconds(500))  // any later (bounce) event would have come by now
            tasks.cancelAll()
        }
        let (stored, _) = try await test.finish()
        #expect(stored.map(\.value) == [.bool(true)], "one change for the five bounces: \(stored.map(\.value))")
    }
}
