import Testing
@testable import ClarmStorage

@Suite struct CRC32CTests {
    /// The instruction and the tables agree on every length and alignment up to 256 bytes, from any start
    /// value, on random bytes.
    @Test(.enabled(if: CRC32C.hardwareAvailable, "this CPU has no CRC-32C instruction"))
    func hardwareAgreesWithTables() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(256 + 16)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes.withUnsafeBytes { all in
            for alignment in 0..<16 {
                for length in 0...256 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[alignment..<(alignment + length)])
                    let start = UInt32.random(in: 0...UInt32.max, using: &generator)
                    let hardware = CRC32C.hardwareUpdate(start, slice)
                    let software = CRC32C.softwareUpdate(start, slice)
                    if hardware != software {
                        Issue.record("length \(length), alignment \(alignment), start \(start): \(hardware) != \(software)")
                        return
                    }
                }
            }
        }
    }

    /// Both paths give the RFC 3720 check value, and chaining over a split equals one pass.
    @Test func bothPathsMatchKnownValuesAndChain() {
        let digits = Array("123456789".utf8)
        let paths: [(UInt32, UnsafeRawBufferPointer) -> UInt32] = CRC32C.hardwareAvailable
            ? [CRC32C.softwareUpdate, CRC32C.hardwareUpdate] : [CRC32C.softwareUpdate]
        for update in paths {
            digits.withUnsafeBytes { raw in
                #expect(update(0, raw) == 0xE306_9283)
                for split in 0...raw.count {
                    let first = update(0, UnsafeRawBufferPointer(rebasing: raw[..<split]))
                    #expect(update(first, UnsafeRawBufferPointer(rebasing: raw[split...])) == 0xE306_9283)
                }
            }
        }
    }
}
