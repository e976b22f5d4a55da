import ClarmStorage

/// Today's segment layout (docs/FORMAT.md, "Segments"), read leniently: just enough to find every checksum
/// of an image and write the right one, whatever else the fuzzer changed. Kept apart from the harness so
/// that a format change touches only this file.
enum SegmentImage {
    static let headerSize = 8
    /// footerOffset u64 | footerLength u32 | footerCRC u32 | fileCRC u32 | "CLSE"
    static let tailSize = 24
    /// offset u64 | storedLength u32 | rawLength u32 | crc u32
    static let blockRefSize = 20
    static let dictionaryEncoding: UInt8 = 1

    /// A copy of `image` with every block reference's CRC, the footer CRC and the file CRC recomputed;
    /// `image` itself when it has no footer to follow.
    static func withValidChecksums(_ image: [UInt8]) -> [UInt8] {
        var bytes = image
        guard bytes.count >= headerSize + tailSize else { return bytes }
        let tail = bytes.count - tailSize
        let footerOffset = Int(truncatingIfNeeded: load(UInt64.self, bytes, at: tail))
        let footerLength = Int(load(UInt32.self, bytes, at: tail + 8))
        guard footerOffset >= headerSize, footerOffset <= tail, footerLength == tail - footerOffset else { return bytes }
        let version = load(UInt32.self, bytes, at: 4)
        for crcAt in blockRefChecksums(bytes, footer: footerOffset..<tail, version: version) {
            let offset = Int(truncatingIfNeeded: load(UInt64.self, bytes, at: crcAt - 16))
            let storedLength = Int(load(UInt32.self, bytes, at: crcAt - 8))
            guard offset >= 0, offset <= footerOffset, storedLength <= footerOffset - offset else { continue }
            store(checksum(bytes, offset..<(offset + storedLength)), in: &bytes, at: crcAt)
        }
        store(checksum(bytes, footerOffset..<tail), in: &bytes, at: tail + 12)
        store(checksum(bytes, 0..<footerOffset), in: &bytes, at: tail + 16)
        return bytes
    }

    /// Offsets of the `crc` field of every block reference in the footer, as far as the footer parses.
    /// A dictionary column holds `blockref | dictionaryCount u32` in version 1, and
    /// `dictionaryCount u32 | dictBlockCount u32 | (blockref | entries u32) × dictBlockCount` from version 2 on.
    static func blockRefChecksums(_ bytes: [UInt8], footer: Range<Int>, version: UInt32) -> [Int] {
        var found: [Int] = []
        var p = footer.lowerBound
        func take(_ count: Int) -> Int? {
            guard count <= footer.upperBound - p else { return nil }
            defer { p += count }
            return p
        }
        func blockRef() -> Bool {
            guard let at = take(blockRefSize) else { return false }
            found.append(at + 16)
            return true
        }
        guard let countAt = take(4) else { return found }
        for _ in 0..<min(Int(load(UInt32.self, bytes, at: countAt)), footer.count) {
            guard let nameLengthAt = take(2), take(Int(load(UInt16.self, bytes, at: nameLengthAt))) != nil,
                  let encodingAt = take(2) else { return found }
            if bytes[encodingAt] == dictionaryEncoding {
                if version == 1 {
                    guard blockRef(), take(4) != nil else { return found }
                } else {
                    guard take(4) != nil, let dictBlockCountAt = take(4) else { return found }
                    for _ in 0..<min(Int(load(UInt32.self, bytes, at: dictBlockCountAt)), footer.count) {
                        guard blockRef(), take(4) != nil else { return found }
                    }
                }
            }
            guard let blockCountAt = take(4) else { return found }
            for _ in 0..<min(Int(load(UInt32.self, bytes, at: blockCountAt)), footer.count) {
                guard blockRef() else { return found }
            }
        }
        return found
    }

    private static func checksum(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    private static func store(_ value: UInt32, in bytes: inout [UInt8], at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
    }
}
