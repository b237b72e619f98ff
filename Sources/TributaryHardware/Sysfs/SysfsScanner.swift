#if canImport(Glibc)
import Glibc
#endif
import TributaryCore

/// Finds the channels of the devices a sysfs source matches and reads them,
/// as the kernel documents its files: IIO (`in_*_input`, or `in_*_raw` with
/// `_offset` and `_scale`: value = (raw + offset) x scale), hwmon
/// (`temp*_input`, `in*_input`, `fan*_input`, ...), 1-Wire (`w1_slave` with
/// its CRC check, else `temperature`) and thermal zones (`temp`).
///
/// Values are converted to the units people read: degrees Celsius, volts,
/// amperes, watts, percent (the kernel's milli-units divided by 1000, its
/// micro-watts by 1,000,000); others (fan rpm, pressure in kPa) as the kernel gives them.
/// Blocking: a 1-Wire read takes most of a second. Run it on a thread of its own.
struct SysfsScanner {
    let root: String
    let devices: [SysfsSourceSettings.DeviceMatch]

    /// A value read, a device that could not be read, or input that is not a value.
    struct Poll {
        var values: [(channel: String, value: Double)] = []
        var errors: [String] = []
        var malformed: [(raw: [UInt8], reason: String, detail: String)] = []
    }

    /// One readable channel: where its value is, and how to turn it into one.
    struct Channel: Equatable {
        /// `device.channel`, like `cpu_thermal.temp` or `bme280.pressure`.
        var name: String
        var file: String
        var kind: Kind
        var divisor: Double

        enum Kind: Equatable {
            /// A decimal number (possibly with a raw value's offset and scale applied).
            case number(offset: String?, scale: String?)
            /// A 1-Wire `w1_slave` file: a CRC line ending YES or NO, then `t=` milli-degrees.
            case w1Slave
        }
    }

    /// Reads every channel of every matched device now.
    func poll() -> Poll {
        var poll = Poll()
        for match in devices {
            let channels = self.channels(match)
            if channels.isEmpty, match.match != "*" {
                poll.errors.append("no \(match.kind.rawValue) device matches \"\(match.match)\" under \(root)")
            }
            for channel in channels { read(channel, into: &poll) }
        }
        return poll
    }

    /// The channels of the devices `match` selects, named by device and channel.
    func channels(_ match: SysfsSourceSettings.DeviceMatch) -> [Channel] {
        let found: [(device: String, channels: [Channel])]
        switch match.kind {
        case .hwmon: found = devices(in: "class/hwmon", prefix: "hwmon", nameFile: "name", match.match, hwmonChannels)
        case .iio: found = devices(in: "bus/iio/devices", prefix: "iio:device", nameFile: "name", match.match, iioChannels)
        case .thermal:
            found = devices(in: "class/thermal", prefix: "thermal_zone", nameFile: "type", match.match) { directory, device in
                access(directory + "/temp", R_OK) == 0
                    ? [Channel(name: device + ".temp", file: directory + "/temp", kind: .number(offset: nil, scale: nil),
                               divisor: 1000)]
                    : []
            }
        case .w1:
            // A slave's directory is named family-serial, like 28-0316a2797aff; bus masters are not.
            let base = root + "/bus/w1/devices"
            found = directoryEntries(base).filter { $0.contains("-") && fnmatch(match.match, $0, 0) == 0 }.map { id in
                let directory = base + "/" + id
                if access(directory + "/w1_slave", R_OK) == 0 {
                    return (id, [Channel(name: id + ".temperature", file: directory + "/w1_slave", kind: .w1Slave, divisor: 1000)])
                }
                if access(directory + "/temperature", R_OK) == 0 {
                    return (id, [Channel(name: id + ".temperature", file: directory + "/temperature",
                                         kind: .number(offset: nil, scale: nil), divisor: 1000)])
                }
                return (id, [])
            }
        }
        return found.flatMap(\.channels)
    }

    /// The devices under `class` whose directory starts with `prefix` and
    /// whose name (from `nameFile`) matches `glob`, with their channels. A
    /// name shared by several devices is told apart by the directory's (`nvme.hwmon3`).
    private func devices(in directory: String, prefix: String, nameFile: String, _ glob: String,
                         _ channels: (String, String) -> [Channel]) -> [(device: String, channels: [Channel])] {
        let base = root + "/" + directory
        let named = directoryEntries(base).filter { $0.hasPrefix(prefix) }.compactMap { entry -> (String, String)? in
            let name = (try? TextFile.read(base + "/" + entry + "/" + nameFile, limit: 256))?.trimmingNewlines ?? entry
            return fnmatch(glob, name, 0) == 0 ? (entry, name) : nil
        }
        let counts = Dictionary(named.map { ($0.1, 1) }, uniquingKeysWith: +)
        return named.map { entry, name in
            let device = counts[name, default: 0] > 1 ? "\(name).\(entry)" : name
            return (device, channels(base + "/" + entry, device))
        }
    }

