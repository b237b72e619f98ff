/// Marsaglia's xorshift64 generator with shifts 13, 7, 17: small, fast and
/// trivially reimplemented, so another store can regenerate the reference
/// workload bit for bit.
struct Xorshift64 {
    private(set) var state: UInt64

    /// The reference workload's seed.
    static let referenceSeed: UInt64 = 88_172_645_463_325_252

    init(seed: UInt64 = Xorshift64.referenceSeed) {
        // Zero is the generator's one fixed point.
        state = seed == 0 ? Xorshift64.referenceSeed : seed
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// A uniform number in [0, 1): the top 53 bits of the next draw divided by 2^53.
    @inline(__always)
    mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A uniform integer in `range` (from `uniform`, so every draw is one `next`).
    @inline(__always)
    mutating func integer(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(uniform() * Double(range.count))
    }
}
