/// Runs `body` with a copy of `bytes` in a heap block of exactly their size, so that AddressSanitizer
/// reports any read past the end (an Array's capacity may be larger than its count).
public func withExactCopy<R>(of bytes: UnsafeRawBufferPointer, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { copy.deallocate() }
    if let source = bytes.baseAddress, !bytes.isEmpty { copy.baseAddress!.copyMemory(from: source, byteCount: bytes.count) }
    return try body(copy)
}

/// The libFuzzer input as a buffer (libFuzzer hands it over in a block of exactly its size).
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: data, count: size)
}
