/// Decodes record batches written by `BatchEncoder`. It must see every batch
/// from a key batch on, in order; `decode` reports a non-key batch it has no
/// state for. Not thread-safe: one reader owns it.
struct BatchDecoder {
    private var sensorNames: [String] = []
    private var sensors: [SensorState] = []
    private var strings: [String] = []
    private var previousSensor = -1
    /// False until a key batch has been decoded, and again after a failure.
    private(set) var hasState = false

    /// Why a batch that passed its checksum still could not be decoded.
    enum Failure: Error, Equatable {
        /// A non-key batch arrived with no state (the reader started, or lost
        /// its state, after the last key batch).
        case needsKeyBatch
        /// The payload does not follow the format (a bug, or damage the CRC missed).
        case malformed
    }

    /// Forgets all state, as after damage: only a key batch can follow.
    mutating func invalidate() { hasState = false }

    /// Decodes the whole batch (header included, checksum already verified),
    /// calling `body` with each reading's offset and reading in order.
    mutating func decode(_ batch: UnsafeRawBufferPointer, header: BatchHeader,
                         _ body: (Int64, Reading) throws -> Void) throws {
        if header.isKey {
            sensorNames.removeAll(keepingCapacity: true)
            sensors.removeAll(keepingCapacity: true)
            strings.removeAll(keepingCapacity: true)
            previousSensor = -1
            hasState = true
        }
        guard hasState else { throw Failure.needsKeyBatch }
        // Any failure leaves the state half-updated: only a key batch may follow.
        hasState = false
        var index = BatchHeader.size
        let payload = UnsafeRawBufferPointer(rebasing: batch[..<header.length])
        guard let sectionLength = VarInt.read(payload, at: &index),
              sectionLength <= UInt64(payload.count - index) else { throw Failure.malformed }
        var section = ByteSection(UnsafeRawBufferPointer(rebasing: payload[index..<(index + Int(sectionLength))]))
        var bits = BitReader(UnsafeRawBufferPointer(rebasing: payload[(index + Int(sectionLength))...]))
        do {
            for ordinal in 0..<header.count {
                let reading = try decodeReading(&bits, &section, minTimestamp: header.minTimestamp)
                try body(header.baseOffset + Int64(ordinal), reading)
            }
        } catch is BitReader.Overrun {
            throw Failure.malformed
        } catch is ByteSection.Overrun {
            throw Failure.malformed
        }
        hasState = true
    }

    private mutating func decodeReading(_ bits: inout BitReader, _ section: inout ByteSection,
                                        minTimestamp: Int64) throws -> Reading {
        let id: Int
        if try !bits.readBit() {
            id = previousSensor + 1
        } else if try !bits.readBit() {
            id = sensors.count
            sensorNames.append(try section.string())
            sensors.append(SensorState())
        } else {
            id = Int(clamping: try bits.readNumber())
        }
        guard id >= 0, id < sensors.count else { throw Failure.malformed }
        previousSensor = id

        var state = sensors[id]
        let timestamp: Int64
        if state.value == .none {
            timestamp = minTimestamp &+ Int64(bitPattern: try bits.readNumber())
            state.lastDelta = 0
        } else {
            let delta = state.lastDelta &+ (try bits.readSigned())
            timestamp = state.lastTimestamp &+ delta
            state.lastDelta = delta
        }
        state.lastTimestamp = timestamp
        let value: Value
        (value, state.value) = try decodeValue(after: state.value, &bits, &section)
        sensors[id] = state
        return Reading(sensor: sensorNames[id], timestamp: timestamp, value: value)
    }

    private mutating func decodeValue(after previous: ValueState, _ bits: inout BitReader,
                                      _ section: inout ByteSection) throws -> (Value, ValueState) {
        switch previous {
        case .none:
            return try decodeFull(&bits, &section)
        case let .int(last):
            guard let code = try bits.readCode() else { return try decodeFull(&bits, &section) }
            let new = last &+ ZigZag.decode(code)
            return (.int(new), .int(new))
        case let .decimal(scale, last):
            guard let code = try bits.readCode() else { return try decodeFull(&bits, &section) }
            let mantissa = last &+ ZigZag.decode(code)
            return (.double(Decimal.value(mantissa: mantissa, scale: scale)),
                    .decimal(scale: scale, mantissa: mantissa))
        case .rawDouble, .bool, .string, .bytes:
            if try !bits.readBit() {
                // Unchanged; `.bytes` never takes this path.
                switch previous {
                case let .rawDouble(last): return (.double(Double(bitPattern: last)), previous)
                case let .bool(last): return (.bool(last), previous)
                case let .string(last): return (.string(strings[last]), previous)
                default: throw Failure.malformed
                }
            }
            if try bits.readBit() { return try decodeFull(&bits, &section) }
            switch previous {
            case let .rawDouble(last):
                let leading = Int(try bits.read(bits: 6))
                let meaningful = Int(try bits.read(bits: 6)) + 1
                guard leading + meaningful <= 64 else { throw Failure.malformed }
                let xor = try bits.read(bits: meaningful) << UInt64(64 - leading - meaningful)
                let new = last ^ xor
                return (.double(Double(bitPattern: new)), .rawDouble(new))
            case let .bool(last):
                return (.bool(!last), .bool(!last))
            case .string:
                let id = try stringID(&bits, &section)
                return (.string(strings[id]), .string(id))
            default:
                return (.bytes(try section.bytes()), .bytes)
            }
        }
    }

    private mutating func decodeFull(_ bits: inout BitReader,
                                     _ section: inout ByteSection) throws -> (Value, ValueState) {
        guard let tag = ValueTag(rawValue: try bits.read(bits: 3)) else { throw Failure.malformed }
        switch tag {
        case .int:
            let v = try bits.readSigned()
            return (.int(v), .int(v))
        case .decimal:
            let scale = Int(try bits.read(bits: 4))
            guard scale <= Decimal.maximumScale else { throw Failure.malformed }
            let mantissa = try bits.readSigned()
            return (.double(Decimal.value(mantissa: mantissa, scale: scale)),
                    .decimal(scale: scale, mantissa: mantissa))
        case .rawDouble:
            let raw = try bits.read(bits: 64)
            return (.double(Double(bitPattern: raw)), .rawDouble(raw))
        case .boolFalse:
            return (.bool(false), .bool(false))
        case .boolTrue:
            return (.bool(true), .bool(true))
        case .string:
            let id = try stringID(&bits, &section)
            return (.string(strings[id]), .string(id))
        case .bytes:
            return (.bytes(try section.bytes()), .bytes)
        }
    }

    private mutating func stringID(_ bits: inout BitReader, _ section: inout ByteSection) throws -> Int {
        let id = Int(clamping: try bits.readNumber())
        if id == strings.count { strings.append(try section.string()) }
        guard id < strings.count else { throw Failure.malformed }
        return id
    }
}

/// The batch's byte section: length-prefixed sensor names, strings and bytes,
/// in the order the bit stream introduces them.
private struct ByteSection {
    struct Overrun: Error {}

    let storage: UnsafeRawBufferPointer
    var index = 0

    init(_ storage: UnsafeRawBufferPointer) { self.storage = storage }

    mutating func bytes() throws -> [UInt8] {
        guard let length = VarInt.read(storage, at: &index), length <= UInt64(storage.count - index) else {
            throw Overrun()
        }
        defer { index += Int(length) }
        return Array(UnsafeRawBufferPointer(rebasing: storage[index..<(index + Int(length))]))
    }

    mutating func string() throws -> String {
        String(decoding: try bytes(), as: UTF8.self)
    }
}
