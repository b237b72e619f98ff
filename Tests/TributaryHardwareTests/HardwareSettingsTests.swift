import Testing
import TributaryCore
import TributaryTestSupport
@testable import TributaryHardware

@Suite("hardware source settings")
struct HardwareSettingsTests {
    private static let plugins = PluginRegistry.builtIn.adding(source: SerialSourceSettings.self)
        .adding(source: SysfsSourceSettings.self).adding(source: ModbusSourceSettings.self)
        .adding(source: GPIOSourceSettings.self)

    private static func parse(_ source: String) throws(ConfigurationErrors) -> TributaryConfiguration {
        try .parse(pipeline: "[[sources]]\ntopic = \"readings\"\n" + source, file: "t.toml", plugins: plugins)
    }

    @Test("serial and sysfs keys and their defaults")
    func keys() throws {
        let serial = try #require(try Self.parse("type = \"serial\"\ndevice = \"/dev/ttyUSB0\"\nformat = \"json\"\nparity = \"even\"")
            .sources.first?.settings as? SerialSourceSettings)
        #expect(serial.port.baud == 9600 && serial.port.parity == .even && serial.maxLine == 4096)
        let sysfs = try #require(try Self.parse("type = \"sysfs\"\ninterval = \"1s\"").sources.first?.settings
            as? SysfsSourceSettings)
        #expect(sysfs.intervalMilliseconds == 1000 && sysfs.root == "/sys" && sysfs.devices.count == 4)
    }

    @Test("mistakes name the line and key", arguments: [
        ("type = \"serial\"\nformat = \"csv\"", 4, "sources[0].device", "missing required key"),
        ("type = \"serial\"\ndevice = \"/dev/ttyS0\"\nformat = \"nmea0183\"", 8, "sources[0].format", "expected \"csv\""),
        ("type = \"serial\"\ndevice = \"/dev/ttyS0\"\nformat = \"json\"\ncolumns = [\"a\"]", 9, "sources[0].columns",
         "only format = \"csv\" has columns"),
        ("type = \"serial\"\ndevice = \"/dev/ttyS0\"\nformat = \"csv\"\nbaud = 0", 9, "sources[0].baud", "expected a baud rate"),
        ("type = \"sysfs\"\n[[sources.devices]]\nmatch = \"28-*\"", 7, "sources[0].devices[0].kind", "missing required key"),
        ("type = \"sysfs\"\nroot = \"sys\"", 7, "sources[0].root", "expected an absolute path"),
        ("type = \"modbus\"\ndevice = \"/dev/ttyS1\"\n[[sources.devices]]\nslave = 300\n[[sources.devices.registers]]\n"
         + "name = \"v\"\naddress = 0", 9, "sources[0].devices[0].slave", "expected a slave id"),
        ("type = \"modbus\"\ndevice = \"/dev/ttyS1\"\n[[sources.devices]]\nslave = 1\n[[sources.devices.registers]]\n"
         + "name = \"v\"\naddress = 0\ntable = \"coil\"\ntype = \"float32\"", 14,
         "sources[0].devices[0].registers[0].type", "coils and discrete inputs are booleans"),
        ("type = \"gpio\"\nchip = \"gpiochip0\"\n[[sources.lines]]\nline = 4\nname = \"door\"\nmode = \"state\"\n"
         + "interval = \"1s\"", 12, "sources[0].lines[0].interval", "a state line reports every change"),
        ("type = \"gpio\"\nchip = \"gpiochip0\"\n[[sources.lines]]\nline = 4\nname = \"rain\"\nmode = \"pulses\"", 11,
         "sources[0].lines[0].mode", "expected \"counter\""),
    ])
    func mistakes(_ keys: String, _ line: Int, _ key: String, _ message: String) throws {
        try expectOneMistake(line: line, key: key, message: message) { try Self.parse(keys) }
    }
}
