import TributaryLog

/// Where readings come from: simulated sensors, a serial port, GPIO lines, a
/// Modbus device, a local MQTT topic. One value per configured `[[sources]]`.
///
/// A source turns what it reads into `Reading`s and hands them to its
/// `SourceOutput`, which routes them into the log. Input it cannot turn into
/// readings goes to `SourceOutput.reportMalformed`: counted, logged, kept in
/// the dead-letter topic if one is configured, and never a reason to stop.
public protocol Source: Sendable {
    /// The configured name, used in metrics and logs.
    var name: String { get }

    /// Reads until the task is cancelled (the daemon stopping), handing
    /// readings to `output`. Blocking reads belong on a thread of the
    /// source's own, never on the cooperative pool. Returning or throwing
    /// ends this source only; the error is logged and the daemon goes on.
    func run(output: SourceOutput) async throws
}
