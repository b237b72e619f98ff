import Foundation
import Testing
import TributaryTestSupport

/// `systemd-analyze verify` checks that ExecStart= names an existing executable, and the
/// daemon is not installed at /usr/bin/tributary on a build machine. Rather than edit the
/// unit, the test verifies it unchanged inside a throw-away root (`--root=`): the unit in
/// etc/systemd/system, a copy of the host's units (verify needs sysinit.target and friends)
/// and an executable stub at usr/bin/tributary.
private let analyzer = "/usr/bin/systemd-analyze"

@Suite(
    "The systemd unit",
    .enabled(if: FileManager.default.isExecutableFile(atPath: analyzer),
             "systemd-analyze is not installed (apt-get install systemd)")
)
struct UnitFileTests {
    static let unitPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("systemd/tributary.service").path

    @Test("systemd-analyze verify accepts systemd/tributary.service without a single warning")
    func verifies() throws {
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
        let result = try verify(unit)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.isEmpty, "\(result.output)")
    }

    @Test("the verification notices a mistake in the unit", arguments: [
        ("NoNewPrivileges=yes", "NoNewPrivileges=maybe"),
        ("WatchdogSec=30s", "WatchdogSec=thirty"),
        ("ExecStart=/usr/bin/tributary", "ExecStart=/usr/bin/tributary-missing"),
    ])
    func noticesMistakes(original: String, broken: String) throws {
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
        #expect(unit.contains(original))
        let result = try verify(unit.replacingOccurrences(of: original, with: broken))
        #expect(!result.output.isEmpty)
    }

    @Test("the unit keeps the settings the daemon relies on", arguments: [
        "Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "Restart=on-failure", "RestartPreventExitStatus=78",
        "TimeoutStopSec=15s",
        "User=tributary", "StateDirectory=tributary", "ConfigurationDirectory=tributary", "StartLimitBurst=5",
        "ExecStart=/usr/bin/tributary run --config /etc/tributary/tributary.toml", "MemoryMax=256M",
        "CapabilityBoundingSet=", "DevicePolicy=closed", "DeviceAllow=char-ttyUSB rw", "DeviceAllow=char-gpiochip rw",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service",
    ])
    func keepsSettings(setting: String) throws {
        let lines = try String(contentsOfFile: Self.unitPath, encoding: .utf8).split(separator: "\n")
        #expect(lines.contains { $0 == setting })
    }

    @Test("systemd-analyze security rates the unit's exposure at most 2.0")
    func exposure() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: analyzer)
        process.arguments = ["security", "--offline=yes", "--no-pager", Self.unitPath]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try ProcessEnvironment.reading { try process.run() }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "→ Overall exposure level for tributary.service: 1.5 OK 🙂" (":-)" where the locale is not UTF-8)
        let overall = output.split(separator: "\n").first { $0.contains("Overall exposure level") }
        let level = overall?.split(separator: " ").lazy.compactMap { Double($0) }.first
        #expect(level.map { $0 <= 2.0 } == true, "\(overall ?? Substring(output))")
    }

    private func verify(_ unit: String) throws -> (status: Int32, output: String) {
        let files = FileManager.default
        let root = files.temporaryDirectory.appendingPathComponent("tributary-unit-\(UUID().uuidString)")
        defer { try? files.removeItem(at: root) }
        let units = root.appendingPathComponent("etc/systemd/system")
        let vendorUnits = root.appendingPathComponent("usr/lib/systemd")
        let bin = root.appendingPathComponent("usr/bin")
        for directory in [units, vendorUnits, bin] {
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        try files.copyItem(atPath: "/usr/lib/systemd/system", toPath: vendorUnits.appendingPathComponent("system").path)
        try unit.write(to: units.appendingPathComponent("tributary.service"), atomically: true, encoding: .utf8)
        let stub = bin.appendingPathComponent("tributary").path
        try "#!/bin/sh\n".write(toFile: stub, atomically: true, encoding: .utf8)
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stub)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: analyzer)
        // The man page comes with the package: .ci/run verifies the installed unit with it.
        process.arguments = ["verify", "--man=no", "--root=\(root.path)", "tributary.service"]
        // Not our environment: the notifier tests set NOTIFY_SOCKET in this process at the same
        // time, and systemd-analyze sends "ERRNO=2" there when it fails.
        process.environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try ProcessEnvironment.reading { try process.run() }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (process.terminationStatus, text)
    }
}
