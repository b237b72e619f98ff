#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import TributaryCore

/// `tributary-bench serial`: the CPU `tributary run` spends reading a GPS's
/// NMEA stream at full 115200 baud (11,520 bytes a second of GGA, RMC and
/// VTG sentences on a pseudo-terminal), over `seconds`; then how soon it
/// reads again after the device is unplugged and a new one appears at the
/// same (symlinked) path. With `gpio` (under `../shared/tools/hwsim.sh`, whose
/// gpio-sim chip it uses), the CPU again with a 50 Hz pulse train on a GPIO
/// counter as well, flipped through the simulator's `pull` file.
enum SerialBenchmark {
    static let cpuTarget = 1.0
    static let replugTarget = 2.0
    /// 115200 baud, 8N1: ten bits a byte.
    static let bytesPerSecond = 11_520

    /// A pseudo-terminal: the writer's end and the path of the reader's.
    private final class Terminal: @unchecked Sendable {
        let master: Int32
        let slave: Int32
        let path: String

        init() {
            var master: Int32 = 0
            var slave: Int32 = 0
            guard openpty(&master, &slave, nil, nil, nil) == 0 else { fail("openpty: \(String(cString: strerror(errno)))") }
            // Not inherited by the daemon: its copy of the master would keep the line up after an unplug.
            _ = fcntl(master, F_SETFD, FD_CLOEXEC)
            _ = fcntl(slave, F_SETFD, FD_CLOEXEC)
            var attributes = termios()
            tcgetattr(slave, &attributes)
            cfmakeraw(&attributes)
            tcsetattr(slave, TCSANOW, &attributes)
            var buffer = [CChar](repeating: 0, count: 256)
            let length = readlink("/proc/self/fd/\(slave)", &buffer, buffer.count - 1)
            self.master = master
            self.slave = slave
            self.path = String(decoding: buffer.prefix(max(0, length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        func unplug() {
            close(master)
            close(slave)
        }
    }

    /// Feeds the daemon NMEA at the line's rate through `terminal`, from a thread of its own until stopped.
    private final class NMEAWriter: Sendable {
        let stop = Atomic(false)
        let master: Mutex<Int32>

        init(_ terminal: Terminal) throws {
            master = Mutex(terminal.master)
            try DedicatedThread.start(name: "nmea-writer") { [self] in
                var step = 0
                var sent = 0
                let start = Stopwatch()
                while !stop.load(ordering: .relaxed) {
                    // Paced to the line's rate: what 115200 baud carries in the time so far.
                    if Double(sent) < start.elapsedSeconds * Double(bytesPerSecond) {
                        let line = Array(sentences(step).joined().utf8)
                        _ = master.withLock { fd in line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
                        sent += line.count
                        step += 1
                    } else {
                        usleep(10_000)
                    }
                }
            }
        }

        func finish() { stop.store(true, ordering: .relaxed) }
    }

    /// A square wave of `hertz` on a gpio-sim line, flipped through its `pull` file from a thread of its own.
    private final class PulseTrain: Sendable {
        let stop = Atomic(false)

        init(pullFile: String, hertz: Int) throws {
            let descriptor = open(pullFile, O_WRONLY | O_CLOEXEC)
            try FileIO.check(Int(descriptor), "open", pullFile)
            try DedicatedThread.start(name: "pulses") { [self] in
                let half = 1.0 / Double(hertz) / 2
                let start = Stopwatch()
                var flips = 0
                while !stop.load(ordering: .relaxed) {
                    let text = Array((flips % 2 == 0 ? "pull-up" : "pull-down").utf8)
                    _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
                    flips += 1
                    let wait = Double(flips) * half - start.elapsedSeconds
                    if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
                }
                close(descriptor)
            }
        }

        func finish() { stop.store(true, ordering: .relaxed) }
    }

    /// The serial source's table, reading the pseudo-terminal at `link`.
    private static func serialSource(_ link: String) -> String {
        """
        [[sources]]
        type = "serial"
        name = "gps"
        topic = "readings"
        device = "\(link)"
        baud = 115200
        format = "nmea"
        """
    }

    static func run(seconds: Int, gpio: Bool, json: Bool) throws {
        let executable = FileIO.besideThisExecutable("tributary")
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-serial-")
        defer { FileIO.removeTree(root) }
        say("tributary-bench serial: \(executable); data in \(root), removed at the end")
        say("targets: a 115200-baud NMEA stream under \(cpuTarget)% of one core; read again within \(replugTarget) s of a replug")
        let link = root + "/gps"
        var terminal = Terminal()
        try FileIO.check(Int(symlink(terminal.path, link)), "symlink", link)
        let daemon = try Daemon(executable: executable, directory: root + "/nmea",
                                body: serialSource(link))
        let writer = try NMEAWriter(terminal)
        let (cpu, rate) = measure(daemon, seconds: seconds)
        say("NMEA at 115200 baud  \(Format.fixed(cpu, 3))% of one core over \(seconds) s, "
            + "\(Format.grouped(Int64(rate))) readings/s   [target < \(cpuTarget)%: \(Format.verdict(cpu < cpuTarget))]")

        // Unplugged; then a new device at the same path.
        writer.master.withLock { _ in terminal.unplug() }  // the writer goes on with the new master below
        let up = "tributary_source_up{source=\"gps\",topic=\"readings\"}"
        guard daemon.waitFor(seconds: 10, { Loopback.sample($0, up) == 0 }) else { fail("the unplug was not noticed") }
        terminal = Terminal()
        unlink(link)
        try FileIO.check(Int(symlink(terminal.path, link)), "symlink", link)
        writer.master.withLock { $0 = terminal.master }
        var atReplug = 0.0
        _ = daemon.waitFor(seconds: 1) { atReplug = Loopback.sample($0, received) ?? 0; return true }
        let replugged = Stopwatch()
        guard daemon.waitFor(seconds: 30, { (Loopback.sample($0, received) ?? 0) > atReplug }) else {
            fail("tributary did not read the new device")
        }
        let replug = replugged.elapsedSeconds
        say("replug              read again \(Format.fixed(replug, 2)) s after the device reappeared   "
            + "[target < \(replugTarget) s: \(Format.verdict(replug < replugTarget))]")
        daemon.stop()
        var report = BenchReport()
        report.add("nmea_cpu_percent", cpu)
        report.add("nmea_readings_per_s", rate, digits: 0)
        report.add("cpu_target_met", cpu < cpuTarget)
        report.add("replug_seconds", replug, digits: 2)
        report.add("replug_target_met", replug < replugTarget)
        if gpio {
            let together = try measureWithGPIO(link: link, root: root, seconds: seconds)
            say("NMEA and a 50 Hz GPIO counter  \(Format.fixed(together, 3))% of one core, "
                + "\(Format.fixed(together - cpu, 3)) points more than NMEA alone   "
                + "[target < \(cpuTarget)%: \(Format.verdict(together < cpuTarget))]")
            report.add("nmea_and_gpio_cpu_percent", together)
            report.add("gpio_cpu_percent", together - cpu)
        }
        writer.finish()
        writer.master.withLock {
            terminal.unplug()
            $0 = -1
        }
        if json { say(report.json) }
    }

    private static let received = "tributary_source_readings_received_total{source=\"gps\",topic=\"readings\"}"

    /// The daemon's CPU over `seconds` once it reads, in percent of one core, and its readings a second.
    private static func measure(_ daemon: Daemon, seconds: Int) -> (cpu: Double, readingsPerSecond: Double) {
        guard daemon.waitFor(seconds: 30, { (Loopback.sample($0, received) ?? 0) > 0 }) else {
            fail("tributary read nothing from the serial port")
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let before = daemon.cpuTicks()
        var readingsBefore = 0.0
        _ = daemon.waitFor(seconds: 1) { readingsBefore = Loopback.sample($0, received) ?? 0; return true }
        let stopwatch = Stopwatch()
        sleep(UInt32(seconds))
        let cpu = Double(daemon.cpuTicks() - before) / ticks / stopwatch.elapsedSeconds * 100
        var readingsAfter = 0.0
        _ = daemon.waitFor(seconds: 1) { readingsAfter = Loopback.sample($0, received) ?? 0; return true }
        return (cpu, (readingsAfter - readingsBefore) / stopwatch.elapsedSeconds)
    }

    /// A second daemon reading the NMEA stream at `link` and counting 50 Hz pulses on line 0 of hwsim's chip.
    private static func measureWithGPIO(link: String, root: String, seconds: Int) throws -> Double {
        guard let simulator = getenv("HWSIM_GPIOSIM").map({ String(cString: $0) }) else {
            fail("--gpio runs under ../shared/tools/hwsim.sh, which sets up the gpio-sim chip (HWSIM_GPIOSIM)")
        }
        let daemon = try Daemon(executable: FileIO.besideThisExecutable("tributary"), directory: root + "/gpio",
                                body: serialSource(link) + """

                                    [[sources]]
                                    type = "gpio"
                                    name = "yard"
                                    topic = "readings"
                                    chip = "tributary-sim"
                                    [[sources.lines]]
                                    line = 0
                                    name = "rain"
                                    mode = "counter"
                                    interval = "10s"
                                    """)
        let pulses = try PulseTrain(pullFile: simulator + "/sim_gpio0/pull", hertz: 50)
        let (cpu, _) = measure(daemon, seconds: seconds)
        pulses.finish()
        daemon.stop()
        return cpu
    }

    /// A round of a moving GPS's sentences, checksums right, CR LF after each.
    private static func sentences(_ step: Int) -> [String] {
        let latitude = "480" + Format.fixed(7.038 + Double(step % 1000) / 10_000, 4)  // 48 degrees, 07.xxxx minutes
        return ["GPGGA,123519,\(latitude),N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
                "GPRMC,123519,A,\(latitude),N,01131.000,E,022.4,084.4,230394,003.1,W",
                "GPVTG,054.7,T,034.4,M,005.5,N,010.2,K"].map { body in
            let sum = body.utf8.reduce(UInt8(0), ^)
            let hex = String(sum, radix: 16, uppercase: true)
            return "$\(body)*\(hex.count == 1 ? "0" + hex : hex)\r\n"
        }
    }
}
