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
            plugins: .tributary)
        let source = try #require(configuration.sources.first { $0.type == "mqtt" }?.settings as? MQTTSourceSettings)
        #expect(source.subscriptions.map(\.filter) == ["sensors/+/temperature", "plant/#"])
        let sink = try #require(configuration.sinks.first { $0.type == "mqtt" })
        #expect(sink.backfillRate == 64 << 10)
        #expect((sink.settings as? MQTTSinkSettings)?.connection.tls != nil)
        let kafka = try #require(configuration.sinks.first { $0.type == "kafka" }?.settings as? KafkaSinkSettings)
        #expect(kafka.tls != nil && kafka.sasl?.mechanism == .scramSHA512 && kafka.compression == .zstd)
        #expect(kafka.librdkafka == [.init("socket.keepalive.enable", "true")])
        let sysfs = try #require(configuration.sources.first { $0.type == "sysfs" }?.settings as? SysfsSourceSettings)
        #expect(sysfs.devices == [.init(kind: .thermal), .init(kind: .w1, match: "28-*")])
        #expect(sysfs.intervalMilliseconds == 30_000)
        let modbus = try #require(configuration.sources.first { $0.type == "modbus" }?.settings as? ModbusSourceSettings)
        #expect(modbus.port.parity == .even && modbus.devices.map(\.registers.count) == [2])
        #expect(modbus.devices.first?.registers.last?.type == .float32)
        let gpio = try #require(configuration.sources.first { $0.type == "gpio" }?.settings as? GPIOSourceSettings)
        #expect(gpio.lines.map(\.line) == [.name("GPIO17"), .offset(27)] && gpio.lines[0].debounceMicroseconds == 5000)
        let serial = try #require(configuration.sources.first { $0.type == "serial" }?.settings as? SerialSourceSettings)
        #expect(serial.port.baud == 115_200 && serial.format == .csv && serial.fields == ["temp": "greenhouse.temperature"])
    }

    @Test("the board configurations in hardware/ read without a mistake", arguments: ["raspberry-pi-4", "raspberry-pi-5"])
    func boards(_ board: String) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("hardware/boards/\(board).toml").path
        let machineID = FileManager.default.temporaryDirectory.appendingPathComponent("machine-id-\(UUID().uuidString)")
        try Data("0123456789abcdef0123456789abcdef\n".utf8).write(to: machineID)
        defer { try? FileManager.default.removeItem(at: machineID) }
        let configuration = try TributaryConfiguration.parse(try String(contentsOfFile: path, encoding: .utf8), file: path,
                                                             machineIDPath: machineID.path, plugins: .tributary)
        #expect(configuration.sources.map(\.type) == ["serial", "sysfs"])
    }
}
