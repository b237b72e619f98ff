import Testing
@testable import TributaryLog

@Test func smoke() throws {
    let dir = "/tmp/trib-smoke-\(UInt32.random(in: 0...UInt32.max))"
    var config = LogConfiguration(directory: dir)
    config.flush = .everyBatch
    config.segmentBytes = 64 << 10
    let log = try Log.open(config)
    let p = try log.topic("t", creatingWith: 1)[0]
    var all: [Reading] = []
    for t in 0..<200 {
        var batch: [Reading] = []
        for s in 0..<50 {
            let v: Value = s % 3 == 0 ? .double(Double(t) / 10) : s % 3 == 1 ? .int(Int64(t * s)) : .string(t % 7 == 0 ? "a" : "b")
            batch.append(Reading(sensor: "s\(s)", timestamp: 1000 * Int64(t) + Int64(s), value: v))
        }
        try p.append(batch)
        all += batch
    }
    #expect(p.durableOffset == 10000)
    print(p.segments.count, p.segments.map(\.length))
    let r = p.reader(from: 0)
    var got: [Reading] = []
    while true { let b = try r.next(); if b.isEmpty { break }; got += b.map(\.reading) }
    #expect(got == all)
    #expect(r.skippedReadings == 0)
    try log.close()
    let log2 = try Log.open(config)
    let p2 = try log2.partition("t", 0)
    print(p2.recovery)
    let r2 = p2.reader(from: 1234)
    let first = try r2.next()
    #expect(first.first?.offset == 1234)
    #expect(first.first?.reading == all[1234])
}
