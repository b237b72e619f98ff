import Foundation
import Testing
import TributaryCore
import TributaryLog
import TributaryTestSupport
@testable import TributaryHardware

/// The Modbus source: request planning and value decoding, and the source
/// against pymodbus (an independent slave, `hardware/simulators/modbus-slave.py`)
/// on the other end of a pair of pseudo-terminals linked by socat.
@Suite(.serialized) struct ModbusTests {
    private typealias Register = ModbusSourceSettings.Register

    private static func register(_ name: String, _ address: Int, _ type: ModbusSourceSettings.DataType = .uint16,
                                 table: ModbusSourceSettings.Table = .holding,
                                 words: ModbusSourceSettings.Order = .big, bytes: ModbusSourceSettings.Order = .big,
                                 scale: Double = 1) -> Register {
        var register = Register(name: name, address: address)
        register.type = type
        register.table = table
        register.wordOrder = words
        register.byteOrder = bytes
        register.scale = scale
        return register
    }

    /// What the simulator serves from holding register 0 (see its docstring).
    private static let holding: [UInt16] = [0xFB2E, 0xC350, 0xFFFE, 0x7960, 0xB2D0, 0x5E00, 0x41AC, 0x0000,
                                            0x4093, 0x4A45, 0x6D5C, 0xFAAD, 0x0000, 0x41AC, 0xAC41, 0x0000]

    /// The register map as settings, every type and order.
    private static let map: [Register] = [
        register("i16", 0, .int16), register("u16", 1, .uint16), register("i32", 2, .int32),
        register("u32", 4, .uint32), register("f32", 6, .float32), register("f64", 8, .float64),
        register("f32_words", 12, .float32, words: .little), register("f32_bytes", 14, .float32, bytes: .little),
    ]

