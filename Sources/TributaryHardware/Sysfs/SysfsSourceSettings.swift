import TributaryCore

/// Settings of a `type = "sysfs"` source: sensors with kernel drivers (IIO,
/// hwmon, 1-Wire, thermal zones) read from sysfs at an interval.
public struct SysfsSourceSettings: SourceSettings {
    public static let type = "sysfs"

    /// `root`: where sysfs is mounted (tests point it at a fake tree).
    public var root = "/sys"
    /// `interval`: how often every matched sensor is read.
    public var intervalMilliseconds: Int64 = 10_000
    /// `[[sources.devices]]`: which devices to read; none given: every device of every kind.
    public var devices: [DeviceMatch] = SysfsKind.allCases.map { DeviceMatch(kind: $0) }

    /// One `[[sources.devices]]` table: a kind and a glob over device names.
    public struct DeviceMatch: Sendable, Equatable {
        public var kind: SysfsKind
        /// `match`: a glob (`*`, `?`, `[...]`) over the device's name: hwmon's
        /// and IIO's `name` file, a 1-Wire id like `28-0316a2797aff`, a thermal zone's `type`.
        public var match = "*"

        public init(kind: SysfsKind, match: String = "*") {
            self.kind = kind
            self.match = match
        }
    }

    public init() {}

    public var summary: String {
        "\(devices.map { "\($0.kind.rawValue) \($0.match)" }.joined(separator: ", ")) every "
            + "\(Double(intervalMilliseconds) / 1000)s from \(root)"
    }

    public func makeSource(name: String, context: PluginContext) throws -> any Source {
        SysfsSource(name: name, settings: self)
    }

    public static func read(_ table: TableReader) -> SysfsSourceSettings? {
        var settings = SysfsSourceSettings()
        if let root = table.string("root", expected: "the directory sysfs is mounted on, like \"/sys\"") {
            if root.hasPrefix("/") { settings.root = root } else { table.report("root", "expected an absolute path, found \"\(root)\"") }
        }
        settings.intervalMilliseconds = table.milliseconds("interval", atLeast: 100) ?? settings.intervalMilliseconds
        if let tables = table.tables("devices") {
            if tables.isEmpty { table.report("devices", "expected at least one [[sources.devices]] table") }
            var devices: [DeviceMatch] = []
            for device in tables {
                let kind = device.choice("kind", among: SysfsKind.allCases)
                if !device.contains("kind") {
                    device.reportMissing("kind", expected: SysfsKind.allCases.map { "\"\($0.rawValue)\"" }
                        .joined(separator: ", "))
                }
                let match = device.string("match", expected: "a glob over device names like \"28-*\"") ?? "*"
                device.finish()
                if let kind { devices.append(DeviceMatch(kind: kind, match: match)) }
            }
            if !devices.isEmpty { settings.devices = devices }
        }
        return settings
    }
}

/// The kinds of kernel sensors a sysfs source reads.
public enum SysfsKind: String, Sendable, CaseIterable {
    /// Industrial I/O devices (`/sys/bus/iio/devices/iio:deviceN`): ADCs, BME280, ...
    case iio
    /// Hardware monitors (`/sys/class/hwmon/hwmonN`): temperatures, voltages, fans.
    case hwmon
    /// 1-Wire thermometers (`/sys/bus/w1/devices/28-...`): DS18B20 and kin.
    case w1
    /// Thermal zones (`/sys/class/thermal/thermal_zoneN`): the SoC's temperature.
    case thermal
}
