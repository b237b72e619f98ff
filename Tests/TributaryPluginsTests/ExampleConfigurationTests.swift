import Foundation
import Testing
import TributaryCore
import TributaryHardware
import TributaryKafka
import TributaryMQTT
import TributaryPlugins
import TributaryTestSupport

@Suite("example configuration")
struct ExampleConfigurationTests {
    @Test("the commented sources and sinks in the example configuration parse once uncommented")
    func commentedExamplesParse() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("packaging/tributary.toml")
        let scratch = try Scratch()
        let secret = scratch.path("secret")
        try Data("s3cret\n".utf8).write(to: URL(fileURLWithPath: secret))
        var lines: [String] = []
        var inBlock = false
        for line in try String(contentsOf: example, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "# [[sources]]" || line == "# [[sinks]]" { inBlock = true }
            if inBlock, line.hasPrefix("# ") {
                // The secret files do not exist here; everything else must parse as written.
                lines.append(line.hasPrefix("# password_file") ? "password_file = \"\(secret)\"" : String(line.dropFirst(2)))
                continue
            }
            inBlock = false
            lines.append(String(line))
        }
        let machineID = FileManager.default.temporaryDirectory.appendingPathComponent("machine-id-\(UUID().uuidString)")
        try Data("0123456789abcdef0123456789abcdef\n".utf8).write(to: machineID)
        defer { try? FileManager.default.removeItem(at: machineID) }
        let configuration = try TributaryConfiguration.parse(
            lines.joined(separator: "\n"), file: example.path, machineIDPath: machineID.path,
            plugins: .tributary, profileDirectories: [Self.hardware.appendingPathComponent("profiles").path])
        let source = try #require(configuration.sources.first { $0.type == "mqtt" }?.settings as? MQTTSourceSettings)
        #expect(source.subscriptions.map(\.filter) == ["sensors/+/temperature", "plant/#"])
        let sink = try #require(configuration.sinks.first { $0.type == "mqtt" })
        #expect(sink.backfillRate == 64 << 10)
        #expect(sink.commitMilliseconds == 10_000)
        #expect(configuration.sinks.first { $0.type == "stdout" }?.commitMilliseconds == 5000, "the default")
        #expect((sink.settings as? MQTTSinkSettings)?.connection.tls != nil)
        let kafka = try #require(configuration.sinks.first { $0.type == "kafka" }?.settings as? KafkaSinkSettings)
        #expect(kafka.tls != nil && kafka.sasl?.mechanism == .scramSHA512 && kafka.compression == .zstd)
        #expect(kafka.librdkafka == [.init("socket.keepalive.enable", "true")])
        let sysfs = try #require(configuration.sources.first { $0.type == "sysfs" }?.settings as? SysfsSourceSettings)
        #expect(sysfs.devices == [.init(kind: .thermal), .init(kind: .w1, match: "28-*")])
        #expect(sysfs.intervalMilliseconds == 30_000)
        let modbus = try #require(configuration.sources.first { $0.type == "modbus" }?.settings as? ModbusSourceSettings)
        #expect(modbus.port.parity == .even && modbus.devices.map(\.registers.count) == [2, 10])
        #expect(modbus.devices.first?.registers.last?.type == .float32)
        let gpio = try #require(configuration.sources.first { $0.type == "gpio" }?.settings as? GPIOSourceSettings)
        #expect(gpio.lines.map(\.line) == [.name("GPIO17"), .offset(27)] && gpio.lines[0].debounceMicroseconds == 5000)
        let serial = try #require(configuration.sources.first { $0.type == "serial" }?.settings as? SerialSourceSettings)
        #expect(serial.port.baud == 115_200 && serial.format == .csv && serial.fields == ["temp": "greenhouse.temperature"])
    }

    private static let hardware = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("hardware")

    /// The file at `path` read as the daemon reads it, with the profiles in hardware/profiles.
    private static func read(_ path: String, text: String? = nil) throws -> TributaryConfiguration {
        let machineID = FileManager.default.temporaryDirectory.appendingPathComponent("machine-id-\(UUID().uuidString)")
        try Data("0123456789abcdef0123456789abcdef\n".utf8).write(to: machineID)
        defer { try? FileManager.default.removeItem(at: machineID) }
        return try TributaryConfiguration.parse(try text ?? String(contentsOfFile: path, encoding: .utf8), file: path,
                                                machineIDPath: machineID.path, plugins: .tributary,
                                                profileDirectories: [hardware.appendingPathComponent("profiles").path])
    }

    @Test("the board configurations in hardware/ read without a mistake", arguments: ["raspberry-pi-4", "raspberry-pi-5"])
    func boards(_ board: String) throws {
        let configuration = try Self.read(Self.hardware.appendingPathComponent("boards/\(board).toml").path)
        #expect(configuration.sources.map(\.type) == ["serial", "sysfs", "gpio"])
        let gps = try #require(configuration.sources.first?.settings as? SerialSourceSettings)
        #expect(gps.port.baud == 9600 && gps.format == .nmea, "from the nmea-gps profile")
        let probes = try #require(configuration.sources[1].settings as? SysfsSourceSettings)
        #expect(probes.devices.last == .init(kind: .w1, match: "28-*"), "from the ds18b20 profile")
    }

    @Test("the energy meter's profile gives a Modbus device its register map")
    func energyMeterProfile() throws {
        let configuration = try Self.read("/etc/tributary/tributary.toml", text: """
            [device]
            [topics.readings]
            [[sources]]
            type = "modbus"
            topic = "readings"
            device = "/dev/ttyUSB0"
            baud = 2400
            [[sources.devices]]
            name = "meter"
            slave = 1
            profile = "eastron-sdm120"
            interval = "5s"
            """)
        let modbus = try #require(configuration.sources.first?.settings as? ModbusSourceSettings)
        let meter = try #require(modbus.devices.first)
        #expect(meter.intervalMilliseconds == 5000 && meter.registers.count == 10)
        #expect(meter.registers.allSatisfy { $0.table == .input && $0.type == .float32 })
        #expect(meter.registers.last.map { [$0.name, "\($0.address)"] } == ["total_energy", "342"])
    }
}
