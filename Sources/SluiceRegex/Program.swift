// Thompson construction (iterative, explicit work stack) from the AST to a
// flat instruction array executed by `Program.search` (a Pike VM).

enum Op: UInt8, Sendable {
    case match, scalar, set, any, split, jump, assert
}

struct Inst: Sendable {
    var op: Op
    var out: Int32 = -1
    var out1: Int32 = -1
    /// Scalar value for `.scalar`, set index for `.set`, `Assertion` raw value for `.assert`.
    var arg: UInt32 = 0
}

/// A compiled character set with an ASCII bitmap fast path.
struct CompiledSet: Sendable {
    var ascii0: UInt64 = 0  // 0..<64
    var ascii1: UInt64 = 0  // 64..<128
    var lo: [UInt32] = []  // ranges with hi >= 128
    var hi: [UInt32] = []

    init(_ s: ScalarSet) {
        for r in s.ranges {
            var c = r.lo
            while c <= r.hi && c < 128 {
                if c < 64 { ascii0 |= 1 << UInt64(c) } else { ascii1 |= 1 << UInt64(c - 64) }
                c += 1
            }
            if r.hi >= 128 {
                lo.append(max(r.lo, 128))
                hi.append(r.hi)
            }
        }
    }

    @inline(__always)
    func contains(_ c: Int) -> Bool {
        if c < 64 { return c >= 0 && (ascii0 >> UInt64(c)) & 1 != 0 }
        if c < 128 { return (ascii1 >> UInt64(c - 64)) & 1 != 0 }
        let v = UInt32(truncatingIfNeeded: c)
        var l = 0
        var h = lo.count
        while l < h {
            let mid = (l &+ h) >> 1
            if v < lo[mid] { h = mid } else if v > hi[mid] { l = mid &+ 1 } else { return true }
        }
        return false
    }
}

struct Program: Sendable {
    var insts: [Inst] = []
    var sets: [CompiledSet] = []
    var start: Int32 = 0
    /// Every match must begin at offset 0.
    var anchoredStart = false
    /// UTF-8 of a literal every match starts with (empty if none).
    var prefix: [UInt8] = []
    /// The whole pattern is the literal `prefix` (unanchored substring search).
    var isPureLiteral = false
    /// When `hasFirstFilter`, a match can only start at an ASCII byte whose bit
    /// is set in `firstASCII0/1`, or at a non-ASCII scalar if `firstNonASCII`.
    var hasFirstFilter = false
    var firstASCII0: UInt64 = 0
    var firstASCII1: UInt64 = 0
    var firstNonASCII = false
}

// MARK: - Compiler

struct Compiler {
    private var prog = Program()
    private var setIndex: [ScalarSet: UInt32] = [:]
    private let ast: AST

    private struct Frag {
        var start: Int32
        var outs: [Int32]  // patch locations: pc << 1 | (0: out, 1: out1)
    }

    private enum Task {
        case visit(Int)
        case concat(Int)
        case alternate(Int)
        case quest(Bool)
        case star(Bool)
        case plus(Bool)
        case empty
    }

    init(_ ast: AST) { self.ast = ast }

    private func tooLarge() -> RegexError {
        RegexError(
            message: "pattern too large: compiled program exceeds \(Limits.maxInstructions) instructions", offset: 0)
    }

    private mutating func emit(_ inst: Inst) throws(RegexError) -> Int32 {
        if prog.insts.count >= Limits.maxInstructions { throw tooLarge() }
        prog.insts.append(inst)
        return Int32(prog.insts.count - 1)
    }

    private mutating func patch(_ outs: [Int32], _ target: Int32) {
        for loc in outs {
            let pc = Int(loc >> 1)
            if loc & 1 == 0 { prog.insts[pc].out = target } else { prog.insts[pc].out1 = target }
        }
    }

    private mutating func leaf(_ inst: Inst) throws(RegexError) -> Frag {
        let pc = try emit(inst)
        return Frag(start: pc, outs: [pc << 1])
    }

