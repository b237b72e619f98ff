/// One sensor reading, the event the log stores.
public struct Reading: Sendable, Hashable {
    /// The sensor's identifier, unique within the device (for example "boiler/temp").
    public var sensor: String
    /// Milliseconds since the Unix epoch; any Int64, including negative values.
    public var timestamp: Int64
    public var value: Value

    public init(sensor: String, timestamp: Int64, value: Value) {
        self.sensor = sensor
        self.timestamp = timestamp
        self.value = value
    }
}

extension Reading {
    /// An upper bound on the bytes the reading takes in a batch: its sensor
    /// id, its string or bytes value, and 40 bytes.
    public var approximateEncodedSize: Int {
        let payload: Int
        switch value {
        case let .string(text): payload = text.utf8.count
        case let .bytes(bytes): payload = bytes.count
        default: payload = 0
        }
        return sensor.utf8.count + payload + 40
    }
}

/// A reading's value.
public enum Value: Sendable, Hashable {
    case double(Double)
    case int(Int64)
    case bool(Bool)
    case string(String)
    case bytes([UInt8])

    /// Doubles compare by bit pattern, so NaN equals itself and -0.0 differs
    /// from 0.0: the log stores exactly what it was given.
    public static func == (lhs: Value, rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case let (.double(a), .double(b)): return a.bitPattern == b.bitPattern
        case let (.int(a), .int(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.bytes(a), .bytes(b)): return a == b
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case let .double(v): hasher.combine(0); hasher.combine(v.bitPattern)
        case let .int(v): hasher.combine(1); hasher.combine(v)
        case let .bool(v): hasher.combine(2); hasher.combine(v)
        case let .string(v): hasher.combine(3); hasher.combine(v)
        case let .bytes(v): hasher.combine(4); hasher.combine(v)
        }
    }
}

/// A reading as read back from the log, with its position.
public struct StoredReading: Sendable, Hashable {
    public var offset: Int64
    public var reading: Reading

    public init(offset: Int64, reading: Reading) {
        self.offset = offset
        self.reading = reading
    }
}
