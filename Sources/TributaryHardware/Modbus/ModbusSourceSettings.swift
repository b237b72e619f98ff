import TributaryCore

/// Settings of a `type = "modbus"` source: Modbus RTU devices (slaves) on
/// one serial line (RS-485), each polled at its own interval.
public struct ModbusSourceSettings: SourceSettings {
    public static let type = "modbus"

    /// `device`: the serial port of the bus.
    public var device: String
    /// `baud`, `data_bits`, `parity`, `stop_bits`, as for a serial source.
    public var port = SerialSourceSettings.Port()
    /// `timeout`: how long to wait for a slave's answer.
    public var timeoutMilliseconds: Int64 = 500
    /// `retries`: requests sent again after a timeout or a bad frame, while the slave answered lately.
    public var retries = 1
    /// `[[sources.devices]]`.
    public var devices: [Device]

    /// One slave on the bus.
    public struct Device: Sendable, Equatable {
        /// `name`: names its readings, `SOURCE.NAME.REGISTER`.
        public var name: String
        /// `slave`: its id, 1 to 247.
        public var slave: Int
        /// `interval`: how often it is polled.
        public var intervalMilliseconds: Int64 = 1000
        /// `max_registers`: registers (or bits) one request asks for at most; some devices refuse long reads.
        public var maxRegisters = 100
        /// `[[sources.devices.registers]]`.
        public var registers: [Register]

        public init(name: String, slave: Int, registers: [Register]) {
            self.name = name
            self.slave = slave
            self.registers = registers
        }
    }

    /// One value of a device: where it is and how to read it.
    public struct Register: Sendable, Equatable {
        public var name: String
        /// `table`.
        public var table = Table.holding
        /// `address`: its first register (or bit), from 0 as on the wire.
        public var address: Int
        /// `type`: ignored for coils and discrete inputs, which are booleans.
        public var type = DataType.uint16
        /// `word_order`: which register of a 32- or 64-bit value comes first.
        public var wordOrder = Order.big
        /// `byte_order`: which byte of a register comes first.
        public var byteOrder = Order.big
        /// `scale` and `offset`: value = raw x scale + offset.
        public var scale = 1.0
        public var offset = 0.0

        public init(name: String, address: Int) {
            self.name = name
            self.address = address
        }

        /// Registers (or bits) it spans.
        var width: Int { table.isBits ? 1 : type.registers }
    }

    public enum Table: String, Sendable, CaseIterable {
        case holding, input, coil, discrete
        var isBits: Bool { self == .coil || self == .discrete }
    }

    public enum DataType: String, Sendable, CaseIterable {
        case int16, uint16, int32, uint32, float32, float64
        var registers: Int {
            switch self {
            case .int16, .uint16: 1
            case .int32, .uint32, .float32: 2
            case .float64: 4
            }
        }
    }

    public enum Order: String, Sendable, CaseIterable {
        /// Most significant first (Modbus's own order).
        case big
        case little
    }

    public init(device: String, devices: [Device]) {
        self.device = device
        self.devices = devices
    }

    public var summary: String {
        "\(devices.count) Modbus device\(devices.count == 1 ? "" : "s") on \(device) at \(port.baud) baud"
    }

    public func makeSource(name: String, context: PluginContext) throws -> any Source {
        ModbusSource(name: name, settings: self)
    }

    public static func read(_ table: TableReader) -> ModbusSourceSettings? {
        let device = table.string("device", expected: "the bus's serial port, like \"/dev/ttyUSB0\"")
        if !table.contains("device") { table.reportMissing("device", expected: "the bus's serial port, like \"/dev/ttyUSB0\"") }
        let port = SerialSourceSettings.Port.read(table, bauds: 50...4_000_000,
                                                  baudExpected: "a baud rate like 9600 or 19200",
                                                  dataBits: 7...8, dataBitsExpected: "7 or 8")
        let timeout = table.milliseconds("timeout", atLeast: 10)
        let retries = table.integer("retries", in: 0...5, expected: "a number of retries from 0 to 5")
        var devices: [Device] = []
        if !table.contains("devices") {
            table.reportMissing("devices", expected: "[[sources.devices]] tables, one per slave")
        }
        for device in table.tables("devices") ?? [] {
            if let read = readDevice(device) { devices.append(read) }
            device.finish()
        }
        var seen = Set<String>()
        for (index, device) in devices.enumerated() where !seen.insert(device.name).inserted {
            table.report("devices", index: index, "another device is named \"\(device.name)\"; names must differ")
        }
        guard let device, !devices.isEmpty else { return nil }
        var settings = ModbusSourceSettings(device: device, devices: devices)
        settings.port = port
        settings.timeoutMilliseconds = timeout ?? settings.timeoutMilliseconds
        settings.retries = retries ?? settings.retries
        return settings
    }

    private static func readDevice(_ table: TableReader) -> Device? {
        let slave = table.integer("slave", in: 1...247, expected: "a slave id from 1 to 247")
        if !table.contains("slave") { table.reportMissing("slave", expected: "the device's slave id, 1 to 247") }
        let name = table.string("name", expected: "a name for the device, like \"meter-1\"")
        let interval = table.milliseconds("interval", atLeast: 10)
        let maxRegisters = table.integer("max_registers", in: 1...125, expected: "a number of registers from 1 to 125")
        var registers: [Register] = []
        if !table.contains("registers") {
            table.reportMissing("registers", expected: "[[sources.devices.registers]] tables")
        }
        for register in table.tables("registers") ?? [] {
            if let read = readRegister(register) { registers.append(read) }
            register.finish()
        }
        guard let slave, !registers.isEmpty else { return nil }
        var device = Device(name: name ?? "slave-\(slave)", slave: slave, registers: registers)
        device.intervalMilliseconds = interval ?? device.intervalMilliseconds
        device.maxRegisters = maxRegisters ?? device.maxRegisters
        if let wide = registers.first(where: { $0.width > device.maxRegisters }) {
            table.report("max_registers", "\(wide.name) spans \(wide.width) registers, more than \(device.maxRegisters)")
        }
        return device
    }

    private static func readRegister(_ table: TableReader) -> Register? {
        let name = table.string("name", expected: "a name for the value, like \"voltage\"")
        if !table.contains("name") { table.reportMissing("name", expected: "a name for the value, like \"voltage\"") }
        let address = table.integer("address", in: 0...65_535, expected: "a register address from 0 to 65535")
        if !table.contains("address") { table.reportMissing("address", expected: "its register address, from 0") }
        let kind = table.choice("table", among: Table.allCases)
        let type = table.choice("type", among: DataType.allCases)
        if type != nil, kind?.isBits == true { table.report("type", "coils and discrete inputs are booleans: no type") }
        let wordOrder = table.choice("word_order", among: Order.allCases)
        let byteOrder = table.choice("byte_order", among: Order.allCases)
        let scale = table.number("scale", in: -1e12...1e12, expected: "a number like 0.1")
        let offset = table.number("offset", in: -1e12...1e12, expected: "a number like -40")
        guard let name, let address else { return nil }
        var register = Register(name: name, address: address)
        register.table = kind ?? register.table
        register.type = type ?? register.type
        register.wordOrder = wordOrder ?? register.wordOrder
        register.byteOrder = byteOrder ?? register.byteOrder
        register.scale = scale ?? register.scale
        register.offset = offset ?? register.offset
        if address + register.width > 65_536 { table.report("address", "\(name) runs past register 65535") }
        return register
    }
}