    mutating func compile() throws(RegexError) -> Program {
        var tasks: [Task] = [.visit(ast.root)]
        var frags: [Frag] = []
        while let task = tasks.popLast() {
            switch task {
            case .visit(let n):
                switch ast.nodes[n] {
                case .empty:
                    frags.append(try leaf(Inst(op: .jump)))
                case .literal(let c):
                    frags.append(try leaf(Inst(op: .scalar, arg: c)))
                case .set(let s):
                    if s.ranges.count == 1, s.ranges[0].lo == 0, s.ranges[0].hi == ScalarSet.maxScalar {
                        frags.append(try leaf(Inst(op: .any)))
                    } else if s.ranges.count == 1, s.ranges[0].lo == s.ranges[0].hi {
                        frags.append(try leaf(Inst(op: .scalar, arg: s.ranges[0].lo)))
                    } else {
                        let idx: UInt32
                        if let existing = setIndex[s] {
                            idx = existing
                        } else {
                            idx = UInt32(prog.sets.count)
                            prog.sets.append(CompiledSet(s))
                            setIndex[s] = idx
                        }
                        frags.append(try leaf(Inst(op: .set, arg: idx)))
                    }
                case .assertion(let a):
                    frags.append(try leaf(Inst(op: .assert, arg: a.rawValue)))
                case .concat(let items):
                    tasks.append(.concat(items.count))
                    for item in items.reversed() { tasks.append(.visit(item)) }
                case .alternate(let branches):
                    tasks.append(.alternate(branches.count))
                    for b in branches.reversed() { tasks.append(.visit(b)) }
                case .repetition(let child, let mn, let mx, let greedy):
                    // Scheduled in execution order, then pushed reversed.
                    var seq: [Task] = []
                    if mx == -1 {
                        if mn == 0 {
                            seq = [.visit(child), .star(greedy)]
                        } else {
                            for _ in 0..<(mn - 1) { seq.append(.visit(child)) }
                            seq.append(.visit(child))
                            seq.append(.plus(greedy))
                            if mn > 1 { seq.append(.concat(mn)) }
                        }
                    } else {
                        let k = mx - mn
                        for _ in 0..<mn { seq.append(.visit(child)) }
                        if k > 0 {
                            for _ in 0..<k { seq.append(.visit(child)) }
                            seq.append(.quest(greedy))
                            for _ in 0..<(k - 1) {
                                seq.append(.concat(2))
                                seq.append(.quest(greedy))
                            }
                        }
                        let parts = mn + (k > 0 ? 1 : 0)
                        if parts == 0 {
                            seq.append(.empty)
                        } else if parts > 1 {
                            seq.append(.concat(parts))
                        }
                    }
                    if seq.count > 4 * Limits.maxInstructions { throw tooLarge() }
                    tasks.append(contentsOf: seq.reversed())
                }
            case .empty:
                frags.append(try leaf(Inst(op: .jump)))
            case .concat(let k):
                let parts = frags.suffix(k)
                frags.removeLast(k)
                var result = parts[parts.startIndex]
                for f in parts.dropFirst() {
                    patch(result.outs, f.start)
                    result.outs = f.outs
                }
                frags.append(result)
            case .alternate(let k):
                let parts = Array(frags.suffix(k))
                frags.removeLast(k)
                // Right fold: split(b0, split(b1, ... bk-1))
                var result = parts[k - 1]
                var idx = k - 2
                while idx >= 0 {
                    let b = parts[idx]
                    let s = try emit(Inst(op: .split, out: b.start, out1: result.start))
                    result = Frag(start: s, outs: b.outs + result.outs)
                    idx -= 1
                }
                frags.append(result)
            case .quest(let greedy):
                guard let f = frags.popLast() else { continue }
                let s = try emit(
                    greedy ? Inst(op: .split, out: f.start, out1: -1) : Inst(op: .split, out: -1, out1: f.start))
                frags.append(Frag(start: s, outs: f.outs + [greedy ? (s << 1 | 1) : (s << 1)]))
            case .star(let greedy):
                guard let f = frags.popLast() else { continue }
                let s = try emit(
                    greedy ? Inst(op: .split, out: f.start, out1: -1) : Inst(op: .split, out: -1, out1: f.start))
                patch(f.outs, s)
                frags.append(Frag(start: s, outs: [greedy ? (s << 1 | 1) : (s << 1)]))
            case .plus(let greedy):
                guard let f = frags.popLast() else { continue }
                let s = try emit(
                    greedy ? Inst(op: .split, out: f.start, out1: -1) : Inst(op: .split, out: -1, out1: f.start))
                patch(f.outs, s)
                frags.append(Frag(start: f.start, outs: [greedy ? (s << 1 | 1) : (s << 1)]))
            }
        }
        guard let whole = frags.popLast() else {
            throw RegexError(message: "internal error: empty program", offset: 0)
        }
        let m = try emit(Inst(op: .match))
        patch(whole.outs, m)
        prog.start = whole.start
        analyze()
        return prog
    }

    /// Computes anchoring and the literal prefix from the AST.
    private mutating func analyze() {
        // Anchored: every path starts with \A / ^ (non-multiline).
        var work = [ast.root]
        var anchored = true
        while let n = work.popLast() {
            switch ast.nodes[n] {
            case .assertion(.beginText): continue
            case .concat(let items):
                if let f = items.first { work.append(f) } else { anchored = false }
            case .alternate(let bs): work.append(contentsOf: bs)
            case .repetition(let c, let mn, _, _) where mn >= 1: work.append(c)
            default: anchored = false
            }
            if !anchored { break }
        }
        prog.anchoredStart = anchored

        var items: [Int]
        switch ast.nodes[ast.root] {
        case .concat(let xs): items = xs
        case .literal: items = [ast.root]
        default: items = []
        }
        var bytes: [UInt8] = []
        var all = !items.isEmpty
        for n in items {
            guard case .literal(let c) = ast.nodes[n], let s = Unicode.Scalar(c) else {
                all = false
                break
            }
            bytes.append(contentsOf: String(Character(s)).utf8)
        }
        prog.prefix = bytes
        prog.isPureLiteral = all && !bytes.isEmpty
        computeFirstFilter()
    }

