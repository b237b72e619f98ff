import CTributaryShims
import TributaryLog

/// An edge on a line, as the kernel reported it.
struct GPIOEvent: Equatable {
    /// Milliseconds since the epoch (the kernel's realtime clock).
    var timestamp: Int64
    var rising: Bool
    /// The line's sequence number: a gap means the kernel's event buffer overflowed.
    var sequence: UInt32

    /// The events in `bytes`, read from a line's descriptor (whole records only).
    static func parse(_ bytes: UnsafeRawBufferPointer) -> [GPIOEvent] {
        let size = Int(tributary_gpio_event_size())
        return stride(from: 0, to: bytes.count - size + 1, by: size).map { start in
            var nanoseconds: UInt64 = 0
            var id: UInt32 = 0
            var sequence: UInt32 = 0
            tributary_gpio_event(bytes.baseAddress! + start, &nanoseconds, &id, &sequence)
            return GPIOEvent(timestamp: Int64(nanoseconds / 1_000_000), rising: id == 1, sequence: sequence)
        }
    }
}

/// What a line's mode makes of its events and ticks: a counter's pulses per
/// interval and rate, a state line's changes.
struct GPIOLineLogic {
    let line: GPIOSourceSettings.Line
    let sensor: String
    private var pulses: Int64 = 0
    private var lastSequence: UInt32?
    /// Events the kernel dropped (its buffer overflowed), by sequence gaps.
    private(set) var lost: Int64 = 0

    init(line: GPIOSourceSettings.Line, source: String) {
        self.line = line
        self.sensor = "\(source).\(line.name)"
    }

    /// The readings an event makes now: a state line's new value; none for a counter (it adds up).
    mutating func take(_ event: GPIOEvent) -> [Reading] {
        if let last = lastSequence, event.sequence > last + 1 { lost += Int64(event.sequence - last - 1) }
        lastSequence = event.sequence
        switch line.mode {
        case .state:
            return [Reading(sensor: sensor, timestamp: event.timestamp, value: .bool(event.rising))]
        case .counter:
            if line.edge == .both || (line.edge == .rising) == event.rising { pulses += 1 }
            return []
        case .level:
            return []
        }
    }

    /// A counter's readings at the end of an interval of `seconds`: the pulses and their rate a second.
    mutating func tick(at timestamp: Int64, seconds: Double) -> [Reading] {
        guard line.mode == .counter else { return [] }
        defer { pulses = 0 }
        return [Reading(sensor: sensor + ".count", timestamp: timestamp, value: .int(pulses)),
                Reading(sensor: sensor + ".rate", timestamp: timestamp, value: .double(Double(pulses) / seconds))]
    }
}