    /// hwmon's `<type><n>_input` files; a `<type><n>_label` names the channel.
    private func hwmonChannels(_ directory: String, _ device: String) -> [Channel] {
        let divisors: [(String, Double)] = [("temp", 1000), ("in", 1000), ("curr", 1000), ("power", 1_000_000),
                                            ("humidity", 1000), ("fan", 1)]
        return directoryEntries(directory).filter { $0.hasSuffix("_input") }.compactMap { file in
            let stem = String(file.dropLast("_input".count))
            guard let (_, divisor) = divisors.first(where: { stem.hasPrefix($0.0) && Int(stem.dropFirst($0.0.count)) != nil })
            else { return nil }
            let label = (try? TextFile.read(directory + "/" + stem + "_label", limit: 256))?.trimmingNewlines
            let channel = label.map(Self.sensorWord) ?? stem
            return Channel(name: device + "." + channel, file: directory + "/" + file, kind: .number(offset: nil, scale: nil),
                           divisor: divisor)
        }
    }

    /// IIO's `in_<channel>_input` (processed), else `in_<channel>_raw` with
    /// the channel's or its type's `_offset` and `_scale`.
    private func iioChannels(_ directory: String, _ device: String) -> [Channel] {
        let files = directoryEntries(directory)
        let inputs = Set(files.filter { $0.hasPrefix("in_") && $0.hasSuffix("_input") }.map { String($0.dropFirst(3).dropLast(6)) })
        let raws = Set(files.filter { $0.hasPrefix("in_") && $0.hasSuffix("_raw") }.map { String($0.dropFirst(3).dropLast(4)) })
        return inputs.union(raws).sorted().map { channel in
            // in_voltage0 -> voltage; in_temp -> temp; in_humidityrelative -> humidityrelative.
            let type = String(channel.prefix { !$0.isNumber })
            let divisor: Double = ["temp", "voltage", "current", "humidityrelative"].contains(type) ? 1000 : 1
            if inputs.contains(channel) {
                return Channel(name: device + "." + channel, file: directory + "/in_\(channel)_input",
                               kind: .number(offset: nil, scale: nil), divisor: divisor)
            }
            func attribute(_ suffix: String) -> String? {
                [channel, type].map { directory + "/in_\($0)_\(suffix)" }.first { access($0, R_OK) == 0 }
            }
            return Channel(name: device + "." + channel, file: directory + "/in_\(channel)_raw",
                           kind: .number(offset: attribute("offset"), scale: attribute("scale")), divisor: divisor)
        }
    }

    /// Reads `channel` into `poll`: a value, an error, or malformed input.
    private func read(_ channel: Channel, into poll: inout Poll) {
        let text: String
        do {
            text = try TextFile.read(channel.file, limit: 4096)
        } catch {
            poll.errors.append("cannot read \(channel.file): \(error)")
            return
        }
        switch channel.kind {
        case let .number(offsetFile, scaleFile):
            guard let raw = Double(text.trimmingNewlines) else {
                poll.malformed.append((Array(text.utf8), "not-a-number", "\(channel.file) holds no number"))
                return
            }
            var value = raw
            do {
                if let offsetFile, let offset = Double(try TextFile.read(offsetFile, limit: 256).trimmingNewlines) {
                    value += offset
                }
                if let scaleFile, let scale = Double(try TextFile.read(scaleFile, limit: 256).trimmingNewlines) {
                    value *= scale
                }
            } catch {
                poll.errors.append("cannot read the scale or offset of \(channel.file): \(error)")
                return
            }
            poll.values.append((channel.name, value / channel.divisor))
        case .w1Slave:
            // "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
            let lines = text.split(separator: "\n")
            guard lines.count >= 2, lines[0].hasSuffix("YES") else {
                let reason = lines.first?.hasSuffix("NO") == true ? "crc" : "invalid-w1"
                poll.malformed.append((Array(text.utf8), reason, "\(channel.file): the sensor's CRC check failed"))
                return
            }
            guard let field = lines[1].split(separator: " ").last, field.hasPrefix("t="), let milli = Double(field.dropFirst(2)) else {
                poll.malformed.append((Array(text.utf8), "invalid-w1", "\(channel.file) has no t= value"))
                return
            }
            poll.values.append((channel.name, milli / channel.divisor))
        }
    }

    /// A label as a word in a sensor id: spaces become `_`.
    private static func sensorWord(_ label: String) -> String {
        String(label.map { $0 == " " || $0 == "/" ? "_" : $0 })
    }
}

extension String {
    /// Without the trailing newline (and spaces) sysfs files end with.
    var trimmingNewlines: String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == " " || last == "\r" { text.removeLast() }
        return String(text)
    }
}

/// The names in `directory` (not `.` and `..`), sorted; none when it cannot be read.
func directoryEntries(_ directory: String) -> [String] {
    guard let handle = opendir(directory) else { return [] }
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != ".", name != ".." { names.append(name) }
    }
    return names.sorted()
}
