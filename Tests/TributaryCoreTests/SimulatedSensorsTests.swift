import Testing
import TributaryLog
@testable import TributaryCore

@Suite("Simulated sensors")
struct SimulatedSensorsTests {
    private func sensors(_ shapes: [SimulatedSourceConfiguration.Shape], count: Int = 4,
                         seed: UInt64 = 7) -> SimulatedSensors {
        var configuration = SimulatedSourceConfiguration()
        configuration.sensors = count
        configuration.shapes = shapes
        configuration.periodMilliseconds = 1000
        return SimulatedSensors(configuration: configuration, prefix: "sim", seed: seed)
    }

    private func doubles(_ readings: [Reading]) -> [Double] {
        readings.map { reading in
            guard case let .double(value) = reading.value else { return .nan }
            return value
        }
    }

    @Test("every sensor reports once a round, named by prefix and index, at the round's time")
    func roundShape() {
        var sim = sensors([.sine, .constant], count: 3)
        let readings = sim.round(at: 5000)
        #expect(readings.map(\.sensor) == ["sim-0", "sim-1", "sim-2"])
        #expect(readings.allSatisfy { $0.timestamp == 5000 })
        #expect(doubles(readings)[1] == 20)
    }

    @Test("shapes stay within 10 of 20 and are rounded to hundredths", arguments: SimulatedSourceConfiguration.Shape.allCases)
    func valuesInRange(shape: SimulatedSourceConfiguration.Shape) {
        var sim = sensors([shape])
        for t in stride(from: Int64(0), to: 5000, by: 37) {
            for value in doubles(sim.round(at: t)) {
                #expect((10...30).contains(value), "\(shape) at \(t): \(value)")
                #expect((value * 100).rounded() / 100 == value)
            }
        }
    }

    @Test("a sine sensor repeats with its period; the same seed gives the same random values")
    func deterministic() {
        var sine = sensors([.sine])
        #expect(doubles(sine.round(at: 250)) == doubles(sine.round(at: 1250)))
        #expect(doubles(sine.round(at: 250)) != doubles(sine.round(at: 500)))
        var a = sensors([.noise, .randomWalk], seed: 42)
        var b = sensors([.noise, .randomWalk], seed: 42)
        var c = sensors([.noise, .randomWalk], seed: 43)
        let first = (0..<10).flatMap { doubles(a.round(at: Int64($0))) }
        #expect(first == (0..<10).flatMap { doubles(b.round(at: Int64($0))) })
        #expect(first != (0..<10).flatMap { doubles(c.round(at: Int64($0))) })
    }
}
