/// Cuts a serial byte stream into lines: a line ends at LF, a CR before it
/// is dropped, and so are empty lines. A line longer than `maximum` bytes
/// is not kept: its bytes are dropped up to the next LF (resynchronising
/// on the line after it) and it is reported once as over-long, so garbage
/// without newlines never grows the buffer past `maximum`.
struct LineFramer {
    let maximum: Int
    private var pending: [UInt8] = []
    /// Inside an over-long line, dropping until its end.
    private var skipping = false

    /// What a chunk of input made.
    enum Piece: Equatable {
        case line([UInt8])
        /// The first `maximum` bytes of a line that was longer.
        case overlong([UInt8])
    }

    init(maximum: Int) {
        precondition(maximum > 0, "a line holds at least one byte")
        self.maximum = maximum
        pending.reserveCapacity(min(maximum, 4096))
    }

    /// Takes `bytes` as read; returns the lines (and over-long ones) they completed.
    mutating func take(_ bytes: UnsafeRawBufferPointer) -> [Piece] {
        var pieces: [Piece] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if skipping {
                    skipping = false
                } else {
                    if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
                    if !pending.isEmpty { pieces.append(.line(pending)) }
                }
                pending.removeAll(keepingCapacity: true)
            } else if !skipping {
                if pending.count == maximum {
                    pieces.append(.overlong(pending))
                    pending.removeAll(keepingCapacity: true)
                    skipping = true
                } else {
                    pending.append(byte)
                }
            }
        }
        return pieces
    }

    /// Forgets a partial line (the device went away mid-line).
    mutating func reset() {
        pending.removeAll(keepingCapacity: true)
        skipping = false
    }
}
