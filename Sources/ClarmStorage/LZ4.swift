import CLZ4

/// LZ4 block compression through liblz4; decoding uses the bounds-checked decoder only.
public enum LZ4 {
    public struct CorruptBlock: Error, Equatable {}

    /// Appends the LZ4 block compression of `source` to `output`. Callers bound `source` (segment blocks are at
    /// most `SegmentFormat.maxBlockBytes`), far below `LZ4_MAX_INPUT_SIZE`, so the 32-bit sizes cannot overflow.
    public static func compress(_ source: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
        precondition(source.count <= SegmentFormat.maxBlockBytes, "LZ4 input over the block limit")
        let bound = Int(LZ4_compressBound(Int32(source.count)))
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: bound))
        let written = output.withUnsafeMutableBytes { out in
            // The destination holds `bound` bytes from `start`, which is what LZ4_compressBound asks for.
            LZ4_compress_default(
                source.baseAddress?.assumingMemoryBound(to: CChar.self),
                out.baseAddress!.advanced(by: start).assumingMemoryBound(to: CChar.self),
                Int32(source.count), Int32(bound))
        }
        precondition(written > 0 || source.isEmpty, "LZ4_compress_default failed with a sufficient bound")
        output.removeSubrange((start + Int(written))...)
    }

    /// Decodes a block that must expand to exactly `decodedCount` bytes into `output`.
    public static func decompress(_ block: UnsafeRawBufferPointer, decodedCount: Int,
                                  into output: UnsafeMutableRawBufferPointer) throws(CorruptBlock) {
        guard output.count >= decodedCount, block.count <= Int32.max, decodedCount <= Int32.max else { throw CorruptBlock() }
        if decodedCount == 0 && block.count <= 1 { return }
        let n = LZ4_decompress_safe(
            block.baseAddress?.assumingMemoryBound(to: CChar.self),
            output.baseAddress?.assumingMemoryBound(to: CChar.self),
            Int32(block.count), Int32(decodedCount))
        guard n == Int32(decodedCount) else { throw CorruptBlock() }
    }
}
