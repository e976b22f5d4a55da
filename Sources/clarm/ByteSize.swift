import ArgumentParser

/// A byte count on the command line: a number with an optional K, M or G suffix (powers of 1024).
struct ByteSize: ExpressibleByArgument, CustomStringConvertible {
    let bytes: Int

    init(bytes: Int) {
        self.bytes = bytes
    }

    init?(argument: String) {
        let units: [Character: Int] = ["K": 10, "M": 20, "G": 30]
        var digits = Substring(argument)
        var shift = 0
        if let last = digits.last?.uppercased().first, let unit = units[last] {
            shift = unit
            digits = digits.dropLast()
        }
        guard let value = Int(digits), value >= 0, value <= Int.max >> shift else { return nil }
        bytes = value << shift
    }

    var description: String {
        for (suffix, shift) in [("G", 30), ("M", 20), ("K", 10)] where bytes > 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }

    var defaultValueDescription: String { description }
}