    /// Collects the scalars that can start a match from the start closure
    /// (assertions are treated as passable, which is conservative).
    private mutating func computeFirstFilter() {
        var seen = [Bool](repeating: false, count: prog.insts.count)
        var work = [Int(prog.start)]
        var a0: UInt64 = 0
        var a1: UInt64 = 0
        var nonASCII = false
        while let pc = work.popLast() {
            if pc < 0 || seen[pc] { continue }
            seen[pc] = true
            let inst = prog.insts[pc]
            switch inst.op {
            case .match, .any: return
            case .jump, .assert: work.append(Int(inst.out))
            case .split:
                work.append(Int(inst.out))
                work.append(Int(inst.out1))
            case .scalar:
                let c = inst.arg
                if c >= 128 {
                    nonASCII = true
                } else if c < 64 {
                    a0 |= 1 << UInt64(c)
                } else {
                    a1 |= 1 << UInt64(c - 64)
                }
            case .set:
                let set = prog.sets[Int(inst.arg)]
                a0 |= set.ascii0
                a1 |= set.ascii1
                if !set.lo.isEmpty { nonASCII = true }
            }
        }
        prog.hasFirstFilter = true
        prog.firstASCII0 = a0
        prog.firstASCII1 = a1
        prog.firstNonASCII = nonASCII
    }
}

// MARK: - Matcher

@inline(__always)
private func isWordScalar(_ c: Int) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
}

/// Decodes the scalar starting at `i` (input is valid UTF-8).
@inline(__always)
private func decode(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Int, Int) {
    let b0 = Int(b[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | (Int(b[i + 1]) & 0x3F), 2) }
    if b0 < 0xF0 {
        return (((b0 & 0x0F) << 12) | ((Int(b[i + 1]) & 0x3F) << 6) | (Int(b[i + 2]) & 0x3F), 3)
    }
    return (
        ((b0 & 0x07) << 18) | ((Int(b[i + 1]) & 0x3F) << 12) | ((Int(b[i + 2]) & 0x3F) << 6)
            | (Int(b[i + 3]) & 0x3F), 4
    )
}

/// Finds `needle` in `hay` at or after `from`; returns its offset or nil.
func findBytes(_ needle: [UInt8], in hay: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
    let n = needle.count
    if n == 0 { return from <= hay.count ? from : nil }
    if hay.count - from < n { return nil }
    return needle.withUnsafeBufferPointer { nb -> Int? in
        let first = nb[0]
        let last = hay.count - n
        var i = from
        while i <= last {
            if hay[i] == first {
                var k = 1
                while k < n && hay[i + k] == nb[k] { k += 1 }
                if k == n { return i }
            }
            i += 1
        }
        return nil
    }
}

