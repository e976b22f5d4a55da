/// Aho–Corasick over many byte strings at once, as a complete DFA: one table lookup per input byte, whatever the
/// number of strings. Bytes that occur in no string share one column of the table.
struct LiteralAutomaton: Sendable {
    /// `transitions[state * columns + column[byte]]`: the next state.
    private let transitions: [Int32]
    private let column: [UInt8]
    private let columns: Int
    /// Per state: the range of `outputs` it reports (the strings ending there, its fail chain's included).
    private let outputStart: [Int32]
    /// Values given with the strings (pattern indexes), state by state.
    private let outputs: [Int32]

    /// Builds the automaton of `strings` (none empty), each reporting its `value`.
    init(_ strings: [(bytes: [UInt8], value: Int32)]) {
        var column = [UInt8](repeating: 0, count: 256)
        var columns = 1
        for (bytes, _) in strings {
            for byte in bytes where column[Int(byte)] == 0 {
                precondition(columns < 256, "more distinct bytes than a column index holds")
                column[Int(byte)] = UInt8(columns)
                columns += 1
            }
        }
        // The trie, with -1 for a missing edge.
        var table = [Int32](repeating: -1, count: columns)
        var ownOutputs: [[Int32]] = [[]]
        for (bytes, value) in strings {
            precondition(!bytes.isEmpty, "an empty literal would match everywhere")
            var state = 0
            for byte in bytes {
                let slot = state * columns + Int(column[Int(byte)])
                if table[slot] < 0 {
                    table[slot] = Int32(ownOutputs.count)
                    ownOutputs.append([])
                    table += [Int32](repeating: -1, count: columns)
                }
                state = Int(table[slot])
            }
            ownOutputs[state].append(value)
        }
        // Breadth first: each state's failure is the longest proper suffix that is a trie state; missing edges
        // take the failure's edge, which makes the table a DFA.
        let stateCount = ownOutputs.count
        var failure = [Int32](repeating: 0, count: stateCount)
        var merged = ownOutputs
        var queue: [Int] = []
        for c in 0..<columns {
            let target = table[c]
            if target < 0 { table[c] = 0 } else { queue.append(Int(target)) }
        }
        var head = 0
        while head < queue.count {
            let state = queue[head]
            head += 1
            merged[state] += merged[Int(failure[state])]
            for c in 0..<columns {
                let slot = state * columns + c
                let fallback = table[Int(failure[state]) * columns + c]
                if table[slot] < 0 {
                    table[slot] = fallback
                } else {
                    failure[Int(table[slot])] = fallback
                    queue.append(Int(table[slot]))
                }
            }
        }
        var outputStart: [Int32] = [0]
        var outputs: [Int32] = []
        for state in 0..<stateCount {
            outputs += merged[state]
            outputStart.append(Int32(outputs.count))
        }
        self.transitions = table
        self.column = column
        self.columns = columns
        self.outputStart = outputStart
        self.outputs = outputs
    }

    /// Calls `found` with the value of every string occurrence in `text`, in order of their ends; stops when it
    /// returns true, and returns whether it did.
    func scan(_ text: UnsafeRawBufferPointer, _ found: (Int32) -> Bool) -> Bool {
        transitions.withUnsafeBufferPointer { transitions in
            column.withUnsafeBufferPointer { column in
                outputStart.withUnsafeBufferPointer { outputStart in
                    var state = 0
                    for byte in text {
                        state = Int(transitions[state * columns + Int(column[Int(byte)])])
                        let (from, to) = (Int(outputStart[state]), Int(outputStart[state + 1]))
                        if from == to { continue }
                        for i in from..<to where found(outputs[i]) { return true }
                    }
                    return false
                }
            }
        }
    }
}
