/// The `[metrics]` section: the Prometheus and status endpoint.
public struct MetricsConfiguration: Sendable, Equatable {
    /// `enabled`: whether the endpoint is served.
    public var enabled = true
    /// `listen`: host and port, loopback unless changed.
    public var host = "127.0.0.1"
    public var port = 9464

    /// Enabled on 127.0.0.1:9464.
    public init() {}

    /// `host:port`, with IPv6 hosts in brackets.
    public var listen: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func read(_ table: TableReader?) -> MetricsConfiguration {
        var metrics = MetricsConfiguration()
        guard let table else { return metrics }
        metrics.enabled = table.boolean("enabled") ?? metrics.enabled
        let expected = "an address and port like \"127.0.0.1:9464\" or \"[::1]:9464\""
        if let listen = table.string("listen", expected: expected) {
            if let (host, port) = parseListen(listen) {
                (metrics.host, metrics.port) = (host, port)
            } else {
                table.report("listen", "expected \(expected), found \"\(listen)\"")
            }
        }
        table.finish()
        return metrics
    }

    /// Splits `host:port` or `[v6]:port`; nil unless the port is 1-65535 and the host non-empty.
    public static func parseListen(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65_535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") && host.count > 2 {
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") || host.contains("[") || host.contains("]") {
            return nil
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        return (host, port)
    }
}
