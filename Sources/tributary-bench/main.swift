#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// tributary-bench: benchmarks of tributary's components, and the helper
// processes the benchmarks and crash tests start and kill.

let usage = """
    usage: tributary-bench log [--json] [--quick]
             the log engine on the reference workload (see ReferenceWorkload.swift)
           tributary-bench pipeline [--json] [--seconds N]
             the daemon's data path (sim source -> log -> stdout sink to /dev/null) against raw appends
           tributary-bench drain [--json]
             a sink's forwarder working off a backlog of 1 M readings with 40 ms acknowledgements
           tributary-bench mqtt [--json] [--messages N] [--backlog N] [--large-backlog N]
             MQTT ingest and upstream publish against mosquitto's own clients, and peak RSS against backlog size
           tributary-bench kafka [--json] [--backlog N] [--large-backlog N]
             Kafka sink draining a backlog into the mock cluster against kcat -P, per compression; RSS after an outage
           tributary-bench serial [--json] [--seconds N] [--gpio]
             CPU reading a 115200-baud NMEA stream from a pseudo-terminal, and the time to read again after a replug;
             --gpio (under ../shared/tools/hwsim.sh): the CPU again with a 50 Hz GPIO counter on its gpio-sim chip
           tributary-bench modbus [--json] [--seconds N]
             whether Modbus polling keeps its schedule: simulated over 10 minutes, and tributary run on pymodbus's slaves
           tributary-bench idle [--json] [--seconds N]
             memory and CPU of `tributary run` (built beside this binary) with little to do
           tributary-bench endurance [--json] [--rounds N] [--seed S]
             kill -9 of `tributary run` at random moments, N times (1000), checking after each that nothing
             acknowledged was lost, then that everything in the log was delivered
           tributary-bench soak [--json] [--duration SECONDS] [--rate N]
             a busy day compressed: tributary run at N (20000) readings/s for SECONDS (600) with retention cycling;
             RSS, descriptors and threads must stay flat and the disk inside its budget
           tributary-bench flash [--json] [--seconds N] [--mount-options OPTIONS]
             bytes written to a fresh ext4 loop device per stored reading at 10, 100 and 1000 readings/s (root)
           tributary-bench power-cut [--json] [--appends N] [--seed S] [--hwsim PATH]
             power cuts at the block layer: N (400) appends per fsync policy recorded with dm-log-writes in
             ../shared/tools/hwsim.sh's VM, replayed to every flush and checked (root)
           tributary-bench power-cut-record --fsync every-batch|interval --appends N --seed S --out DIR
             benchmark support: the recording half of power-cut, inside the VM
           tributary-bench kafka-mock [--brokers N]
             test support: librdkafka's mock Kafka cluster on 127.0.0.1, driven by commands on standard input
           tributary-bench crash-writer --data DIR --seed N [--content-seed M] [--fsync every-batch|interval] [--paced]
             test support: appends forever, printing acknowledgements (--paced: waiting for a line after each)
           tributary-bench recovery-writer --data DIR --partitions P --segments K --segment-mib S
             benchmark support: fills a log, prints "ready" and waits to be killed
    """

/// The value after `name` in `arguments`, parsed; exits with the usage if missing or malformed.
func option<T: LosslessStringConvertible>(_ name: String, in arguments: ArraySlice<String>, default fallback: T? = nil) -> T {
    if let i = arguments.firstIndex(of: name), arguments.index(after: i) < arguments.endIndex,
       let value = T(arguments[arguments.index(after: i)]) {
        return value
    }
    if let fallback { return fallback }
    fail("\(name) is missing or malformed\n\(usage)")
}

func fail(_ message: String) -> Never {
    let text = Array("tributary-bench: \(message)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

let arguments = CommandLine.arguments.dropFirst()
do {
    switch arguments.first {
    case "log":
        let known: Set = ["--json", "--quick"]
        if let unknown = arguments.dropFirst().first(where: { !known.contains($0) }) {
            fail("unknown option \(unknown)\n\(usage)")
        }
        try LogBenchmark.run(quick: arguments.contains("--quick"), json: arguments.contains("--json"))
    case "pipeline":
        try await PipelineBenchmark.run(seconds: option("--seconds", in: arguments, default: 10),
                                        json: arguments.contains("--json"))
    case "drain":
        try await DrainBenchmark.run(json: arguments.contains("--json"))
    case "mqtt":
        try MQTTBenchmark.run(messages: option("--messages", in: arguments, default: 200_000),
                              backlog: option("--backlog", in: arguments, default: 1_000_000),
                              largeBacklog: option("--large-backlog", in: arguments, default: 10_000_000),
                              json: arguments.contains("--json"))
    case "kafka":
        try KafkaBenchmark.run(backlog: option("--backlog", in: arguments, default: 1_000_000),
                               largeBacklog: option("--large-backlog", in: arguments, default: 10_000_000),
                               json: arguments.contains("--json"))
    case "serial":
        try SerialBenchmark.run(seconds: option("--seconds", in: arguments, default: 60), gpio: arguments.contains("--gpio"),
                                json: arguments.contains("--json"))
    case "modbus":
        try ModbusBenchmark.run(seconds: option("--seconds", in: arguments, default: 120), json: arguments.contains("--json"))
    case "idle":
        try IdleBenchmark.run(seconds: option("--seconds", in: arguments, default: 60),
                              json: arguments.contains("--json"))
    case "endurance":
        try EnduranceBenchmark.run(rounds: option("--rounds", in: arguments, default: 1000),
                                   seed: arguments.contains("--seed") ? option("--seed", in: arguments) as UInt64 : nil,
                                   json: arguments.contains("--json"))
    case "soak":
        try SoakBenchmark.run(seconds: option("--duration", in: arguments, default: 600),
                              rate: option("--rate", in: arguments, default: 20_000), json: arguments.contains("--json"))
    case "flash":
        try FlashBenchmark.run(seconds: option("--seconds", in: arguments, default: 60),
                               mountOptions: arguments.contains("--mount-options") ? option("--mount-options", in: arguments) as String : nil,
                               json: arguments.contains("--json"))
    case "power-cut":
        try PowerCutBenchmark.run(appends: option("--appends", in: arguments, default: 400),
                                  seed: option("--seed", in: arguments, default: 1),
                                  hwsim: option("--hwsim", in: arguments, default: "../shared/tools/hwsim.sh"),
                                  json: arguments.contains("--json"))
    case "power-cut-record":
        try PowerCutBenchmark.record(fsync: option("--fsync", in: arguments), appends: option("--appends", in: arguments),
                                     seed: option("--seed", in: arguments), out: option("--out", in: arguments))
    case "kafka-mock":
        try KafkaMockCluster.run(brokers: option("--brokers", in: arguments, default: 3))
    case "crash-writer":
        guard let flush = CrashWriter.flushPolicies[option("--fsync", in: arguments, default: "every-batch")] else {
            fail("--fsync is every-batch or interval")
        }
        try CrashWriter.run(directory: option("--data", in: arguments), seed: option("--seed", in: arguments),
                            contentSeed: option("--content-seed", in: arguments, default: 1),
                            flush: flush, paced: arguments.contains("--paced"))
    case "recovery-writer":
        try RecoveryWriter.run(directory: option("--data", in: arguments), scale: .init(
            partitions: option("--partitions", in: arguments), segmentsPerPartition: option("--segments", in: arguments),
            segmentMiB: option("--segment-mib", in: arguments)))
    default:
        fail(usage)
    }
} catch {
    fail("\(error)")
}
