#if canImport(Glibc)
import Glibc
#endif
import CTributaryShims
import TributaryCore
import TributaryLog

/// A `type = "serial"` source: reads lines from a serial port on a thread of
/// its own, decodes each (`LineDecoder`) and hands one reading per field to
/// the log, named `SOURCE.FIELD` unless `[sources.fields]` names it.
///
/// The port is opened exclusively (TIOCEXCL) and set up raw with termios2,
/// so any baud rate works. When it goes away (unplugged: EIO, ENODEV, end of
/// file) or cannot be opened, the source shows as failing with the system's
/// words and opens the path again after 250 ms, then up to every second, so
/// a device that comes back (at a stable path like `/dev/serial/by-id/...`)
/// is read again within about a second. A line that is not valid input is
/// counted as malformed by reason and kept in the dead-letter topic. Input
/// is taken in batches, at most 20 a second (`gatherMilliseconds`); a
/// reading's time is when its batch was read.
public struct SerialSource: Source {
    public let name: String
    public let settings: SerialSourceSettings

    public init(name: String, settings: SerialSourceSettings) {
        self.name = name
        self.settings = settings
    }

    private static let firstRetryDelay: Int32 = 250
    private static let maximumRetryDelay: Int32 = 1000

    public func run(output: SourceOutput) async throws {
        try await StoppableThread.run(name: "serial-\(name)", output: output) { [self] stop in
            readLoop(output: output, stop: stop)
        }
    }

    /// Opens, reads and reopens the port until `stop` becomes readable.
    private func readLoop(output: SourceOutput, stop: Int32) {
        var reception = Reception(
            framer: LineFramer(maximum: settings.maxLine),
            decoder: LineDecoder(format: settings.format, columns: settings.columns, separator: settings.separator,
                                 nmeaGeneric: settings.nmeaGeneric))
        var retryDelay = Self.firstRetryDelay
        var opened = false
        while true {
            let descriptor: Int32
            do {
                descriptor = try open()
            } catch {
                output.reportError("\(error)")
                if StoppableThread.wait(stop, milliseconds: retryDelay) { return }
                retryDelay = min(retryDelay * 2, Self.maximumRetryDelay)
                continue
            }
            if opened { output.reportReconnect() }
            opened = true
            output.reportRecovered()
            retryDelay = Self.firstRetryDelay
            reception.framer.reset()
            let ended = read(descriptor, stop: stop, reception: &reception, output: output)
            close(descriptor)
            switch ended {
            case .stopped: return
            case let .lost(error): output.reportError("\(error)")
            }
            if StoppableThread.wait(stop, milliseconds: retryDelay) { return }
        }
    }

    /// The port, open, exclusive and set up.
    private func open() throws -> Int32 {
        let descriptor = Glibc.open(settings.device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw SerialError.system(operation: "open", path: settings.device, errno: errno) }
        let port = settings.port
        if tributary_serial_exclusive(descriptor) != 0
            || tributary_serial_configure(descriptor, UInt32(port.baud), Int32(port.dataBits), port.parity.letter,
                                          Int32(port.stopBits), port.flowControl == .rtsCts ? 1 : 0,
                                          port.flowControl == .xonXoff ? 1 : 0) != 0 {
            let error = SerialError.system(operation: "set up", path: settings.device, errno: errno)
            close(descriptor)
            throw error
        }
        return descriptor
    }

    private enum Ended { case stopped, lost(SerialError) }

    /// What reading the port keeps from one read to the next.
    private struct Reception {
        var framer: LineFramer
        /// Holds a CSV header once read.
        var decoder: LineDecoder
        /// Sensor ids by field, made once (the first 1024 fields; garbage can name any number).
        var sensorIDs: [String: String] = [:]

        mutating func sensor(for field: String, of source: SerialSource) -> String {
            if let id = sensorIDs[field] { return id }
            let id = source.settings.fields[field] ?? "\(source.name).\(field)"
            if sensorIDs.count < 1024 { sensorIDs[field] = id }
            return id
        }
    }

    /// How long the source lets input gather after it wakes for some: 50 ms, or less when the line
    /// would bring more than 2 KiB in that time (the kernel's buffer holds 4 KiB). A device that
    /// sends a few bytes at a time (a UART's FIFO, a USB adapter's packets) would otherwise wake
    /// the source, and the log, hundreds of times a second.
    private var gatherMilliseconds: Int32 {
        let bytesPerSecond = max(1, settings.port.baud / 10)
        return Int32(max(1, min(50, 2048 * 1000 / bytesPerSecond)))
    }

    /// Reads until the port goes away or `stop` is readable: whatever gathered in `gatherMilliseconds`
    /// after input arrives, framed and delivered at once.
    private func read(_ descriptor: Int32, stop: Int32, reception: inout Reception, output: SourceOutput) -> Ended {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var watched = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
        let gather = gatherMilliseconds
        while true {
            guard poll(&watched, 2, -1) >= 0 || errno == EINTR else {
                return .lost(.system(operation: "poll", path: settings.device, errno: errno))
            }
            if watched[1].revents != 0 { return .stopped }
            guard watched[0].revents != 0 else { continue }
            if StoppableThread.wait(stop, milliseconds: gather) { return .stopped }
            var pieces: [LineFramer.Piece] = []
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count < 0, errno == EAGAIN { break }
                guard count > 0 else {
                    _ = deliver(pieces, reception: &reception, output: output)
                    return .lost(count == 0 ? .gone(path: settings.device)
                                            : .system(operation: "read", path: settings.device, errno: errno))
                }
                pieces += buffer.withUnsafeBytes { reception.framer.take(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                if count < buffer.count { break }
            }
            if !deliver(pieces, reception: &reception, output: output) { return .stopped }
        }
    }

    /// Hands the readings of `pieces` to the log; false when the daemon is stopping.
    private func deliver(_ pieces: [LineFramer.Piece], reception: inout Reception, output: SourceOutput) -> Bool {
        let timestamp = SystemClock.wallMilliseconds()
        var readings: [Reading] = []
        for piece in pieces {
            switch piece {
            case let .overlong(start):
                output.handOverMalformed(start, reason: "oversize",
                                         detail: "a line longer than max_line (\(settings.maxLine) bytes)", at: timestamp)
            case let .line(line):
                switch reception.decoder.decode(line) {
                case .header: break
                case let .malformed(reason, detail):
                    output.handOverMalformed(line, reason: reason, detail: detail, at: timestamp)
                case let .values(values):
                    for (field, value) in values {
                        readings.append(Reading(sensor: reception.sensor(for: field, of: self), timestamp: timestamp,
                                                value: value))
                    }
                }
            }
        }
        guard !readings.isEmpty else { return true }
        do {
            try output.handOver(readings)
            return true
        } catch {
            return false
        }
    }
}

/// Why a serial port cannot be read.
enum SerialError: Error, CustomStringConvertible {
    case system(operation: String, path: String, errno: Int32)
    /// The other end closed: an unplugged adapter, a closed pseudo-terminal.
    case gone(path: String)

    var description: String {
        switch self {
        case let .system(operation, path, code): "cannot \(operation) \(path): \(String(cString: strerror(code)))"
        case let .gone(path): "\(path) is gone (end of file)"
        }
    }
}
