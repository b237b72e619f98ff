// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "tributary",
    products: [
        .executable(name: "tributary", targets: ["tributary"]),
        .executable(name: "tributary-bench", targets: ["tributary-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // CRC32C (SSE4.2 / ARMv8 CRC instructions, portable fallback), fallocate, statx birth time,
        // the GPIO v2 uAPI and termios2: what Glibc leaves out or Swift cannot import.
        .target(name: "CTributaryShims"),
        // The storage engine: knows nothing of sensors hardware, MQTT or Kafka.
        .target(
            name: "TributaryLog",
            dependencies: [
                "CTributaryShims",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            exclude: ["FORMAT.md"]
        ),
        // Readings' journey from source to sink: configuration, router, pipeline,
        // the Source and Sink protocols, the simulated source and stdout sink.
        .target(
            name: "TributaryCore",
            dependencies: [
                "TributaryLog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Prometheus text on /metrics and JSON on /status over HTTP (SwiftNIO), and the
        // client `tributary status` uses.
        .target(
            name: "TributaryMetrics",
            dependencies: [
                "TributaryCore",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libmosquitto (MQTT 3.1.1 and 5 client), from Debian's libmosquitto-dev.
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        // The MQTT sink (and source), through libmosquitto.
        .target(
            name: "TributaryMQTT",
            dependencies: ["TributaryCore", "CMosquitto"]
        ),
        // librdkafka (Kafka producer, and its mock cluster for the tests), from Debian's librdkafka-dev.
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        // The Kafka sink, through librdkafka's idempotent producer.
        .target(
            name: "TributaryKafka",
            dependencies: ["TributaryCore", "CRdKafka"]
        ),
        // libmodbus (Modbus RTU master), from Debian's libmodbus-dev.
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        // Sources that read hardware: serial lines, Modbus RTU, kernel sensors through sysfs.
        .target(
            name: "TributaryHardware",
            dependencies: ["TributaryCore", "CTributaryShims", "CModbus"]
        ),
        // Every kind of source and sink the daemon runs, in one registry (`PluginRegistry.tributary`).
        .target(
            name: "TributaryPlugins",
            dependencies: ["TributaryCore", "TributaryMQTT", "TributaryKafka", "TributaryHardware"]
        ),
        // libsystemd (sd_notify, watchdog, journal), from Debian's libsystemd-dev.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // Running under systemd: readiness, status and watchdog notifications, journal logging.
        .target(
            name: "TributarySystemd",
            dependencies: [
                "TributaryCore",
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "tributary",
            dependencies: [
                "TributaryLog",
                "TributaryCore",
                "TributarySystemd",
                "TributaryMetrics",
                "TributaryPlugins",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "tributary-bench",
            dependencies: [
                "TributaryLog",
                "TributaryCore",
                "TributaryHardware",
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // What the tests that run the built binary share: a process runner, scratch
        // directories, a stand-in for systemd's notification socket.
        .target(
            name: "TributaryTestSupport",
            dependencies: [
                "TributaryLog",
                "TributaryCore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/TributaryTestSupport"
        ),
        .testTarget(
            name: "TributaryLogTests",
            // tributary-bench: CrashTests runs its crash-writer (and shares its workload code).
            dependencies: ["TributaryLog", "CTributaryShims", "tributary-bench", "TributaryTestSupport"]
        ),
        .testTarget(
            name: "TributaryCoreTests",
            dependencies: ["TributaryCore", "TributaryTestSupport"]
        ),
        .testTarget(
            name: "TributaryMetricsTests",
            dependencies: [
                "TributaryMetrics",
                "TributaryTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The MQTT sink and source against a real mosquitto broker the tests start.
        .testTarget(
            name: "TributaryMQTTTests",
            dependencies: [
                "TributaryMQTT",
                "TributaryTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The Kafka sink against librdkafka's mock cluster (run by tributary-bench), checked with kcat.
        .testTarget(
            name: "TributaryKafkaTests",
            dependencies: [
                "TributaryKafka",
                "tributary-bench",
                "TributaryTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The example configuration, its commented sources and sinks too, read with every plug-in.
        .testTarget(
            name: "TributaryPluginsTests",
            dependencies: ["TributaryPlugins", "TributaryMQTT", "TributaryKafka", "TributaryHardware",
                           "TributaryTestSupport"]
        ),
        // The hardware sources against what the kernel would show (a sysfs tree laid out as documented).
        .testTarget(
            name: "TributaryHardwareTests",
            dependencies: ["TributaryHardware", "TributaryTestSupport"]
        ),
        .testTarget(
            name: "TributarySystemdTests",
            dependencies: ["TributarySystemd", "TributaryTestSupport"]
        ),
        // The daemon end to end: `tributary run` and `demo` as processes, with a notification
        // socket, signals, the metrics endpoint, and the log they leave behind.
        .testTarget(
            name: "TributaryDaemonTests",
            dependencies: ["TributaryLog", "TributaryTestSupport", "tributary-bench"]
        ),
        // The fuzz targets' checks (Tests/Fuzz/run.sh builds each into a libFuzzer
        // binary), run here on their seeds and on the inputs fuzzing found.
        .testTarget(
            name: "TributaryFuzzTests",
            dependencies: ["TributaryLog", "TributaryCore", "TributaryHardware"],
            path: "Tests/Fuzz",
            exclude: ["run.sh", "Entry.swift", "Dictionaries", "Regressions"]
        ),
        // Runs the built `tributary` binary as a subprocess (`swift build` builds it first).
        .testTarget(
            name: "TributaryCLITests",
            dependencies: ["TributaryLog", "TributaryTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
