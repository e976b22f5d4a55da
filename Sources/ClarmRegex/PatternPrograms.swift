/// Compiled patterns run by a Pike VM (Thompson's NFA simulation): every pattern in time linear in the
/// text's length times the pattern's size, whatever the bytes; no backtracking.
package struct PatternPrograms: Sendable {
    package init() {}

    struct Instruction: Sendable {
        enum Operation: UInt8, Sendable { case bytes, split, jump, start, end, match }
        var operation: Operation
        /// `bytes`: index into `sets`; `split`, `jump`: a target, relative to the program's first instruction.
        var first: Int32 = 0
        /// `split`: the second target.
        var second: Int32 = 0
    }

    private var instructions: [Instruction] = []
    private var sets: [ByteSet] = []
    private var setIndex: [ByteSet: Int32] = [:]
    /// Per pattern: its first instruction and its instruction count.
    private var programs: [(start: Int32, count: Int32)] = []
    /// Per pattern: the bytes a match can start with (all bytes when it can match the empty string), so the search
    /// skips, while no thread is alive, the positions where no match can start; and whether it is anchored by `^`.
    private var firstBytes: [ByteSet] = []
    private var anchored: [Bool] = []

    /// Compiles a pattern; returns its index.
    package mutating func add(_ node: PatternNode) -> Int {
        let start = instructions.count
        emit(node)
        instructions.append(Instruction(operation: .match))
        // Targets were emitted as indexes into the shared array; the VM runs each program on its own.
        for i in start..<instructions.count where [.split, .jump].contains(instructions[i].operation) {
            instructions[i].first -= Int32(start)
            instructions[i].second -= instructions[i].operation == .split ? Int32(start) : 0
        }
        programs.append((Int32(start), Int32(instructions.count - start)))
        firstBytes.append(firstBytes(of: start))
        anchored.append(instructions[start].operation == .start)
        return programs.count - 1
    }

    /// The bytes that the instructions reachable from the program's start without reading a byte can read;
    /// every byte when it can reach `match` or `$` that way.
    private func firstBytes(of start: Int) -> ByteSet {
        var bytes = ByteSet()
        var seen = Set<Int>()
        var pending = [0]
        while let pc = pending.popLast() {
            guard seen.insert(pc).inserted else { continue }
            let instruction = instructions[start + pc]
            switch instruction.operation {
            case .bytes: bytes.formUnion(sets[Int(instruction.first)])
            case .match, .end: return .all
            case .jump: pending.append(Int(instruction.first))
            case .split: pending += [Int(instruction.first), Int(instruction.second)]
            // Position 0 is always tried; elsewhere `^` fails, so counting what follows it only skips less.
            case .start: pending.append(pc + 1)
            }
        }
        return bytes
    }

    private mutating func emit(_ node: PatternNode) {
        switch node {
        case .bytes(let set):
            let index = setIndex[set] ?? {
                sets.append(set)
                setIndex[set] = Int32(sets.count - 1)
                return Int32(sets.count - 1)
            }()
            instructions.append(Instruction(operation: .bytes, first: index))
        case .concatenation(let items):
            for item in items { emit(item) }
        case .alternation(let branches):
            var jumps: [Int] = []
            for (i, branch) in branches.enumerated() {
                if i < branches.count - 1 {
                    let split = instructions.count
                    instructions.append(Instruction(operation: .split, first: Int32(split + 1)))
                    emit(branch)
                    jumps.append(instructions.count)
                    instructions.append(Instruction(operation: .jump))
                    instructions[split].second = Int32(instructions.count)
                } else {
                    emit(branch)
                }
            }
            for jump in jumps { instructions[jump].first = Int32(instructions.count) }
        case .zeroOrMore(let inner):
            let split = instructions.count
            instructions.append(Instruction(operation: .split, first: Int32(split + 1)))
            emit(inner)
            instructions.append(Instruction(operation: .jump, first: Int32(split)))
            instructions[split].second = Int32(instructions.count)
        case .oneOrMore(let inner):
            let top = instructions.count
            emit(inner)
            instructions.append(Instruction(operation: .split, first: Int32(top), second: Int32(instructions.count + 1)))
        case .optional(let inner):
            let split = instructions.count
            instructions.append(Instruction(operation: .split, first: Int32(split + 1)))
            emit(inner)
            instructions[split].second = Int32(instructions.count)
        case .start:
            instructions.append(Instruction(operation: .start))
        case .end:
            instructions.append(Instruction(operation: .end))
        }
    }

    /// Whether pattern `index` matches anywhere in `text`.
    package func matches(_ index: Int, _ text: UnsafeRawBufferPointer) -> Bool {
        let (start, count) = (Int(programs[index].start), Int(programs[index].count))
        let (first, anchored) = (firstBytes[index], anchored[index])
        // Two thread lists (sparse sets: dense members plus a position per instruction) and a stack for closures,
        // on the stack: a match allocates nothing.
        // A closure pushes at most two targets per instruction it adds, hence the stack's size.
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 6 * count + 2) { memory in
            memory.initialize(repeating: 0)
            let base = memory.baseAddress!
            var current = ThreadList(dense: base, sparse: base + count)
            var next = ThreadList(dense: base + 2 * count, sparse: base + 3 * count)
            let stack = base + 4 * count
            return instructions.withUnsafeBufferPointer { all in
                let program = UnsafeBufferPointer(rebasing: all[start..<(start + count)])
                /// Adds `pc` and every instruction reachable from it without reading a byte; true on reaching `match`.
                func add(_ list: inout ThreadList, _ pc: Int32, at position: Int) -> Bool {
                    stack[0] = pc
                    var depth = 1
                    while depth > 0 {
                        depth -= 1
                        let pc = stack[depth]
                        if list.contains(pc) { continue }
                        list.insert(pc)
                        let instruction = program[Int(pc)]
                        switch instruction.operation {
                        case .bytes: break
                        case .match: return true
                        case .jump:
                            stack[depth] = instruction.first
                            depth += 1
                        case .split:
                            // Both targets are pushed at most once per list, since each pc enters a list once.
                            stack[depth] = instruction.second
                            stack[depth + 1] = instruction.first
                            depth += 2
                        case .start:
                            if position == 0 { stack[depth] = pc + 1; depth += 1 }
                        case .end:
                            if position == text.count { stack[depth] = pc + 1; depth += 1 }
                        }
                    }
                    return false
                }
                current.clear()
                var position = 0
                while position <= text.count {
                    if current.count == 0 && position > 0 {
                        // No thread alive: a match can only start here, and only where its first byte is.
                        if anchored { return false }
                        while position < text.count && !first.contains(text[position]) { position += 1 }
                    }
                    // An unanchored search: a new thread starts at every position.
                    if add(&current, 0, at: position) { return true }
                    guard position < text.count else { break }
                    let byte = text[position]
                    next.clear()
                    for i in 0..<current.count {
                        let instruction = program[Int(current.dense[i])]
                        if instruction.operation == .bytes, sets[Int(instruction.first)].contains(byte) {
                            if add(&next, current.dense[i] + 1, at: position + 1) { return true }
                        }
                    }
                    swap(&current, &next)
                    position += 1
                }
                return false
            }
        }
    }
}

/// A set of instruction indexes with constant-time insert, lookup and clear (Briggs and Torczon's sparse set).
private struct ThreadList {
    let dense: UnsafeMutablePointer<Int32>
    let sparse: UnsafeMutablePointer<Int32>
    var count = 0

    init(dense: UnsafeMutablePointer<Int32>, sparse: UnsafeMutablePointer<Int32>) {
        self.dense = dense
        self.sparse = sparse
    }

    func contains(_ pc: Int32) -> Bool {
        // `sparse` may hold a stale slot; the check against `dense` tells.
        let slot = Int(sparse[Int(pc)])
        return slot >= 0 && slot < count && dense[slot] == pc
    }

    mutating func insert(_ pc: Int32) {
        sparse[Int(pc)] = Int32(count)
        dense[count] = pc
        count += 1
    }

    mutating func clear() { count = 0 }
}
