#if canImport(Glibc)
import Glibc
#endif
import CModbus
import TributaryCore
import TributaryLog

/// A `type = "modbus"` source: polls Modbus RTU slaves on one serial line
/// (through libmodbus) from a thread of its own, each device on its own
/// schedule, and sends a reading per register named `SOURCE.DEVICE.NAME`.
///
/// Schedules do not drift (`PollSchedule`). Requests go one at a time (it is
/// one bus): when several are due, answering devices go before failing
/// ones. A device that stopped answering gets one try per
/// poll, no retries, so it costs the others at most a timeout now and then,
/// never a reading; it shows (with the reason: a timeout, a bad CRC, an
/// exception code) as the source failing until it answers again. Timeouts,
/// CRC errors and exception responses are counted per device.
public struct ModbusSource: Source {
    public let name: String
    public let settings: ModbusSourceSettings

    public init(name: String, settings: ModbusSourceSettings) {
        self.name = name
        self.settings = settings
    }

    public func run(output: SourceOutput) async throws {
        try await StoppableThread.run(name: "modbus-\(name)", output: output) { [self] stop in
            ModbusBus(source: self, output: output, stop: stop).run()
        }
    }
}

/// The bus as the source's thread drives it: libmodbus's context, and each device's schedule and health.
private final class ModbusBus {
    private let source: ModbusSource
    private let output: SourceOutput
    private let stop: Int32
    private var context: OpaquePointer?
    private var devices: [Polled]
    private var schedule: PollSchedule

    /// A device with its requests and state.
    private struct Polled {
        var device: ModbusSourceSettings.Device
        var requests: [ModbusPlan.Request]
        /// Why its last poll failed; nil while it answers.
        var failure: String?
    }

    init(source: ModbusSource, output: SourceOutput, stop: Int32) {
        self.source = source
        self.output = output
        self.stop = stop
        devices = source.settings.devices.map { Polled(device: $0, requests: ModbusPlan.requests(for: $0)) }
        schedule = PollSchedule(intervals: source.settings.devices.map { .milliseconds($0.intervalMilliseconds) },
                                start: .now)
    }

    deinit { if let context { modbus_free(context) } }

    /// libmodbus's EMBBADCRC, a macro Swift does not import: one past the last exception code (11).
    static let badCRC = MODBUS_ENOBASE + 12

    func run() {
        let settings = source.settings
        let port = settings.port
        guard let context = modbus_new_rtu(settings.device, Int32(port.baud), port.parity.letter, Int32(port.dataBits),
                                           Int32(port.stopBits)) else {
            output.reportError("cannot set up Modbus RTU on \(settings.device): \(String(cString: modbus_strerror(errno)))")
            return
        }
        self.context = context
        let timeout = settings.timeoutMilliseconds
        modbus_set_response_timeout(context, UInt32(timeout / 1000), UInt32(timeout % 1000 * 1000))
        while !connect() {
            if wait(until: .now + .seconds(1)) { return }
        }
        while true {
            let next = schedule.next
            if wait(until: next.at) { return }
            poll(next.device)
            schedule.polled(next.device, finishedAt: .now, failed: devices[next.device].failure != nil)
            report()
        }
    }

    /// Opens the port; false (reported) when it cannot.
    private func connect() -> Bool {
        guard modbus_connect(context) == 0 else {
            output.reportError("cannot open \(source.settings.device): \(String(cString: modbus_strerror(errno)))")
            return false
        }
        return true
    }

    /// Reads every request of device `index` and sends its readings, or records why it could not.
    private func poll(_ index: Int) {
        let timestamp = SystemClock.wallMilliseconds()
        let device = devices[index].device
        modbus_set_slave(context, Int32(device.slave))
        let attempts = devices[index].failure == nil ? 1 + source.settings.retries : 1
        var readings: [Reading] = []
        for request in devices[index].requests {
            var words: [UInt16]?
            var code: Int32 = 0
            for _ in 0..<attempts {
                words = read(request)
                if words != nil { break }
                code = errno
                // An exception is the device's answer: asking again would get the same.
                if code >= MODBUS_ENOBASE + 1, code <= MODBUS_ENOBASE + 11 { break }
            }
            guard let words else {
                fail(index, code: code, request: request)
                if code == EIO || code == ENODEV || code == EBADF { reconnect() }
                return
            }
            for register in request.registers {
                readings.append(Reading(sensor: "\(source.name).\(device.name).\(register.name)", timestamp: timestamp,
                                        value: ModbusPlan.value(of: register, words: words, start: request.address)))
            }
        }
        devices[index].failure = nil
        try? output.handOver(readings)
    }

    /// One request's registers (or bits, as 0 and 1); nil with errno set when it failed.
    private func read(_ request: ModbusPlan.Request) -> [UInt16]? {
        let address = Int32(request.address)
        let count = Int32(request.count)
        var read: Int32
        var words = [UInt16](repeating: 0, count: request.count)
        switch request.table {
        case .holding: read = modbus_read_registers(context, address, count, &words)
        case .input: read = modbus_read_input_registers(context, address, count, &words)
        case .coil, .discrete:
            var bits = [UInt8](repeating: 0, count: request.count)
            read = request.table == .coil ? modbus_read_bits(context, address, count, &bits)
                : modbus_read_input_bits(context, address, count, &bits)
            words = bits.map(UInt16.init)
        }
        return read == count ? words : nil
    }

    /// Counts the failure of device `index` by kind and keeps its reason.
    private func fail(_ index: Int, code: Int32, request: ModbusPlan.Request) {
        let device = devices[index].device
        let kind = code == ETIMEDOUT ? "timeout" : code == ModbusBus.badCRC ? "crc"
            : code >= MODBUS_ENOBASE + 1 && code <= MODBUS_ENOBASE + 11 ? "exception" : "other"
        output.countDeviceError(device: device.name, kind: kind)
        devices[index].failure = "\(device.name) (slave \(device.slave)): \(String(cString: modbus_strerror(code))) "
            + "reading \(request.count) \(request.table.rawValue) from \(request.address)"
    }

    /// The port went away: closes it and opens it again (every second) until it is back or the source stops.
    private func reconnect() {
        modbus_close(context)
        output.reportReconnect()
        while !connect() {
            if wait(until: .now + .seconds(1)) { return }
        }
    }

    /// Shows the failing devices, or that every device answers.
    private func report() {
        let failing = devices.compactMap(\.failure)
        if failing.isEmpty {
            output.reportRecovered()
        } else {
            output.reportError(failing.joined(separator: "; "))
        }
    }

    /// Waits until `instant`; true if the source is stopping.
    private func wait(until instant: ContinuousClock.Instant) -> Bool {
        let left = ContinuousClock.now.duration(to: instant)
        return StoppableThread.wait(stop, milliseconds: max(0, Int32(min(left, .seconds(3600)) / .milliseconds(1))))
    }
}
