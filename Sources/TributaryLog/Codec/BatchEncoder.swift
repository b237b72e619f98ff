/// Encodes readings into record batches. Each batch is delta-coded against the
/// state left by the batches before it, back to the last key batch, which
/// starts from empty state; the writer makes every segment start with a key
/// batch and puts one every `keyInterval` readings, so a reader can start
/// decoding at any index entry. Not thread-safe: one writer owns it.
struct BatchEncoder {
    private var sensorIDs: [ExactString: Int] = [:]
    private var sensors: [SensorState] = []
    private var stringIDs: [ExactString: Int] = [:]
    private var strings: [String] = []
    private var previousSensor = -1
    private var sensorNames: [String] = []
    /// Readings encoded since the last key batch.
    private(set) var readingsSinceKey = 0
    private var forceKey = true

    private var bits = BitWriter()
    private var byteSection: [UInt8] = []

    /// Makes the next batch a key batch (after a segment roll, a failed write, or recovery).
    mutating func startKeyBatch() { forceKey = true }

    private mutating func resetState() {
        sensorIDs.removeAll(keepingCapacity: true)
        sensors.removeAll(keepingCapacity: true)
        sensorNames.removeAll(keepingCapacity: true)
        stringIDs.removeAll(keepingCapacity: true)
        strings.removeAll(keepingCapacity: true)
        previousSensor = -1
        readingsSinceKey = 0
    }

    /// Encodes `readings` (at least one) as one batch starting at `baseOffset`,
    /// appending the complete, checksummed batch to `output`. Returns whether
    /// it is a key batch.
    @discardableResult
    mutating func encode<C: Collection>(_ readings: C, baseOffset: Int64, keyInterval: Int,
                                        into output: inout [UInt8]) -> Bool where C.Element == Reading {
        precondition(!readings.isEmpty, "a batch holds at least one reading")
        let isKey = forceKey || readingsSinceKey >= keyInterval
        if isKey { resetState() }
        forceKey = false
        var minTimestamp = Int64.max
        var maxTimestamp = Int64.min
        for reading in readings {
            minTimestamp = min(minTimestamp, reading.timestamp)
            maxTimestamp = max(maxTimestamp, reading.timestamp)
        }
        bits.reset()
        byteSection.removeAll(keepingCapacity: true)
        for reading in readings { encode(reading, minTimestamp: minTimestamp) }
        readingsSinceKey += readings.count
        let stream = bits.finish()

        let start = output.count
        output.append(contentsOf: repeatElement(0, count: BatchHeader.size))
        VarInt.append(UInt64(byteSection.count), to: &output)
        output.append(contentsOf: byteSection)
        output.append(contentsOf: stream)
        output.withUnsafeMutableBytes { all in
            BatchHeader.seal(UnsafeMutableRawBufferPointer(rebasing: all[start...]), isKey: isKey,
                             baseOffset: baseOffset, count: readings.count,
                             minTimestamp: minTimestamp, maxTimestamp: maxTimestamp)
        }
        return isKey
    }

    @inline(__always)
    private mutating func sensorID(_ name: String) -> Int? {
        // Sensors usually arrive in the same order every round: try the next
        // one in the dictionary before hashing.
        let next = previousSensor + 1
        if next < sensorNames.count, ExactString.sameBytes(sensorNames[next], name) { return next }
        return sensorIDs[ExactString(name)]
    }

    private mutating func encode(_ reading: Reading, minTimestamp: Int64) {
        let id: Int
        if let known = sensorID(reading.sensor) {
            id = known
            if id == previousSensor + 1 {
                bits.write(0, bits: 1)
            } else {
                bits.write(0b11, bits: 2)
                bits.writeCode(UInt64(id))
            }
        } else {
            id = sensors.count
            bits.write(0b10, bits: 2)
            appendBytes(Array(reading.sensor.utf8))
            sensorIDs[ExactString(reading.sensor)] = id
            sensorNames.append(reading.sensor)
            sensors.append(SensorState())
        }
        previousSensor = id

        var state = sensors[id]
        if state.value == .none {
            bits.writeCode(UInt64(bitPattern: reading.timestamp &- minTimestamp))
            state.lastDelta = 0
        } else {
            let delta = reading.timestamp &- state.lastTimestamp
            bits.writeSigned(delta &- state.lastDelta)
            state.lastDelta = delta
        }
        state.lastTimestamp = reading.timestamp
        state.value = encodeValue(reading.value, after: state.value)
        sensors[id] = state
    }

