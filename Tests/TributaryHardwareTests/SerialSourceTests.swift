import Foundation
import Testing
@testable import TributaryCore
@testable import TributaryHardware
import TributaryTestSupport

/// The serial source on real pseudo-terminals: the test writes a sensor's
/// lines on the master side, the source reads the slave through a symlink,
/// as it would a `/dev/serial/by-id/...` path.
@Suite(.serialized) struct SerialSourceTests {
    /// A pseudo-terminal standing in for a serial adapter.
    final class FakeSerialDevice {
        let master: Int32
        private let slave: Int32
        let path: String

        init() throws {
            var master: Int32 = 0
            var slave: Int32 = 0
            guard openpty(&master, &slave, nil, nil, nil) == 0 else { throw SocketFailure(call: "openpty", errno: errno) }
            // Raw from the start, so nothing written before the source sets the port up is cooked or echoed.
            var attributes = termios()
            tcgetattr(slave, &attributes)
            cfmakeraw(&attributes)
            tcsetattr(slave, TCSANOW, &attributes)
            self.master = master
            self.slave = slave
            // /dev/pts/N, from the slave's descriptor (Glibc's ptsname is not visible to Swift).
            self.path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(slave)")
        }

        func write(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) }
        }

        /// Unplugged: the reading side gets an error or end of file.
        func unplug() {
            close(master)
            close(slave)
        }
    }

    @Test func readsLinesCountsGarbageAndReadsAgainAfterAnUnplugAndReplug() async throws {
        let scratch = try Scratch()
        let link = scratch.path("ttyUSB-sensor")
        var device = try FakeSerialDevice()
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: device.path)
        var settings = SerialSourceSettings(device: link, format: .csv)
        settings.port.baud = 250_000  // not a standard rate: termios2 sets it
        settings.maxLine = 32
        settings.fields = ["door": "greenhouse.door"]
        let test = try SourceTestLog(directory: scratch.path("log"), source: "bench")
        let output = test.output
        let source = SerialSource(name: "bench", settings: settings)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await source.run(output: output) }
            device.write("temp,door\n")
            device.write("21.5,closed\n\u{01}\u{02}garbage,with,too,many\n")
            device.write(String(repeating: "x", count: 100) + "\n22.0,open\n")
            try await eventually { output.received >= 4 }
            #expect(output.received == 4)
            #expect(output.status.malformedByReason == ["wrong-field-count": 1, "oversize": 1],
                    "\(output.status.malformedByReason)")
            // Unplugged, then back at the same path (a new pseudo-terminal behind the symlink).
            device.unplug()
            try await eventually { output.status.error != nil }
            #expect(output.status.error?.contains(link) ?? false, "\(output.status.error ?? "no error")")
            device = try FakeSerialDevice()
            try FileManager.default.removeItem(atPath: link)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: device.path)
            let replugged = ContinuousClock.now
            // The first lines may go before the source has the new port: write until one arrives.
            var sent = 0
            while output.received < 6, ContinuousClock.now - replugged < .seconds(10) {
                device.write("23.\(sent),open\n")
                sent += 1
                try await Task.sleep(for: .milliseconds(50))
            }
            let elapsed = ContinuousClock.now - replugged
            // How soon is measured by `tributary-bench serial`; under the whole suite's load it varies.
            #expect(output.received >= 6, "read again \(elapsed) after the replug")
            #expect(output.status.error == nil && output.status.reconnects == 1)
            tasks.cancelAll()
        }
        let (readings, _) = try await test.finish()
        #expect(Set(readings.map(\.sensor)) == ["bench.temp", "greenhouse.door"])
        #expect(readings.contains { $0.sensor == "bench.temp" && $0.value == .double(21.5) })
        #expect(readings.contains { $0.sensor == "greenhouse.door" && $0.value == .string("open") })
        device.unplug()
    }

    @Test func nmeaSentencesWithABadChecksumAreDeadLetteredNeverStored() async throws {
        let scratch = try Scratch()
        let device = try FakeSerialDevice()
        let settings = SerialSourceSettings(device: device.path, format: .nmea)
        let test = try SourceTestLog(directory: scratch.path("log"), source: "gps")
        let output = test.output
        let source = SerialSource(name: "gps", settings: settings)
        let bad = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*46"
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await source.run(output: output) }
            // Written until a reading arrives (at most 10 s): the source may not have the port yet.
            let deadline = ContinuousClock.now + .seconds(10)
            while output.received == 0, ContinuousClock.now < deadline {
                device.write("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n")
                try await Task.sleep(for: .milliseconds(50))
            }
            device.write(bad + "\r\n")
            try await eventually { output.malformed >= 1 }
            #expect(output.status.malformedByReason == ["checksum": 1])
            tasks.cancelAll()
        }
        let (stored, kept) = try await test.finish()
        #expect(Set(stored.map(\.sensor)) == ["gps.latitude", "gps.longitude", "gps.fix_quality", "gps.satellites",
                                              "gps.hdop", "gps.altitude"])
        #expect(!stored.contains { $0.value == .double(545.4) && $0.sensor != "gps.altitude" })
        #expect(kept == [Reading(sensor: "gps", timestamp: kept.first?.timestamp ?? 0, value: .bytes(Array(bad.utf8)))],
                "the sentence as read, without the line end")
        device.unplug()
    }

    @Test func theSimulatedGPSInHardwareIsReadWithItsBadChecksumsAndGarbageCounted() async throws {
        let scratch = try Scratch()
        let link = scratch.path("gps")
        let simulator = Process()
        simulator.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        simulator.arguments = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("hardware/simulators/serial-sensor.py").path,
                               "--format", "nmea", "--link", link, "--interval", "0.05",
                               "--bad-checksum-every", "4", "--garbage-every", "7"]
        simulator.standardOutput = FileHandle.nullDevice
        try ProcessEnvironment.reading { try simulator.run() }
        defer { kill(simulator.processIdentifier, SIGKILL) }
        try await eventually { FileManager.default.fileExists(atPath: link) }
        let test = try SourceTestLog(directory: scratch.path("log"), source: "gps")
        let output = test.output
        let source = SerialSource(name: "gps", settings: SerialSourceSettings(device: link, format: .nmea))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await source.run(output: output) }
            try await eventually {
                let reasons = output.status.malformedByReason
                return output.received > 50 && reasons["checksum", default: 0] >= 2 && reasons.count >= 2
            }
            tasks.cancelAll()
        }
        let reasons = output.status.malformedByReason
        #expect(reasons["checksum", default: 0] >= 2, "\(reasons)")
        #expect(Set(reasons.keys).isSubset(of: ["checksum", "invalid-nmea", "missing-checksum", "invalid-utf8"]),
                "garbage lines are malformed too: \(reasons)")
        let (stored, kept) = try await test.finish()
        #expect(Set(stored.map(\.sensor)).isSuperset(of: ["gps.latitude", "gps.longitude", "gps.speed", "gps.course"]))
        #expect(kept.count == Int(reasons.values.reduce(0, +)), "every malformed line kept raw")
    }
}
