@testable import TributaryCore

/// InfluxDB line protocol (`LineProtocol.parse`, which MQTT payloads use): points
/// or a malformed reason; every point has a measurement and at least one field.
enum LineProtocolFuzz: FuzzTarget {
    static let name = "line-protocol"

    static func seeds() throws -> [[UInt8]] {
        [
            "weather,station=roof,site=north\\ yard temp=21.5,hum=40i,ok=true,name=\"a \\\"b\\\"\" 1767225600000000000\n",
            "cpu usage=0.5\n# a comment\n\ncpu,host=a usage=1u,load=-2.5e-3 1767225600\n",
            "m\\,x,t\\=k=v\\ w f=\"multi\nline\"\r\n",
        ].map { Array($0.utf8) }
    }

    static func check(_ input: [UInt8]) -> Bool {
        guard let points = try? LineProtocol.parse(input) else { return false }
        for point in points {
            precondition(!point.measurement.isEmpty && !point.fields.isEmpty, "an empty point: \(point)")
        }
        return !points.isEmpty
    }
}
