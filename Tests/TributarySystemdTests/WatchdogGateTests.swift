import Testing
import TributarySystemd

@Suite("The watchdog gate")
struct WatchdogGateTests {
    let start = ContinuousClock.now
    let limit = Duration.seconds(30)

    func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    func writer(_ completed: UInt64, backlog: UInt64) -> ComponentProgress {
        ComponentProgress(component: "writer sensors-0", completed: completed, backlog: backlog)
    }

    @Test("a component with backlog that stops progressing stops the pings after the limit, and progress resumes them")
    func stallAndRecovery() {
        var gate = WatchdogGate(stallLimit: limit)
        gate.observe(writer(10, backlog: 4), at: at(0))
        gate.observe(writer(20, backlog: 4), at: at(10))
        #expect(gate.shouldPing(at: at(10)))
        for second in stride(from: 15, through: 40, by: 5) {
            gate.observe(writer(20, backlog: 9), at: at(second))
            #expect(gate.shouldPing(at: at(second)), "stalled only \(second - 10)s")
        }
        gate.observe(writer(20, backlog: 9), at: at(41))
        #expect(!gate.shouldPing(at: at(41)))
        #expect(gate.stalls(at: at(41)) == [Stall(component: "writer sensors-0", backlog: 9, duration: .seconds(31))])

        gate.observe(writer(21, backlog: 9), at: at(45))
        #expect(gate.shouldPing(at: at(45)))
        #expect(gate.stalls(at: at(45)).isEmpty)
    }

    @Test("an idle component is never stalled, however long it waits")
    func idleIsHealthy() {
        var gate = WatchdogGate(stallLimit: limit)
        for second in stride(from: 0, through: 3600, by: 60) {
            gate.observe(writer(7, backlog: 0), at: at(second))
        }
        #expect(gate.shouldPing(at: at(3600)))
    }

    @Test("the stall clock starts at the last observation where the component was idle")
    func stallClockStartsWhenIdleEnds() {
        var gate = WatchdogGate(stallLimit: limit)
        gate.observe(writer(7, backlog: 0), at: at(0))
        gate.observe(writer(7, backlog: 0), at: at(100))
        gate.observe(writer(7, backlog: 3), at: at(110))
        #expect(gate.shouldPing(at: at(110)))
        gate.observe(writer(7, backlog: 3), at: at(131))
        #expect(!gate.shouldPing(at: at(131)))
    }

    @Test("without new observations a component last seen with backlog stalls as time passes")
    func silenceIsAStall() {
        var gate = WatchdogGate(stallLimit: limit)
        gate.observe(writer(1, backlog: 2), at: at(0))
        #expect(gate.shouldPing(at: at(30)))
        #expect(!gate.shouldPing(at: at(31)))
    }

    @Test("any change of the counter is progress, even going backwards after a restart", arguments: [UInt64(0), 99, 101])
    func anyChangeIsProgress(next: UInt64) {
        var gate = WatchdogGate(stallLimit: limit)
        gate.observe(writer(100, backlog: 5), at: at(0))
        gate.observe(writer(next, backlog: 5), at: at(29))
        #expect(gate.shouldPing(at: at(50)))
    }

    @Test("one stalled component withholds pings even when the others progress")
    func oneStallIsEnough() {
        var gate = WatchdogGate(stallLimit: limit)
        for second in stride(from: 0, through: 40, by: 10) {
            gate.observeAll([
                ComponentProgress(component: "forwarder kafka", completed: UInt64(second), backlog: 100),
                ComponentProgress(component: "writer sensors-0", completed: 3, backlog: 1),
            ], at: at(second))
        }
        #expect(gate.stalls(at: at(40)).map(\.component) == ["writer sensors-0"])
    }

    @Test("a component missing from a snapshot is forgotten and no longer holds back pings")
    func missingComponentsAreForgotten() {
        var gate = WatchdogGate(stallLimit: limit)
        gate.observeAll([writer(1, backlog: 5)], at: at(0))
        gate.observeAll([writer(1, backlog: 5)], at: at(40))
        #expect(!gate.shouldPing(at: at(40)))
        gate.observeAll([ComponentProgress(component: "forwarder mqtt", completed: 0, backlog: 0)], at: at(41))
        #expect(gate.shouldPing(at: at(41)))
        #expect(gate.components == ["forwarder mqtt"])
    }
}
