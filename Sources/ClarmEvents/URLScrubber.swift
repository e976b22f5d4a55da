/// Removes the parameters of `SensitiveParameters` from a record's `url` and `referrer` before it is stored.
///
/// Parameters are the `&`-separated `name[=value]` pairs of the query, and of the fragment when it reads as
/// a query: its part after a `?` (`#/callback?token=…`), else the whole fragment, where only pairs with `=`
/// count (`#access_token=…` of OAuth's implicit flow goes, an anchor `#email` stays). Everything else stays
/// byte for byte: the other pairs, their order, encoding and separators. A query or fragment left with no
/// pair loses its `?` or `#`. Works in place, in one pass over the record, without allocating.
enum URLScrubber {
    /// Scrubs the `url` and `referrer` of the record being written at `out[recordStart...]` (its string
    /// fields complete, its length not yet stored), keeping what the record's site keeps.
    static func scrubRecord(_ out: inout [UInt8], from recordStart: Int, keeping lookup: (any KeptParameterLookup)?) {
        let end = out.withUnsafeMutableBytes { bytes -> Int in
            // Offsets of the string fields' length prefixes.
            var prefixes = (url: 0, site: 0)
            var offset = recordStart + EventRecord.headerSize
            for field in EventRecord.stringFields {
                if field == .url { prefixes.url = offset }
                if field == .site { prefixes.site = offset }
                offset += 4 + Int(load(bytes, offset))
            }
            let site = UnsafeRawBufferPointer(rebasing: bytes[prefixes.site + 4..<prefixes.site + 4 + Int(load(bytes, prefixes.site))])
            let kept = lookup?.keptParameters(site: site) ?? []
            guard kept != .all else { return bytes.count }
            // Fields from `url` on move left by what was removed before them.
            var read = prefixes.url
            var write = read
            for field in EventRecord.stringFields.drop(while: { $0 != .url }) {
                let length = Int(load(bytes, read))
                let value = read + 4..<read + 4 + length
                if field == .url || field == .referrer {
                    let valueEnd = scrub(bytes, value, to: write + 4, keeping: kept)
                    bytes.storeBytes(of: UInt32(valueEnd - write - 4).littleEndian, toByteOffset: write, as: UInt32.self)
                    write = valueEnd
                } else {
                    write = move(bytes, read..<value.upperBound, to: write)
                }
                read = value.upperBound
            }
            return write
        }
        if end < out.count { out.removeLast(out.count - end) }
    }

    /// Writes `bytes[range]` without its sensitive parameters from `destination` (≤ `range.lowerBound`) on;
    /// returns where it stopped. Reads always stay ahead of writes, so source and destination may overlap.
    static func scrub(_ bytes: UnsafeMutableRawBufferPointer, _ range: Range<Int>, to destination: Int,
                      keeping kept: SensitiveParameters) -> Int {
        let end = range.upperBound
        var read = range.lowerBound
        while read < end, bytes[read] != UInt8(ascii: "?"), bytes[read] != UInt8(ascii: "#") { read += 1 }
        var write = move(bytes, range.lowerBound..<read, to: destination)
        if read < end, bytes[read] == UInt8(ascii: "?") {
            var fragment = read + 1
            while fragment < end, bytes[fragment] != UInt8(ascii: "#") { fragment += 1 }
            write = filterPairs(bytes, lead: read, pairs: read + 1..<fragment, to: write, onlyWithValues: false, keeping: kept)
            read = fragment
        }
        if read < end {
            var question = read + 1
            while question < end, bytes[question] != UInt8(ascii: "?") { question += 1 }
            if question < end {
                write = move(bytes, read..<question, to: write)
                read = question
            }
            write = filterPairs(bytes, lead: read, pairs: read + 1..<end, to: write, onlyWithValues: true, keeping: kept)
        }
        return write
    }

    /// Writes `lead` (`?` or `#`) and the pairs of `pairs` that are not sensitive, joined by `&`; drops
    /// `lead` too when every pair was removed.
    private static func filterPairs(_ bytes: UnsafeMutableRawBufferPointer, lead: Int, pairs: Range<Int>, to destination: Int,
                                    onlyWithValues: Bool, keeping kept: SensitiveParameters) -> Int {
        var write = move(bytes, lead..<lead + 1, to: destination)
        var keptPairs = 0, removedPairs = 0
        var start = pairs.lowerBound
        while true {
            var end = start
            var equals = -1
            while end < pairs.upperBound, bytes[end] != UInt8(ascii: "&") {
                if equals < 0, bytes[end] == UInt8(ascii: "=") { equals = end }
                end += 1
            }
            let nameEnd = equals < 0 ? end : equals
            if (equals >= 0 || !onlyWithValues), isSensitive(bytes, start..<nameEnd, keeping: kept) {
                removedPairs += 1
            } else {
                if keptPairs > 0 {
                    bytes[write] = UInt8(ascii: "&")
                    write += 1
                }
                write = move(bytes, start..<end, to: write)
                keptPairs += 1
            }
            guard end < pairs.upperBound else { break }
            start = end + 1
        }
        return keptPairs == 0 && removedPairs > 0 ? destination : write
    }

    /// Whether the name at `bytes[name]` matches an entry of the list the site does not keep.
    static func isSensitive(_ bytes: UnsafeMutableRawBufferPointer, _ name: Range<Int>, keeping kept: SensitiveParameters) -> Bool {
        // The normalized name's last 16 bytes, as a ring, and its whole length.
        var tail = InlineArray<16, UInt8>(repeating: 0)
        var count = 0
        var i = name.lowerBound
        while i < name.upperBound {
            var c = bytes[i]
            i += 1
            if c == UInt8(ascii: "%"), i + 1 < name.upperBound, let high = URLParts.hex(bytes[i]), let low = URLParts.hex(bytes[i + 1]) {
                c = high << 4 | low
                i += 2
            }
            switch c {
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "["), UInt8(ascii: "]"): continue
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): c |= 0x20
            default: break
            }
            tail[count & 15] = c
            count += 1
        }
        guard count > 0 else { return false }
        for (index, pattern) in SensitiveParameters.patterns.enumerated()
        where !kept.contains(SensitiveParameters(rawValue: 1 << UInt64(index))) {
            let length = pattern.bytes.count
            guard pattern.suffix ? count >= length : count == length else { continue }
            var k = 0
            while k < length, tail[(count - length + k) & 15] == pattern.bytes[k] { k += 1 }
            if k == length { return true }
        }
        return false
    }

    /// Copies `bytes[source]` to `destination` (≤ `source.lowerBound`), front to back; returns its end.
    private static func move(_ bytes: UnsafeMutableRawBufferPointer, _ source: Range<Int>, to destination: Int) -> Int {
        if destination != source.lowerBound {
            for i in source.indices { bytes[destination + i - source.lowerBound] = bytes[i] }
        }
        return destination + source.count
    }

    private static func load(_ bytes: UnsafeMutableRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
