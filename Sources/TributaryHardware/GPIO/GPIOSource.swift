#if canImport(Glibc)
import Glibc
#endif
import CTributaryShims
import TributaryCore
import TributaryLog

/// A `type = "gpio"` source: requests its lines from a GPIO chip through the
/// Linux character device's v2 uAPI (edge detection, bias and debounce done
/// by the kernel, events stamped with the kernel's realtime clock) and waits
/// in `poll()` for their events on a thread of its own: a counter adds up
/// pulses and reports them every interval, a state line reports every
/// change at the time of its edge, a level line is sampled every interval.
///
/// Events are read in batches, at most 10 a second (`gatherMilliseconds`):
/// a 50 Hz anemometer wakes the source 10 times a second, not 50. The
/// kernel keeps up to 1024 events a line in between; a counter's pulses are
/// counted in the interval in which they are read, so a pulse just before
/// an interval's end may count in the next.
///
/// A chip or line that is missing, or a line another program holds, is an
/// error naming the chip and the line (and the holder); the source tries
/// again every 5 seconds.
public struct GPIOSource: Source {
    public let name: String
    public let settings: GPIOSourceSettings

    public init(name: String, settings: GPIOSourceSettings) {
        self.name = name
        self.settings = settings
    }

    static let retryMilliseconds: Int32 = 5_000
    /// How long events gather after the first one wakes the source.
    static let gatherMilliseconds: Int32 = 100

    public func run(output: SourceOutput) async throws {
        try await StoppableThread.run(name: "gpio-\(name)", output: output) { [self] stop in
            while true {
                do {
                    let lines = try GPIOChip.request(settings, consumer: "tributary-\(name)")
                    output.reportRecovered()
                    watch(lines, output: output, stop: stop)
                    for line in lines { close(line.descriptor) }
                    return
                } catch {
                    output.reportError("\(error)")
                }
                if StoppableThread.wait(stop, milliseconds: Self.retryMilliseconds) { return }
            }
        }
    }

