#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a sensor's next reading is encoded against: its previous timestamp,
/// the previous gap between timestamps, and its previous value.
struct SensorState {
    var lastTimestamp: Int64 = 0
    var lastDelta: Int64 = 0
    var value: ValueState = .none
}

/// A sensor's previous value, in the form the next value is delta-coded against.
enum ValueState: Equatable {
    /// No reading since the last key batch: the next value is written in full.
    case none
    case int(Int64)
    /// A double that is exactly `mantissa / 10^scale` (most sensor values: "21.5").
    case decimal(scale: Int, mantissa: Int64)
    /// Any other double, XOR-coded against its predecessor's bits.
    case rawDouble(UInt64)
    case bool(Bool)
    case string(Int)
    case bytes
}

/// The decimal view of doubles: a value read as "21.5" is stored as 215 with
/// scale 1, so steady sensors cost a bit or two per reading.
enum Decimal {
    static let maximumScale = 9
    private static let powers: [Double] = (0...maximumScale).map { exponent in
        (0..<exponent).reduce(1.0) { product, _ in product * 10 }
    }

    /// The mantissa of `value` at `scale` if it round-trips bit for bit.
    @inline(__always)
    static func mantissa(of value: Double, scale: Int) -> Int64? {
        let power = powers[scale]
        // Ties to even is one instruction (roundsd) where the default is a
        // libm call. Only which candidate is tried depends on it, never
        // correctness: the bit-for-bit check below decides.
        let scaled = (value * power).rounded(.toNearestOrEven)
        // 2^53: every integer up to it is exact in a Double.
        guard abs(scaled) <= 9_007_199_254_740_992 else { return nil }
        let mantissa = Int64(scaled)
        guard (Double(mantissa) / power).bitPattern == value.bitPattern else { return nil }
        return mantissa
    }

    /// The smallest scale at which `value` round-trips, if any.
    static func smallestScale(of value: Double) -> (scale: Int, mantissa: Int64)? {
        for scale in 0...maximumScale {
            if let mantissa = mantissa(of: value, scale: scale) { return (scale, mantissa) }
        }
        return nil
    }

    @inline(__always)
    static func value(mantissa: Int64, scale: Int) -> Double {
        Double(mantissa) / powers[scale]
    }
}

/// Tags of values written in full (FORMAT.md, "A reading").
enum ValueTag: UInt64 {
    case int = 0, decimal = 1, rawDouble = 2, boolFalse = 3, boolTrue = 4, string = 5, bytes = 6
}

/// A string compared and hashed by its UTF-8 bytes, for the encoder's
/// dictionaries. String's own `==` is canonical equivalence ("é" equals
/// "e\u{301}"), which would merge two sensors, or two values, that the log
/// must keep apart byte for byte.
struct ExactString: Hashable {
    let string: String

    init(_ string: String) { self.string = string }

    static func == (lhs: ExactString, rhs: ExactString) -> Bool { sameBytes(lhs.string, rhs.string) }

    func hash(into hasher: inout Hasher) {
        let hashed: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            for byte in string.utf8 { hasher.combine(byte) }
        }
    }

    @inline(__always)
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        let contiguous = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                // memcmp: the generic elementsEqual compares byte by byte.
                x.count == y.count && (x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
            }
        }
        return (contiguous ?? nil) ?? a.utf8.elementsEqual(b.utf8)
    }
}
