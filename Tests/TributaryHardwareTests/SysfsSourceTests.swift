import Foundation
import Testing
@testable import TributaryCore
import TributaryTestSupport
@testable import TributaryHardware

/// The sysfs source against a fake sysfs tree laid out as the kernel
/// documents it (Debian's kernel has no IIO, hwmon or 1-Wire test driver).
@Suite struct SysfsSourceTests {
    /// A sysfs tree in a scratch directory.
    struct FakeSysfs {
        let root: String
        /// Kept so the tree lives as long as the value.
        private let scratch: Scratch

        init(_ scratch: Scratch) {
            self.scratch = scratch
            root = scratch.path("sys")
        }

        func write(_ path: String, _ text: String) throws {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        }

        func remove(_ path: String) throws { try FileManager.default.removeItem(atPath: root + "/" + path) }

        /// A Raspberry Pi-like box: the SoC's thermal zone and hwmon, a BME280 on IIO, an ADC with
        /// a raw channel, two DS18B20 probes on 1-Wire (one with a failed CRC).
        static func board(_ scratch: Scratch) throws -> FakeSysfs {
            let sys = FakeSysfs(scratch)
            try sys.write("class/thermal/thermal_zone0/type", "cpu-thermal\n")
            try sys.write("class/thermal/thermal_zone0/temp", "48312\n")
            try sys.write("class/hwmon/hwmon0/name", "cpu_thermal\n")
            try sys.write("class/hwmon/hwmon0/temp1_input", "48312\n")
            try sys.write("class/hwmon/hwmon1/name", "rpi_volt\n")
            try sys.write("class/hwmon/hwmon1/in0_lcrit_alarm", "0\n")
            try sys.write("class/hwmon/hwmon2/name", "pwmfan\n")
            try sys.write("class/hwmon/hwmon2/fan1_input", "2100\n")
            try sys.write("class/hwmon/hwmon2/fan1_label", "case fan\n")
            try sys.write("bus/iio/devices/iio:device0/name", "bme280\n")
            try sys.write("bus/iio/devices/iio:device0/in_temp_input", "21530\n")
            try sys.write("bus/iio/devices/iio:device0/in_pressure_input", "101.325\n")
            try sys.write("bus/iio/devices/iio:device0/in_humidityrelative_input", "45123\n")
            try sys.write("bus/iio/devices/iio:device1/name", "ads1015\n")
            try sys.write("bus/iio/devices/iio:device1/in_voltage0_raw", "1000\n")
            try sys.write("bus/iio/devices/iio:device1/in_voltage_scale", "3.0\n")
            try sys.write("bus/iio/devices/iio:device1/in_voltage0_offset", "-100\n")
            try sys.write("bus/w1/devices/w1_bus_master1/w1_master_slave_count", "2\n")
            try sys.write("bus/w1/devices/28-0316a2797aff/w1_slave",
                          "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n")
            try sys.write("bus/w1/devices/28-0416b3808b00/w1_slave",
                          "72 01 4b 46 7f ff 0e 10 57 : crc=5a NO\n72 01 4b 46 7f ff 0e 10 57 t=85000\n")
            return sys
        }
    }

    private static func values(_ poll: SysfsScanner.Poll) -> [String: Double] {
        Dictionary(poll.values.map { ($0.channel, $0.value) }) { $1 }
    }

    @Test("every kind of kernel sensor read in people's units; a failed 1-Wire CRC is malformed, not a reading")
    func everyKind() throws {
        let sys = try FakeSysfs.board(try Scratch())
        let poll = SysfsScanner(root: sys.root, devices: SysfsKind.allCases.map { .init(kind: $0) }).poll()
        #expect(Self.values(poll) == [
            "cpu-thermal.temp": 48.312, "cpu_thermal.temp1": 48.312, "pwmfan.case_fan": 2100,
            "bme280.temp": 21.53, "bme280.pressure": 101.325, "bme280.humidityrelative": 45.123,
            "ads1015.voltage0": 2.7,  // (1000 - 100) x 3.0 mV
            "28-0316a2797aff.temperature": 23.125,
        ])
        #expect(poll.malformed.map(\.reason) == ["crc"], "\(poll.malformed.map(\.detail))")
        #expect(poll.errors.isEmpty)
    }

    @Test("a glob picks devices by name; a device that matches nothing is an error naming the pattern")
    func matching() throws {
        let sys = try FakeSysfs.board(try Scratch())
        let probes = SysfsScanner(root: sys.root, devices: [.init(kind: .w1, match: "28-0316*"),
                                                              .init(kind: .hwmon, match: "cpu_*")]).poll()
        #expect(Self.values(probes) == ["28-0316a2797aff.temperature": 23.125, "cpu_thermal.temp1": 48.312])
        let missing = SysfsScanner(root: sys.root, devices: [.init(kind: .iio, match: "sht31")]).poll()
        #expect(missing.errors == ["no iio device matches \"sht31\" under \(sys.root)"])
    }

    @Test("two devices of one name are told apart by their directories")
    func sameName() throws {
        let sys = FakeSysfs(try Scratch())
        try sys.write("class/hwmon/hwmon3/name", "nvme\n")
        try sys.write("class/hwmon/hwmon3/temp1_input", "35000\n")
        try sys.write("class/hwmon/hwmon4/name", "nvme\n")
        try sys.write("class/hwmon/hwmon4/temp1_input", "36000\n")
        let poll = SysfsScanner(root: sys.root, devices: [.init(kind: .hwmon)]).poll()
        #expect(Self.values(poll) == ["nvme.hwmon3.temp1": 35, "nvme.hwmon4.temp1": 36])
    }

    @Test("the source polls on schedule; a probe that disappears fails the source until it is back")
    func sourceAcrossAnUnplug() async throws {
        let scratch = try Scratch()
        let sys = try FakeSysfs.board(scratch)
        var settings = SysfsSourceSettings()
        settings.root = sys.root
        settings.intervalMilliseconds = 100
        settings.devices = [.init(kind: .w1, match: "28-0316a2797aff")]
        let test = try SourceTestLog(directory: scratch.path("log"), source: "board")
        let output = test.output
        let source = SysfsSource(name: "board", settings: settings)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await source.run(output: output) }
            try await eventually { output.received >= 2 }
            try sys.remove("bus/w1/devices/28-0316a2797aff")
            try await eventually { output.status.error != nil }
            #expect(output.status.error == "no w1 device matches \"28-0316a2797aff\" under \(sys.root)")
            let before = output.received
            try sys.write("bus/w1/devices/28-0316a2797aff/w1_slave",
                          "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=19500\n")
            try await eventually { output.status.error == nil && output.received > before }
            #expect(output.status.error == nil && output.received > before, "reading again")
            tasks.cancelAll()
        }
        let (readings, _) = try await test.finish()
        #expect(Set(readings.map(\.sensor)) == ["board.28-0316a2797aff.temperature"])
        #expect(readings.contains { $0.value == .double(19.5) })
    }
}
