import CTributaryShims
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TributaryLog

/// The implementations of CRC-32C a process can use.
enum CRCPath: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case portable, hardware, dispatched

    var testDescription: String { rawValue }

    /// The paths this CPU can run (hardware only where it has the instructions).
    static var available: [CRCPath] {
        tributary_crc32c_hardware_available() != 0 ? allCases : [.portable, .dispatched]
    }

    func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        switch self {
        case .portable: return tributary_crc32c_portable(crc, bytes.baseAddress, bytes.count)
        case .hardware: return tributary_crc32c_hardware(crc, bytes.baseAddress, bytes.count)
        case .dispatched: return CRC32C.checksum(bytes, continuing: crc)
        }
    }

    func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }
}

/// The textbook bit-at-a-time CRC-32C, a third implementation to check both against.
func referenceCRC32C(_ bytes: some Sequence<UInt8>, continuing previous: UInt32 = 0) -> UInt32 {
    var crc = ~previous
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

struct CRC32CVector: CustomTestStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    var crc: UInt32
    var testDescription: String { name }

    /// Published vectors: the usual check value and RFC 3720 (iSCSI) appendix B.4.
    static let all: [CRC32CVector] = [
        .init(name: "empty", bytes: [], crc: 0),
        .init(name: "\"123456789\"", bytes: Array("123456789".utf8), crc: 0xE306_9283),
        .init(name: "32 zero bytes", bytes: [UInt8](repeating: 0, count: 32), crc: 0x8A91_36AA),
        .init(name: "32 0xFF bytes", bytes: [UInt8](repeating: 0xFF, count: 32), crc: 0x62A8_AB43),
        .init(name: "32 incrementing bytes", bytes: (0..<32).map { UInt8($0) }, crc: 0x46DD_794E),
        .init(name: "32 decrementing bytes", bytes: (0..<32).reversed().map { UInt8($0) }, crc: 0x113F_DB5C),
        .init(name: "iSCSI read command PDU",
              bytes: [0x01, 0xC0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                      0x14, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x14, 0, 0, 0, 0x18,
                      0x28, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0],
              crc: 0xD996_3A56),
    ]
}

@Suite("CRC-32C")
struct CRC32CTests {
    @Test("known vectors give the published checksums", arguments: CRCPath.available, CRC32CVector.all)
    func knownVectors(path: CRCPath, vector: CRC32CVector) {
        #expect(path.checksum(vector.bytes) == vector.crc)
        #expect(referenceCRC32C(vector.bytes) == vector.crc)
    }

    @Test("the hardware path is used exactly when the CPU advertises CRC32C instructions")
    func hardwareDetectionMatchesTheCPU() throws {
        #if arch(x86_64) || arch(arm64)
        let cpuinfo = String(decoding: try Files.read("/proc/cpuinfo"), as: UTF8.self)
        #if arch(x86_64)
        let advertised = cpuinfo.split(separator: "\n").contains { $0.hasPrefix("flags") && $0.contains(" sse4_2") }
        #else
        let advertised = cpuinfo.split(separator: "\n").contains { $0.hasPrefix("Features") && $0.contains(" crc32") }
        #endif
        #expect(CRC32C.isHardwareAccelerated == advertised)
        #else
        #expect(!CRC32C.isHardwareAccelerated)
        #endif
    }

    @Test("every length from 0 to 100 at every start alignment agrees across implementations",
          arguments: CRCPath.available)
    func lengthsAndAlignments(path: CRCPath) {
        var generator = SeededGenerator(seed: testSeed(0x5EED_C7C3, "CRC lengths and alignments"))
        let buffer = (0..<(100 + 16)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        buffer.withUnsafeBytes { all in
            for start in 0..<16 {
                for length in 0...100 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    let expected = referenceCRC32C(slice)
                    let got = path.checksum(slice)
                    if got != expected {
                        Issue.record("start \(start) length \(length): \(got) != \(expected)")
                        return
                    }
                }
            }
        }
    }

    @Test("a checksum continues across any split of the input", arguments: CRCPath.available)
    func chaining(path: CRCPath) {
        var generator = SeededGenerator(seed: testSeed(0xC4A1_2222, "CRC chaining"))
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let whole = path.checksum(bytes)
        #expect(whole == referenceCRC32C(bytes))
        for split in 0...bytes.count {
            let first = path.checksum(Array(bytes[..<split]))
            let chained = path.checksum(Array(bytes[split...]), continuing: first)
            if chained != whole {
                Issue.record("split at \(split): \(chained) != \(whole)")
                return
            }
        }
        // Three pieces, with the middle one starting unaligned.
        let a = path.checksum(Array(bytes[..<7]))
        let b = path.checksum(Array(bytes[7..<157]), continuing: a)
        #expect(path.checksum(Array(bytes[157...]), continuing: b) == whole)
    }

    @Test("a megabyte of random bytes gives the same checksum on every path")
    func largeBuffersAgree() {
        var generator = SeededGenerator(seed: testSeed(0xB16B_00B5, "CRC large buffer"))
        let bytes = (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let portable = CRCPath.portable.checksum(bytes)
        #expect(portable == referenceCRC32C(bytes))
        for path in CRCPath.available { #expect(path.checksum(bytes) == portable, "\(path)") }
        #expect(CRC32C.checksum(bytes) == portable)
    }

    @Test("a single flipped bit anywhere changes the checksum", arguments: CRCPath.available)
    func singleBitFlipsAreDetected(path: CRCPath) {
        var bytes = Array("tributary batch payload, 40 bytes or so!".utf8)
        let original = path.checksum(bytes)
        for bit in 0..<(bytes.count * 8) {
            bytes[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(path.checksum(bytes) != original, "bit \(bit)")
            bytes[bit / 8] ^= 1 << UInt8(bit % 8)
        }
    }
}