    /// Writes `value` as a change from `previous` and returns the new state.
    private mutating func encodeValue(_ value: Value, after previous: ValueState) -> ValueState {
        switch (previous, value) {
        case (.none, _):
            return encodeFull(value)
        case let (.int(last), .int(new)):
            bits.writeSigned(new &- last)
            return .int(new)
        case let (.decimal(scale, last), .double(new)):
            if let mantissa = Decimal.mantissa(of: new, scale: scale) {
                bits.writeSigned(mantissa &- last)
                return .decimal(scale: scale, mantissa: mantissa)
            }
            bits.writeEscape()
            return encodeFull(value)
        case (.int, _), (.decimal, _):
            bits.writeEscape()
            return encodeFull(value)
        case let (.rawDouble(last), .double(new)):
            let xor = last ^ new.bitPattern
            if xor == 0 {
                bits.write(0, bits: 1)
            } else {
                let leading = xor.leadingZeroBitCount
                let trailing = xor.trailingZeroBitCount
                let meaningful = 64 - leading - trailing
                bits.write(0b10, bits: 2)
                bits.write(UInt64(leading), bits: 6)
                bits.write(UInt64(meaningful - 1), bits: 6)
                bits.write(xor >> UInt64(trailing), bits: meaningful)
            }
            return .rawDouble(new.bitPattern)
        case let (.bool(last), .bool(new)):
            bits.write(last == new ? 0 : 0b10, bits: last == new ? 1 : 2)
            return .bool(new)
        case let (.string(last), .string(new)):
            if ExactString.sameBytes(strings[last], new) {
                bits.write(0, bits: 1)
                return previous
            }
            bits.write(0b10, bits: 2)
            return .string(writeStringID(new))
        case let (.bytes, .bytes(new)):
            bits.write(0b10, bits: 2)
            appendBytes(new)
            return .bytes
        case (.rawDouble, _), (.bool, _), (.string, _), (.bytes, _):
            bits.write(0b11, bits: 2)
            return encodeFull(value)
        }
    }

    private mutating func encodeFull(_ value: Value) -> ValueState {
        switch value {
        case let .int(v):
            bits.write(ValueTag.int.rawValue, bits: 3)
            bits.writeSigned(v)
            return .int(v)
        case let .double(v):
            if let (scale, mantissa) = Decimal.smallestScale(of: v) {
                bits.write(ValueTag.decimal.rawValue, bits: 3)
                bits.write(UInt64(scale), bits: 4)
                bits.writeSigned(mantissa)
                return .decimal(scale: scale, mantissa: mantissa)
            }
            bits.write(ValueTag.rawDouble.rawValue, bits: 3)
            bits.write(v.bitPattern, bits: 64)
            return .rawDouble(v.bitPattern)
        case let .bool(v):
            bits.write((v ? ValueTag.boolTrue : ValueTag.boolFalse).rawValue, bits: 3)
            return .bool(v)
        case let .string(v):
            bits.write(ValueTag.string.rawValue, bits: 3)
            return .string(writeStringID(v))
        case let .bytes(v):
            bits.write(ValueTag.bytes.rawValue, bits: 3)
            appendBytes(v)
            return .bytes
        }
    }

    /// Writes a string's dictionary id; a new string gets the next id and its
    /// bytes go to the byte section.
    private mutating func writeStringID(_ string: String) -> Int {
        if let id = stringIDs[ExactString(string)] {
            bits.writeCode(UInt64(id))
            return id
        }
        let id = strings.count
        bits.writeCode(UInt64(id))
        appendBytes(Array(string.utf8))
        stringIDs[ExactString(string)] = id
        strings.append(string)
        return id
    }

    private mutating func appendBytes(_ bytes: [UInt8]) {
        VarInt.append(UInt64(bytes.count), to: &byteSection)
        byteSection.append(contentsOf: bytes)
    }
}
