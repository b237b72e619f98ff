import TributaryLog

/// The requests that read a device's registers, and the values in their answers.
enum ModbusPlan {
    /// One read: `count` registers (or bits) of `table` from `address`, holding these registers' values.
    struct Request: Equatable {
        var table: ModbusSourceSettings.Table
        var address: Int
        var count: Int
        var registers: [ModbusSourceSettings.Register]
    }

    /// The device's registers in as few requests as contiguous runs of at
    /// most `maxRegisters` allow (a gap between two values starts a new
    /// request: some devices refuse a read of an address they do not have).
    static func requests(for device: ModbusSourceSettings.Device) -> [Request] {
        var requests: [Request] = []
        for table in ModbusSourceSettings.Table.allCases {
            let registers = device.registers.filter { $0.table == table }.sorted { $0.address < $1.address }
            for register in registers {
                let end = register.address + register.width
                if var last = requests.last, last.table == table, register.address <= last.address + last.count,
                   max(end, last.address + last.count) - last.address <= device.maxRegisters {
                    last.count = max(end, last.address + last.count) - last.address
                    last.registers.append(register)
                    requests[requests.count - 1] = last
                } else {
                    requests.append(Request(table: table, address: register.address, count: register.width,
                                            registers: [register]))
                }
            }
        }
        return requests
    }

    /// `register`'s value from the words a request read from `start`.
    static func value(of register: ModbusSourceSettings.Register, words: [UInt16], start: Int) -> Value {
        let first = register.address - start
        if register.table.isBits { return .bool(words[first] != 0) }
        var parts = Array(words[first..<first + register.type.registers])
        if register.byteOrder == .little { parts = parts.map(\.byteSwapped) }
        if register.wordOrder == .little { parts.reverse() }
        let bits = parts.reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let raw: Double
        switch register.type {
        case .int16: raw = Double(Int16(bitPattern: UInt16(bits)))
        case .uint16: raw = Double(bits)
        case .int32: raw = Double(Int32(bitPattern: UInt32(bits)))
        case .uint32: raw = Double(bits)
        case .float32: raw = Double(Float(bitPattern: UInt32(bits)))
        case .float64: raw = Double(bitPattern: bits)
        }
        // Integers stay integers when nothing scales them.
        if register.scale == 1, register.offset == 0, register.type != .float32, register.type != .float64 {
            return .int(Int64(raw))
        }
        return .double(raw * register.scale + register.offset)
    }
}