    /// Reads the lines' events and keeps their intervals until `stop` is readable.
    private func watch(_ lines: [GPIOChip.RequestedLine], output: SourceOutput, stop: Int32) {
        var logic = lines.map { GPIOLineLogic(line: $0.line, source: name) }
        // Counters and level lines report at the end of each interval; state lines at each change.
        let timed = lines.indices.filter { lines[$0].line.mode != .state }
        var schedule = PollSchedule(intervals: timed.map { .milliseconds(lines[$0].line.intervalMilliseconds) },
                                    start: .now, afterAnInterval: true)
        var watched = lines.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
            + [pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
        let recordSize = Int(tributary_gpio_event_size())
        var buffer = [UInt8](repeating: 0, count: recordSize * 1024)
        while true {
            let wait = timed.isEmpty ? -1
                : Int32(max(0, min(ContinuousClock.now.duration(to: schedule.next.at), .seconds(3600)) / .milliseconds(1)))
            guard poll(&watched, nfds_t(watched.count), wait) >= 0 || errno == EINTR else {
                output.reportError("cannot wait for GPIO events: \(String(cString: strerror(errno)))")
                return
            }
            if watched[lines.count].revents != 0 { return }
            if lines.indices.contains(where: { watched[$0].revents != 0 }),
               StoppableThread.wait(stop, milliseconds: Self.gatherMilliseconds) {
                return
            }
            var readings: [Reading] = []
            for index in lines.indices where watched[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(lines[index].descriptor, $0.baseAddress, $0.count) }
                guard count > 0 else { continue }
                let events = buffer.withUnsafeBytes { GPIOEvent.parse(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                let lost = logic[index].lost
                for event in events { readings += logic[index].take(event) }
                // The kernel's event buffer overflowed: edges it dropped, by the gap in sequence numbers.
                if logic[index].lost > lost {
                    output.countDeviceError(device: lines[index].line.name, kind: "lost-events",
                                            count: logic[index].lost - lost)
                }
            }
            let now = SystemClock.wallMilliseconds()
            for (slot, index) in timed.enumerated() where ContinuousClock.now >= schedule.due(slot) {
                if lines[index].line.mode == .level {
                    let value = tributary_gpio_value(lines[index].descriptor)
                    if value >= 0 { readings.append(Reading(sensor: logic[index].sensor, timestamp: now, value: .bool(value == 1))) }
                } else {
                    readings += logic[index].tick(at: now, seconds: Double(lines[index].line.intervalMilliseconds) / 1000)
                }
                schedule.polled(slot, finishedAt: .now, failed: false)
            }
            if !readings.isEmpty {
                do { try output.handOver(readings) } catch { return }
            }
        }
    }
}

/// A GPIO chip found by label, name or path, and its lines requested.
enum GPIOChip {
    struct RequestedLine {
        var line: GPIOSourceSettings.Line
        var descriptor: Int32
    }

    /// Opens the settings' chip and requests every line; closes all on failure.
    static func request(_ settings: GPIOSourceSettings, consumer: String) throws -> [RequestedLine] {
        let (chip, label) = try open(settings.chip)
        defer { close(chip) }
        var requested: [RequestedLine] = []
        do {
            for line in settings.lines {
                let offset = try resolve(line.line, chip: chip, label: label)
                var flags = UInt64(TRIBUTARY_GPIO_INPUT | TRIBUTARY_GPIO_EVENT_CLOCK_REALTIME)
                switch line.mode {
                case .state: flags |= UInt64(TRIBUTARY_GPIO_EDGE_RISING | TRIBUTARY_GPIO_EDGE_FALLING)
                case .counter:
                    flags |= UInt64(line.edge == .falling ? TRIBUTARY_GPIO_EDGE_FALLING
                        : line.edge == .rising ? TRIBUTARY_GPIO_EDGE_RISING
                        : TRIBUTARY_GPIO_EDGE_RISING | TRIBUTARY_GPIO_EDGE_FALLING)
                case .level: break
                }
                switch line.bias {
                case .pullUp: flags |= UInt64(TRIBUTARY_GPIO_BIAS_PULL_UP)
                case .pullDown: flags |= UInt64(TRIBUTARY_GPIO_BIAS_PULL_DOWN)
                case .disabled: flags |= UInt64(TRIBUTARY_GPIO_BIAS_DISABLED)
                case nil: break
                }
                if line.activeLow { flags |= UInt64(TRIBUTARY_GPIO_ACTIVE_LOW) }
                let descriptor = tributary_gpio_request(chip, UInt32(offset), flags, line.debounceMicroseconds, consumer)
                guard descriptor >= 0 else {
                    let code = errno
                    if code == EBUSY, let holder = holder(chip: chip, offset: offset) {
                        throw GPIOError.busy(chip: label, line: line.line, holder: holder)
                    }
                    throw GPIOError.request(chip: label, line: line.line, errno: code)
                }
                requested.append(RequestedLine(line: line, descriptor: descriptor))
            }
        } catch {
            for line in requested { close(line.descriptor) }
            throw error
        }
        return requested
    }

    /// The chip's descriptor and label.
    private static func open(_ chip: String) throws -> (Int32, String) {
        if chip.hasPrefix("/") || chip.hasPrefix("gpiochip") {
            let path = chip.hasPrefix("/") ? chip : "/dev/" + chip
            let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw GPIOError.chip(chip: chip, errno: errno) }
            return (descriptor, chip)
        }
        // A label: the chip among /dev/gpiochip* that has it.
        for name in directoryEntries("/dev") where name.hasPrefix("gpiochip") {
            let descriptor = Glibc.open("/dev/" + name, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            var label = [CChar](repeating: 0, count: 32)
            var lines: UInt32 = 0
            if tributary_gpio_chip_info(descriptor, &label, &lines) == 0, text(label) == chip {
                return (descriptor, chip)
            }
            close(descriptor)
        }
        throw GPIOError.chip(chip: chip, errno: ENOENT)
    }

    /// A line's offset, from its number or its name.
    private static func resolve(_ id: GPIOSourceSettings.LineID, chip: Int32, label: String) throws -> Int {
        var chipLabel = [CChar](repeating: 0, count: 32)
        var count: UInt32 = 0
        guard tributary_gpio_chip_info(chip, &chipLabel, &count) == 0 else {
            throw GPIOError.request(chip: label, line: id, errno: errno)
        }
        switch id {
        case let .offset(offset):
            guard offset < count else { throw GPIOError.missingLine(chip: label, line: id, lines: Int(count)) }
            return offset
        case let .name(wanted):
            for offset in 0..<count {
                var name = [CChar](repeating: 0, count: 32)
                var consumer = [CChar](repeating: 0, count: 32)
                var used: Int32 = 0
                if tributary_gpio_line_info(chip, offset, &name, &used, &consumer) == 0, text(name) == wanted {
                    return Int(offset)
                }
            }
            throw GPIOError.missingLine(chip: label, line: id, lines: Int(count))
        }
    }

    /// Who holds line `offset`, as the kernel names its consumer.
    private static func holder(chip: Int32, offset: Int) -> String? {
        var name = [CChar](repeating: 0, count: 32)
        var consumer = [CChar](repeating: 0, count: 32)
        var used: Int32 = 0
        guard tributary_gpio_line_info(chip, UInt32(offset), &name, &used, &consumer) == 0, used != 0 else { return nil }
        let holder = text(consumer)
        return holder.isEmpty ? "another program" : "\"\(holder)\""
    }
}

/// Why GPIO lines cannot be read.
enum GPIOError: Error, CustomStringConvertible {
    case chip(chip: String, errno: Int32)
    case missingLine(chip: String, line: GPIOSourceSettings.LineID, lines: Int)
    case busy(chip: String, line: GPIOSourceSettings.LineID, holder: String)
    case request(chip: String, line: GPIOSourceSettings.LineID, errno: Int32)

    var description: String {
        switch self {
        case let .chip(chip, code): "cannot open GPIO chip \(chip): \(String(cString: strerror(code)))"
        case let .missingLine(chip, line, lines): "GPIO chip \(chip) has no \(line) (it has \(lines) lines)"
        case let .busy(chip, line, holder): "\(line) of GPIO chip \(chip) is in use by \(holder)"
        case let .request(chip, line, code): "cannot request \(line) of GPIO chip \(chip): \(String(cString: strerror(code)))"
        }
    }
}

/// The text in a fixed-size C string field the kernel filled (NUL-terminated, or full).
private func text(_ field: [CChar]) -> String {
    String(decoding: field.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