    @Test("every type, word order and byte order decodes; scale and offset apply")
    func decoding() {
        let values = Self.map.map { ModbusPlan.value(of: $0, words: Self.holding, start: 0) }
        #expect(values == [.int(-1234), .int(50000), .int(-100_000), .int(3_000_000_000), .double(21.5),
                           .double(1234.5678), .double(21.5), .double(21.5)])
        var scaled = Self.register("t", 0, .uint16, table: .input, scale: 0.1)
        scaled.offset = -3
        #expect(ModbusPlan.value(of: scaled, words: [230], start: 0) == .double(230 * 0.1 - 3))
    }

    @Test("requests cover contiguous runs up to max_registers; a gap or another table starts a new one")
    func planning() {
        var device = ModbusSourceSettings.Device(name: "m", slave: 1, registers: Self.map + [
            Self.register("far", 40, .uint16), Self.register("on", 0, table: .coil),
        ])
        device.maxRegisters = 10
        let requests = ModbusPlan.requests(for: device).map { "\($0.table.rawValue) \($0.address)+\($0.count)" }
        #expect(requests == ["holding 0+8", "holding 8+8", "holding 40+1", "coil 0+1"])
    }

    @Test("the n-th poll is due at start + n x interval; an overrun skips the slots it missed; at a tie, answering goes first")
    func schedule() {
        let start = ContinuousClock.now
        var schedule = PollSchedule(intervals: [.seconds(1), .seconds(1)], start: start)
        // Device 1 failed its first poll: at the next tie, device 0 goes first.
        schedule.polled(0, finishedAt: start + .milliseconds(40), failed: false)
        schedule.polled(1, finishedAt: start + .milliseconds(540), failed: true)
        #expect(schedule.next.device == 0 && schedule.next.at == start + .seconds(1))
        // Polls that take 300 ms do not push the slots: the 5th is at start + 5 s.
        for n in 1...4 {
            schedule.polled(0, finishedAt: start + .seconds(n) + .milliseconds(300), failed: false)
        }
        #expect(schedule.next.device == 1 && schedule.next.at == start + .seconds(1))
        schedule.polled(1, finishedAt: start + .milliseconds(1010), failed: false)
        #expect(schedule.next.device == 1 && schedule.next.at == start + .seconds(2))
        // A poll of device 1 finishing 2.5 s after its slot skips the two slots it overran.
        schedule.polled(1, finishedAt: start + .milliseconds(4500), failed: false)
        #expect(schedule.next.device == 0 && schedule.next.at == start + .seconds(5))
        schedule.polled(0, finishedAt: start + .milliseconds(5010), failed: false)
        #expect(schedule.next.device == 1 && schedule.next.at == start + .seconds(5))
        // Reports at the end of each interval (GPIO counters) are first due one interval in.
        let reports = PollSchedule(intervals: [.seconds(3), .seconds(2)], start: start, afterAnInterval: true)
        #expect(reports.next.device == 1 && reports.next.at == start + .seconds(2) && reports.due(0) == start + .seconds(3))
    }

    /// socat's pair of pseudo-terminals and pymodbus serving slaves 1 and 2 on one of them, and slave 4 whose
    /// answers arrive with a damaged CRC.
    private final class SimulatedBus {
        let port: String
        private let processes: [Process]

        init(_ scratch: Scratch) throws {
            port = scratch.path("bus-master")
            let slaveSide = scratch.path("bus-slave")
            let socat = Process()
            socat.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
            socat.arguments = ["pty,raw,echo=0,link=\(port)", "pty,raw,echo=0,link=\(slaveSide)"]
            try ProcessEnvironment.reading { try socat.run() }
            guard waitUntil(seconds: 10, { FileManager.default.fileExists(atPath: slaveSide) }) else {
                kill(socat.processIdentifier, SIGKILL)
                throw SocketFailure(call: "socat", errno: 0)
            }
            let slave = Process()
            slave.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            slave.arguments = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("hardware/simulators/modbus-slave.py").path, slaveSide, "--corrupt", "4"]
            slave.standardError = FileHandle.nullDevice
            try ProcessEnvironment.reading { try slave.run() }
            processes = [socat, slave]
        }

        deinit { for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    }

    @Test func slavesArePolledOnScheduleWhileAMissingOneTimesOutAndExceptionsAndBadCRCsAreCounted() async throws {
        let scratch = try Scratch()
        let bus = try SimulatedBus(scratch)
        var meter = ModbusSourceSettings.Device(name: "meter", slave: 1, registers: Self.map)
        meter.intervalMilliseconds = 200
        var sensor = ModbusSourceSettings.Device(name: "sensor", slave: 2, registers: [
            Self.register("temperature", 0, table: .input, scale: 0.1), Self.register("pump", 0, table: .coil),
            Self.register("alarm", 0, table: .discrete),
        ])
        sensor.intervalMilliseconds = 200
        var missing = ModbusSourceSettings.Device(name: "missing", slave: 3, registers: [Self.register("x", 0)])
        missing.intervalMilliseconds = 200
        var refused = ModbusSourceSettings.Device(name: "refused", slave: 2, registers: [Self.register("x", 500)])
        refused.intervalMilliseconds = 200
        var garbled = ModbusSourceSettings.Device(name: "garbled", slave: 4, registers: [Self.register("x", 0)])
        garbled.intervalMilliseconds = 200
        var settings = ModbusSourceSettings(device: bus.port, devices: [meter, sensor, missing, refused, garbled])
        settings.timeoutMilliseconds = 100
        let test = try SourceTestLog(directory: scratch.path("log"), source: "plant")
        let output = test.output
        let source = ModbusSource(name: "plant", settings: settings)
        var window: ClosedRange<Int64> = 0...0
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await source.run(output: output) }
            // Once pymodbus answers: 3 s at 5 polls a second, about 15 polls of each device that answers.
            try await eventually { output.received > 0 }
            let started = ContinuousClock.now
            let first = SystemClock.wallMilliseconds()
            try await eventually { ContinuousClock.now - started > .seconds(3) }
            window = first...SystemClock.wallMilliseconds()
            tasks.cancelAll()
        }
        let errors = output.status.deviceErrors
        #expect(errors["missing"]?["timeout", default: 0] ?? 0 >= 10 && errors["refused"]?["exception", default: 0] ?? 0 >= 10
                    && errors["garbled"]?["crc", default: 0] ?? 0 >= 10, "counted per device: \(errors)")
        #expect(errors["meter"] == nil || errors["meter"]?.keys.sorted() == ["timeout"], "\(errors)")
        let error = output.status.error ?? ""
        #expect(error.contains("missing (slave 3): Connection timed out"), "\(error)")
        #expect(error.contains("refused (slave 2): Illegal data address"), "\(error)")
        let (stored, _) = try await test.finish()
        let bySensor = Dictionary(grouping: stored.filter { window.contains($0.timestamp) }, by: \.sensor)
        #expect(bySensor["plant.meter.i32"]?.allSatisfy { $0.value == .int(-100_000) } ?? false)
        #expect(bySensor["plant.meter.f64"]?.allSatisfy { $0.value == .double(1234.5678) } ?? false)
        #expect(bySensor["plant.sensor.temperature"]?.allSatisfy { $0.value == .double(23.0) } ?? false)
        #expect(bySensor["plant.sensor.pump"]?.first?.value == .bool(true))
        #expect(bySensor["plant.sensor.alarm"]?.first?.value == .bool(false))
        // The failing devices cost the others no poll: about 15 each in 3 s, none short of 12.
        let polls = [bySensor["plant.meter.u16"]?.count ?? 0, bySensor["plant.sensor.temperature"]?.count ?? 0]
        #expect(polls.allSatisfy { $0 >= 12 }, "polls of the answering devices: \(polls)")
        let failing = ["plant.missing", "plant.refused", "plant.garbled"]
        #expect(!bySensor.keys.contains { sensor in failing.contains { sensor.hasPrefix($0) } })
    }
}
