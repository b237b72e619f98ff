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
    /// readings to `output`: `send` from the task, `handOver` from a thread
    /// of the source's own or a client library's callback thread. Blocking
    /// reads belong on such a thread, never on the cooperative pool; the
    /// thread is started here and ended before `run` returns. Health goes to
    /// `output.reportError`, `reportRecovered` and `reportReconnect`.
    /// Returning or throwing ends this source only: it shows as stopped (with
    /// the error) in the status, the error is logged, and the daemon goes on.
    func run(output: SourceOutput) async throws
}
