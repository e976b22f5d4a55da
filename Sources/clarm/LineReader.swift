import ClarmSystem
import Glibc

/// Reads a file descriptor line by line through one fixed buffer: a line longer than `maxLine` bytes is
/// cut to its first `maxLine` bytes and flagged, and its rest is skipped, so no line can take more memory.
struct LineReader {
    private let fd: Int32
    private let maxLine: Int
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var atEnd = false

    init(fd: Int32, maxLine: Int) {
        self.fd = fd
        self.maxLine = maxLine
        buffer = [UInt8](repeating: 0, count: max(4 << 20, 2 * maxLine))
    }

    /// Calls `body` with each line, without its newline, and whether it was cut.
    mutating func forEach(_ body: (UnsafeRawBufferPointer, Bool) throws -> Void) throws {
        var skipping = false
        while true {
            if let newline = buffer[start..<end].firstIndex(of: 0x0A) {
                if skipping {
                    skipping = false
                } else {
                    let cut = newline - start > maxLine
                    try emit(start..<(cut ? start + maxLine : newline), truncated: cut, body)
                }
                start = newline + 1
                continue
            }
            if end - start > maxLine && !skipping {
                // No newline within `maxLine` bytes: the line is cut here and its rest skipped.
                try emit(start..<start + maxLine, truncated: true, body)
                skipping = true
            }
            if skipping { start = end }
            if atEnd {
                if start < end { try emit(start..<end, truncated: false, body) }
                return
            }
            try fill()
        }
    }

    private func emit(_ range: Range<Int>, truncated: Bool, _ body: (UnsafeRawBufferPointer, Bool) throws -> Void) throws {
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range]), truncated) }
    }

    /// Moves what is left to the buffer's start and reads more after it.
    private mutating func fill() throws {
        if start > 0 {
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
            }
            end -= start
            start = 0
        }
        let capacity = buffer.count - end
        let count = try buffer.withUnsafeMutableBytes { raw in
            try retryingOnInterrupt { read(fd, raw.baseAddress! + end, capacity) }
        }
        if count == 0 { atEnd = true }
        end += count
    }
}