extension Program {
    /// Leftmost-first search over UTF-8 `input`. Returns the byte range of the
    /// match. With `earliest`, returns as soon as any match is known (the
    /// range is then meaningless beyond being non-nil).
    func search(_ input: UnsafeBufferPointer<UInt8>, earliest: Bool) -> (Int, Int)? {
        if isPureLiteral {
            guard let at = findBytes(prefix, in: input, from: 0) else { return nil }
            return (at, at + prefix.count)
        }
        let n = insts.count
        // Layout: clist pcs, clist starts, nlist pcs, nlist starts, marks, stack(2n+2).
        let capacity = 7 * n + 2
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: capacity) { buf -> (Int, Int)? in
            guard let base = buf.baseAddress else { return nil }
            base.initialize(repeating: -1, count: capacity)
            defer { base.deinitialize(count: capacity) }
            return insts.withUnsafeBufferPointer { code in
                sets.withUnsafeBufferPointer { sets in
                    run(
                        input, code: code, sets: sets, earliest: earliest,
                        lists: (base, base + n, base + 2 * n, base + 3 * n), marks: base + 4 * n,
                        stack: base + 5 * n)
                }
            }
        }
    }

    private func run(
        _ input: UnsafeBufferPointer<UInt8>, code: UnsafeBufferPointer<Inst>, sets: UnsafeBufferPointer<CompiledSet>,
        earliest: Bool,
        lists: (
            UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>
        ),
        marks: UnsafeMutablePointer<Int>, stack: UnsafeMutablePointer<Int>
    ) -> (Int, Int)? {
        var cPCs = lists.0
        var cStarts = lists.1
        var nPCs = lists.2
        var nStarts = lists.3
        var cCount = 0
        var nCount = 0
        let len = input.count
        let startPC = Int(start)
        let hasPrefix = !prefix.isEmpty && !anchoredStart
        let useFilter = hasFirstFilter && !anchoredStart && prefix.isEmpty

        /// Follows empty transitions from `pc0`, appending consuming
        /// instructions (and `match`) to the list in priority order.
        @inline(__always)
        func addThread(
            _ pcs: UnsafeMutablePointer<Int>, _ starts: UnsafeMutablePointer<Int>, _ count: inout Int,
            _ pc0: Int, _ startPos: Int, _ gen: Int, _ prev: Int, _ cur: Int
        ) {
            var sp = 0
            stack[sp] = pc0
            sp = 1
            while sp > 0 {
                sp -= 1
                let pc = stack[sp]
                if marks[pc] == gen { continue }
                marks[pc] = gen
                let inst = code[pc]
                switch inst.op {
                case .jump:
                    stack[sp] = Int(inst.out)
                    sp += 1
                case .split:
                    stack[sp] = Int(inst.out1)
                    stack[sp + 1] = Int(inst.out)
                    sp += 2
                case .assert:
                    let ok: Bool
                    switch Assertion(rawValue: inst.arg) {
                    case .beginText: ok = prev < 0
                    case .endText: ok = cur < 0
                    case .beginLine: ok = prev < 0 || prev == 0x0A
                    case .endLine: ok = cur < 0 || cur == 0x0A
                    case .wordBoundary: ok = isWordScalar(prev) != isWordScalar(cur)
                    case .notWordBoundary: ok = isWordScalar(prev) == isWordScalar(cur)
                    case nil: ok = false
                    }
                    if ok {
                        stack[sp] = Int(inst.out)
                        sp += 1
                    }
                default:
                    pcs[count] = pc
                    starts[count] = startPos
                    count += 1
                }
            }
        }

        var pos = 0
        var prev = -1
        var (cur, width) = len > 0 ? decode(input, 0) : (-1, 0)
        var gen = 0
        var matchStart = -1
        var matchEnd = -1

        while true {
            if matchStart < 0 {
                if cCount == 0 {
                    if anchoredStart && pos > 0 { break }
                    if useFilter {
                        var at = pos
                        while at < len {
                            let b = Int(input[at])
                            if b < 64 {
                                if (firstASCII0 >> UInt64(b)) & 1 != 0 { break }
                            } else if b < 128 {
                                if (firstASCII1 >> UInt64(b - 64)) & 1 != 0 { break }
                            } else if firstNonASCII && b >= 0xC0 {
                                break
                            }
                            at += 1
                        }
                        if at >= len { break }
                        if at != pos {
                            pos = at
                            var b = at - 1
                            while b > 0 && input[b] & 0xC0 == 0x80 { b -= 1 }
                            prev = decode(input, b).0
                            (cur, width) = decode(input, at)
                        }
                    }
                    if hasPrefix {
                        guard let at = findBytes(prefix, in: input, from: pos) else { break }
                        if at != pos {
                            pos = at
                            var b = at - 1
                            while b > 0 && input[b] & 0xC0 == 0x80 { b -= 1 }
                            prev = decode(input, b).0
                            (cur, width) = decode(input, at)
                        }
                    }
                }
                addThread(cPCs, cStarts, &cCount, startPC, pos, gen, prev, cur)
            }
            if cCount == 0 && (matchStart >= 0 || cur < 0) { break }
            let nextPos = pos + width
            let (next, nextWidth) = cur >= 0 && nextPos < len ? decode(input, nextPos) : (-1, 0)
            gen += 1
            nCount = 0
            var i = 0
            while i < cCount {
                let pc = cPCs[i]
                let inst = code[pc]
                let matched: Bool
                switch inst.op {
                case .match:
                    matchStart = cStarts[i]
                    matchEnd = pos
                    if earliest { return (matchStart, matchEnd) }
                    i = cCount  // cut lower-priority threads
                    continue
                case .scalar: matched = cur == Int(inst.arg)
                case .set: matched = cur >= 0 && sets[Int(inst.arg)].contains(cur)
                case .any: matched = cur >= 0
                default: matched = false
                }
                if matched {
                    addThread(nPCs, nStarts, &nCount, Int(inst.out), cStarts[i], gen, cur, next)
                }
                i += 1
            }
            if cur < 0 { break }
            swap(&cPCs, &nPCs)
            swap(&cStarts, &nStarts)
            cCount = nCount
            prev = cur
            cur = next
            width = nextWidth
            pos = nextPos
        }
        return matchStart >= 0 ? (matchStart, matchEnd) : nil
    }
}
