import CSluiceShims
import SluiceJSON

/// The state of every saga of a `saga:` step, and the transitions of docs/sagas.md.
///
/// Pure: no CEL, no threads, no clock. The operator (``SagaStep``) reads keys and
/// conditions, keeps the event-time timer queue, and calls in with event times:
/// ``start(id:data:time:effects:)`` for a start event, ``reply(id:reply:time:classify:effects:)``
/// for any other event, and ``fire(slot:upTo:effects:)`` when the watermark passes
/// ``nextDeadline(slot:)``. What the machine decides goes to a ``SagaEffects``: commands,
/// compensations and log events, in order.
///
/// ```
///  start ──▶ running(stage 0) ──all succeed──▶ running(stage 1) … ──▶ completed
///                 │ failure / timeout (retries used up)
///                 ▼
///            failing (the stage's other steps finish) ──▶ compensating (reverse order)
///                 ──▶ failed | compensation_failed
/// ```
struct SagaStateMachine {
    let plan: SagaPlan

    enum Phase: String, Sendable { case running, compensating, finished }

    enum StepState: Equatable, Sendable {
        case pending
        // `Int32` attempts (retry `times` is at most 1,000): 16 bytes a state, not 24.
        case awaiting(deadline: Int64, attempt: Int32)
        case backoff(resendAt: Int64, attempt: Int32)
        case completed
        case failed
    }

    struct Instance: Sendable {
        var id: JSON
        var data: JSON
        /// Start order, for a deterministic order among timers due at the same time.
        var serial: Int64
        /// False for a free slot. Beside the phase, which every reply reads with it: on the
        /// record's first cache line.
        var live = true
        var phase: Phase = .running
        var stage = 0
        /// The first step that failed (-1: none) and why.
        var failedStep = -1
        var failureReason = ""
        /// Steps to compensate, in order, and the position of the next one.
        var compensations: [Int] = []
        var compensationPosition = 0
        var compensationDeadline = Int64.max
        /// For a finished saga: how it ended and when it is forgotten.
        var outcome: SagaLogKind = .started
        var expires = Int64.max

        /// What a free slot holds.
        static let free: Instance = {
            var i = Instance(id: .null, data: .null, serial: -1)
            i.live = false
            return i
        }()

    }

    enum StartOutcome: Equatable {
        case started(slot: Int)
        case rejected(String)
    }

    enum ReplyOutcome: Equatable {
        /// The reply moved the saga on.
        case handled(slot: Int)
        /// A repeat of a reply already taken: nothing happens.
        case duplicate
        case rejected(String)
    }

    /// The sagas by slot, free slots not ``Instance/live``. Not optionals: a field of a
    /// saga is then read and written in place (optional chaining into an array element
    /// copied the whole saga on each access).
    private(set) var records: [Instance] = []
    /// The sagas by slot, nil for free slots (for tests; copies every saga).
    var slots: [Instance?] { records.map { $0.live ? $0 : nil } }
    /// The number of slots, free or not.
    var slotCount: Int { records.count }
    /// The state of step `s` of the saga in slot `i` at `i * plan.steps.count + s` (one
    /// flat column, not an array per saga); `.pending` for free slots and finished sagas.
    private(set) var stepStates: [StepState] = []
    /// Kept success replies (``SagaPlan/keepsReplies``), laid out as ``stepStates``;
    /// `null` for none.
    private(set) var replyValues: [JSON] = []
    private var free: [Int] = []
    /// Saga id → slot, for the live slots.
    private(set) var index = SagaIndex()
    private(set) var running = 0
    private(set) var finished = 0
    private(set) var nextSerial: Int64 = 0
    /// Duplicate replies seen (ignored), for `--stats`.
    private(set) var duplicates = 0

    init(plan: SagaPlan) { self.plan = plan }

    /// The slot of saga `id`, whose ``SagaIndex/hash(_:)`` is `hash` (nil: none).
    @inline(__always)
    func slot(of id: JSON, hash: UInt32) -> Int? {
        index.find(hash: hash) { records[$0].id == id }
    }

    /// The start order of the saga in `slot`, without copying it (nil: none).
    func serial(_ slot: Int) -> Int64? { slot < records.count && records[slot].live ? records[slot].serial : nil }

    /// Room in the step columns for one more slot.
    private mutating func appendColumns() {
        stepStates.append(contentsOf: repeatElement(.pending, count: plan.steps.count))
        if plan.keepsReplies { replyValues.append(contentsOf: repeatElement(.null, count: plan.steps.count)) }
    }

    /// The phase of the saga in `slot`, without copying it (nil: none).
    func phase(_ slot: Int) -> Phase? { slot < records.count && records[slot].live ? records[slot].phase : nil }

    /// The state of step `s` of the saga in `slot`.
    @inline(__always)
    func state(_ slot: Int, _ s: Int) -> StepState { stepStates[slot &* plan.steps.count &+ s] }

    @inline(__always)
    mutating func setState(_ slot: Int, _ s: Int, _ st: StepState) { stepStates[slot &* plan.steps.count &+ s] = st }

    /// Calls `body` with what commands of the saga in `slot` are built from, lent where
    /// it is (a copy, as this was, retained and released the start data, the kept
    /// replies' column and the id for every command). `body` must not change the machine.
    @inline(__always)
    private mutating func withView<R>(_ slot: Int, _ body: (SagaView) -> R) -> R {
        let n = plan.steps.count
        let keeps = plan.keepsReplies
        guard let offset = Self.dataOffset else {
            // Not reached (`data` is a stored property): a copy then.
            var data = records[slot].data
            return withUnsafePointer(to: &data) { d in
                replyValues.withUnsafeBufferPointer { vb in
                    body(SagaView(data: d, replies: Self.replies(vb, slot: slot, n: n, keeps: keeps)))
                }
            }
        }
        return records.withUnsafeBufferPointer { rb in
            let data = (UnsafeRawPointer(rb.baseAddress.unsafelyUnwrapped + slot) + offset)
                .assumingMemoryBound(to: JSON.self)
            return replyValues.withUnsafeBufferPointer { vb in
                body(SagaView(data: data, replies: Self.replies(vb, slot: slot, n: n, keeps: keeps)))
            }
        }
    }

    /// The kept replies of `slot` in the reply column `column` (empty when none are kept).
    @inline(__always)
    private static func replies(_ column: UnsafeBufferPointer<JSON>, slot: Int, n: Int, keeps: Bool)
        -> UnsafeBufferPointer<JSON>
    {
        guard keeps, slot &* n &+ n <= column.count else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(rebasing: column[slot &* n..<slot &* n &+ n])
    }

    /// Empties the step columns of `slot` (a new saga there, or one that finished).
    private mutating func clearColumns(_ slot: Int) {
        let n = plan.steps.count
        let range = slot * n..<(slot + 1) * n
        // Through buffers: one uniqueness check per column, not one per element.
        stepStates.withUnsafeMutableBufferPointer { b in
            for i in range { b[i] = .pending }
        }
        if plan.keepsReplies {
            replyValues.withUnsafeMutableBufferPointer { b in
                for i in range { b[i] = .null }
            }
        }
    }

    // MARK: Prefetching (hints only, see `SagaStep.prefetchAhead()`)

    // `mutating` though they write nothing: called on the step's `machine`, a
    // non-mutating method got a copy of the whole machine (a retain and a release of
    // each of its arrays, about 230 instructions); a mutating one reads it in place.

    /// Starts loading the index bucket where saga ids of hash `hash` are looked up.
    @inline(__always)
    mutating func prefetchIndex(hash: UInt32) { index.prefetch(hash: hash) }

    /// The slot a saga id of hash `hash` probably has (``SagaIndex/probableSlot(hash:)``;
    /// reads the bucket ``prefetchIndex(hash:)`` asked for), or -1.
    @inline(__always)
    mutating func probableSlot(hash: UInt32) -> Int { index.probableSlot(hash: hash) }

    /// Starts loading the lines of `bytes` bytes from `p` on.
    @inline(__always)
    static func prefetch(_ p: UnsafeRawPointer, bytes: Int) {
        var line = 0
        while line < bytes {
            sluice_prefetch(p + line)
            line &+= 64
        }
        sluice_prefetch(p + (bytes &- 1))
    }

    /// Starts loading what a reply to the saga in `slot` reads first: its record and its
    /// step states and kept replies.
    @inline(__always)
    mutating func prefetch(slot: Int) {
        guard slot >= 0, slot < records.count else { return }
        records.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            Self.prefetch(UnsafeRawPointer(base + slot), bytes: MemoryLayout<Instance>.size)
        }
        let n = plan.steps.count
        stepStates.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress, slot &* n &+ n <= b.count else { return }
            Self.prefetch(UnsafeRawPointer(base + slot &* n), bytes: n &* MemoryLayout<StepState>.stride)
        }
        if plan.keepsReplies {
            replyValues.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress, slot &* n &+ n <= b.count else { return }
                Self.prefetch(UnsafeRawPointer(base + slot &* n), bytes: n &* MemoryLayout<JSON>.stride)
            }
        }
    }

    /// Starts loading the values of the saga in `slot`'s start data and kept replies,
    /// when they are objects (what its commands read, and what letting them go writes).
    /// Reads the record and the kept replies: ask for them first (``prefetch(slot:)``).
    @inline(__always)
    mutating func prefetchValues(slot: Int) {
        guard slot >= 0, slot < records.count, let offset = Self.dataOffset else {
            return
        }
        records.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            Self.prefetchFields((UnsafeRawPointer(base + slot) + offset).assumingMemoryBound(to: JSON.self))
        }
        guard plan.keepsReplies else { return }
        let n = plan.steps.count
        replyValues.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress, slot &* n &+ n <= b.count else { return }
            for i in slot &* n..<slot &* n &+ n { Self.prefetchFields(base + i) }
        }
    }

    /// Where ``Instance/data`` is in a record.
    static let dataOffset = MemoryLayout<Instance>.offset(of: \Instance.data)

    /// Starts loading the array of an object's values: its header (where the reference
    /// count is, the 32 bytes before the first element) and its elements.
    @inline(__always)
    static func prefetchFields(_ value: UnsafePointer<JSON>) {
        _ = UnsafeMutablePointer(mutating: value).pointee.withObjectFieldsExclusive { _, values -> Void? in
            guard let v = values.baseAddress else { return nil }
            prefetch(UnsafeRawPointer(v) - 32, bytes: 32 &+ values.count &* MemoryLayout<JSON>.stride)
            return ()
        }
    }

    // MARK: Transitions

    /// A start event for saga `id` at `time`, whose event is `data`.
    /// `hash` is `id`'s ``SagaIndex/hash(_:)`` when the caller has it.
    mutating func start<E: SagaEffects>(
        id: JSON, hash: UInt32? = nil, data: JSON, time: Int64, effects: inout E
    ) -> StartOutcome {
        let hash = hash ?? SagaIndex.hash(id)
        if let s = slot(of: id, hash: hash), case let inst = records[s], inst.live {
            if inst.phase == .finished {
                return .rejected(
                    "saga \(Self.describe(id)) already ran (\(inst.outcome.rawValue)); a second start is a duplicate")
            }
            return .rejected("saga \(Self.describe(id)) is already running; a second start is a duplicate")
        }
        if running >= plan.maxSagas {
            return .rejected(
                "max_sagas (\(plan.maxSagas)) running sagas reached; saga \(Self.describe(id)) not started")
        }
        let inst = Instance(id: id, data: data, serial: nextSerial)
        nextSerial += 1
        let slot: Int
        if let f = free.popLast() {
            slot = f
            records[f] = inst
            clearColumns(slot)
        } else {
            slot = records.count
            records.append(inst)
            appendColumns()
        }
        index.insert(hash: hash, slot: slot)
        running += 1
        effects.log(id, .started, step: nil, reason: nil, time: time)
        startStage(slot, time: time, effects: &effects)
        return .started(slot: slot)
    }

    /// An event for saga `id` that is not a start: a reply, recognised by testing the
    /// conditions `classify` evaluates; `reply(step)` (called only when it completes a
    /// step whose reply is kept) is kept for `replies.NAME` in later commands. A
    /// condition that cannot be evaluated rejects the reply and leaves the saga as it was (nothing changes before every test it needs
    /// has been made).
    mutating func reply<E: SagaEffects>(
        id: JSON, hash: UInt32? = nil, reply: (Int) -> JSON, time: Int64,
        classify: (SagaCondition) throws(SagaConditionError) -> Bool, effects: inout E
    ) -> ReplyOutcome {
        guard let slot = slot(of: id, hash: hash ?? SagaIndex.hash(id)) else {
            return .rejected("no saga \(Self.describe(id)) is running")
        }
        // Decided on a copy of the saga that is gone before anything changes: a copy
        // alive during a change would make the change copy the saga's arrays.
        let decision: ReplyDecision
        do {
            decision = try decide(slot, classify)
        } catch {
            return .rejected(error.message)
        }
        switch decision {
        case .complete(let s):
            complete(slot, step: s, reply: plan.keepsReplies ? reply(s) : .null, time: time, effects: &effects)
        case .fail(let s):
            stepFailed(slot, step: s, reason: "failure", time: time, effects: &effects)
        case .compensated(let s):
            effects.log(id, .compensated, step: s, reason: nil, time: time)
            records[slot].compensationPosition += 1
            records[slot].compensationDeadline = Int64.max
            nextCompensation(slot, time: time, effects: &effects)
        case .compensationFailed(let s):
            finish(slot, .compensation_failed, step: s, reason: "failure", time: time, effects: &effects)
        case .other(let outcome):
            if outcome == .duplicate { duplicates += 1 }
            return outcome
        }
        return .handled(slot: slot)
    }

    /// What a reply does to a saga.
    enum ReplyDecision {
        case complete(Int), fail(Int), compensated(Int), compensationFailed(Int), other(ReplyOutcome)
    }

    private func decide(_ slot: Int, _ classify: (SagaCondition) throws(SagaConditionError) -> Bool)
        throws(SagaConditionError) -> ReplyDecision
    {
        guard records[slot].live else { return .other(.rejected("no saga is running")) }
        let phase = records[slot].phase
        let stage = records[slot].stage
        let failedStep = records[slot].failedStep
        switch phase {
        case .finished:
            let inst = records[slot]
            return .other(.rejected("saga \(Self.describe(inst.id)) has finished (\(inst.outcome.rawValue))"))
        case .running:
            let failing = failedStep >= 0
            for s in plan.stages[stage] {
                switch state(slot, s) {
                case .awaiting:
                    if try classify(.success(s)) { return .complete(s) }
                    if try classify(.failure(s)) { return .fail(s) }
                case .backoff where !failing:
                    // A late success of an earlier attempt still completes the step.
                    if try classify(.success(s)) { return .complete(s) }
                default:
                    break
                }
            }
            let inst = records[slot]
            return .other(try classifyOther(slot, inst, classify))
        case .compensating:
            let inst = records[slot]
            let s = inst.compensations[inst.compensationPosition]
            if try classify(.compensationSuccess(s)) { return .compensated(s) }
            if try classify(.compensationFailure(s)) { return .compensationFailed(s) }
            return .other(try classifyOther(slot, inst, classify))
        }
    }

    /// A reply that is not for what the saga awaits: a duplicate, or a reason to reject.
    private func classifyOther(
        _ slot: Int, _ inst: Instance, _ classify: (SagaCondition) throws(SagaConditionError) -> Bool
    ) throws(SagaConditionError) -> ReplyOutcome {
        let id = Self.describe(inst.id)
        if inst.phase == .compensating {
            for s in inst.compensations[..<inst.compensationPosition] {
                guard case .awaited = plan.steps[s].compensation else { continue }
                if try classify(.compensationSuccess(s)) {
                    return .duplicate
                }
            }
        }
        for s in plan.steps.indices {
            let name = plan.steps[s].name
            if try classify(.success(s)) {
                switch state(slot, s) {
                case .completed:
                    return .duplicate
                case .pending:
                    return .rejected("saga \(id): a success reply for step '\(name)', which has not started")
                case .failed:
                    return .rejected("saga \(id): a success reply for step '\(name)', which had already failed")
                case .awaiting, .backoff:
                    return .rejected("saga \(id): a success reply for step '\(name)', which was cancelled")
                }
            }
            if try classify(.failure(s)) {
                switch state(slot, s) {
                case .failed, .backoff:
                    return .duplicate
                case .pending:
                    return .rejected("saga \(id): a failure reply for step '\(name)', which has not started")
                case .completed:
                    return .rejected("saga \(id): a failure reply for step '\(name)', which had already completed")
                case .awaiting:
                    return .rejected("saga \(id): a failure reply for step '\(name)', which was cancelled")
                }
            }
        }
        for s in plan.steps.indices {
            guard case .awaited = plan.steps[s].compensation else { continue }
            let succeeded = try classify(.compensationSuccess(s))
            let failed = try classify(.compensationFailure(s))
            if succeeded || failed {
                return .rejected(
                    "saga \(id): a compensation reply for step '\(plan.steps[s].name)', which is not being compensated")
            }
        }
        return .rejected("saga \(id): the event matches no step's success or failure")
    }

    /// The earliest event time at which the saga in `slot` has something to do
    /// (`Int64.max`: nothing).
    func nextDeadline(slot: Int) -> Int64 {
        guard slot < records.count, records[slot].live else { return Int64.max }
        let phase = records[slot].phase
        switch phase {
        case .finished: return records[slot].expires
        case .compensating: return records[slot].compensationDeadline
        case .running:
            var d = Int64.max
            let stage = records[slot].stage
            for s in plan.stages[stage] {
                switch state(slot, s) {
                case .awaiting(let t, _): d = min(d, t)
                case .backoff(let t, _): d = min(d, t)
                default: break
                }
            }
            return d
        }
    }

    /// Runs every timer of the saga in `slot` due at or before `limit`, in time order.
    /// True when the saga was forgotten (its retention ended).
    @discardableResult
    mutating func fire<E: SagaEffects>(slot: Int, upTo limit: Int64, effects: inout E) -> Bool {
        while true {
            let d = nextDeadline(slot: slot)
            guard d <= limit, let due = dueTimer(slot, at: d) else { return false }
            switch due {
            case .forget(let id):
                index.remove(hash: SagaIndex.hash(id), slot: slot)
                records[slot] = .free
                free.append(slot)
                finished -= 1
                return true
            case .compensationTimeout(let s):
                finish(slot, .compensation_failed, step: s, reason: "timed_out", time: d, effects: &effects)
            case .stepTimeout(let s):
                stepFailed(slot, step: s, reason: "timed_out", time: d, effects: &effects)
            case .resend(let s, let attempt):
                send(slot, step: s, attempt: attempt, time: d, effects: &effects)
            }
        }
    }

    enum DueTimer {
        case forget(JSON), compensationTimeout(Int), stepTimeout(Int), resend(Int, attempt: Int)
    }

    /// The timer of the saga in `slot` due at `d`: the first in declared order among
    /// steps due at the same time.
    private func dueTimer(_ slot: Int, at d: Int64) -> DueTimer? {
        guard records[slot].live else { return nil }
        let inst = records[slot]
        switch inst.phase {
        case .finished: return .forget(inst.id)
        case .compensating: return .compensationTimeout(inst.compensations[inst.compensationPosition])
        case .running:
            for s in plan.stages[inst.stage] {
                switch state(slot, s) {
                case .awaiting(let t, _) where t == d: return .stepTimeout(s)
                case .backoff(let t, let attempt) where t == d: return .resend(s, attempt: Int(attempt))
                default: continue
                }
            }
            return nil
        }
    }

    // MARK: Internals

    private mutating func startStage<E: SagaEffects>(_ slot: Int, time: Int64, effects: inout E) {
        guard records[slot].live else { return }
        let stage = records[slot].stage
        for s in plan.stages[stage] {
            if !send(slot, step: s, attempt: 1, time: time, effects: &effects) { return }
        }
    }

    /// Sends a step's command; false when it could not be built (the step then failed).
    @discardableResult
    private mutating func send<E: SagaEffects>(_ slot: Int, step s: Int, attempt: Int, time: Int64, effects: inout E)
        -> Bool
    {
        guard records[slot].live else { return false }
        setState(
            slot, s, .awaiting(deadline: time.sagaAdding(plan.steps[s].timeout), attempt: Int32(clamping: attempt)))
        let failure = withView(slot) { effects.command($0, step: s, attempt: attempt, time: time) }
        if let error = failure {
            // No retry: the same command fails the same way.
            markFailed(slot, step: s, reason: "command: \(error)", time: time, effects: &effects)
            stageMaybeDone(slot, time: time, effects: &effects)
            return false
        }
        return true
    }

    private mutating func complete<E: SagaEffects>(_ slot: Int, step s: Int, reply: JSON, time: Int64, effects: inout E)
    {
        guard records[slot].live else { return }
        let id = records[slot].id
        setState(slot, s, .completed)
        if plan.keepsReplies { replyValues[slot * plan.steps.count + s] = reply }
        effects.log(id, .step_completed, step: s, reason: nil, time: time)
        stageMaybeDone(slot, time: time, effects: &effects)
    }

    /// An attempt failed (a failure reply or a timeout): retried when attempts are left
    /// and the saga is not already failing, else the step fails.
    private mutating func stepFailed<E: SagaEffects>(
        _ slot: Int, step s: Int, reason: String, time: Int64, effects: inout E
    ) {
        guard records[slot].live else { return }
        let failedStep = records[slot].failedStep
        let current = state(slot, s)
        if failedStep < 0, case .awaiting(_, let a) = current, Int(a) <= plan.steps[s].retries {
            let attempt = Int(a)
            let at = time.sagaAdding(plan.steps[s].backoff)
            if at <= time {
                send(slot, step: s, attempt: attempt + 1, time: time, effects: &effects)
            } else {
                setState(slot, s, .backoff(resendAt: at, attempt: Int32(clamping: attempt + 1)))
            }
            return
        }
        markFailed(slot, step: s, reason: reason, time: time, effects: &effects)
        stageMaybeDone(slot, time: time, effects: &effects)
    }

    private mutating func markFailed<E: SagaEffects>(
        _ slot: Int, step s: Int, reason: String, time: Int64, effects: inout E
    ) {
        guard records[slot].live else { return }
        let id = records[slot].id
        let failedStep = records[slot].failedStep
        let stage = records[slot].stage
        setState(slot, s, .failed)
        effects.log(id, .step_failed, step: s, reason: reason, time: time)
        if failedStep < 0 {
            records[slot].failedStep = s
            records[slot].failureReason = reason
            // Steps of the stage waiting to be re-sent are not: no command after a failure.
            for m in plan.stages[stage] where m != s {
                if case .backoff = state(slot, m) {
                    setState(slot, m, .failed)
                    effects.log(id, .step_failed, step: m, reason: "cancelled", time: time)
                }
            }
        }
    }

    /// Moves on when no step of the current stage is still out: the next stage, the end,
    /// or compensation after a failure.
    private mutating func stageMaybeDone<E: SagaEffects>(_ slot: Int, time: Int64, effects: inout E) {
        guard records[slot].live, records[slot].phase == .running else { return }
        let stage = records[slot].stage
        let failedStep = records[slot].failedStep
        for s in plan.stages[stage] {
            switch state(slot, s) {
            case .awaiting, .backoff: return
            default: continue
            }
        }
        if failedStep >= 0 {
            // Every completed step with a compensation, last first.
            let compensations = plan.steps.indices.reversed().filter {
                state(slot, $0) == .completed && plan.steps[$0].compensation != .none
            }
            records[slot].compensations = compensations
            records[slot].compensationPosition = 0
            records[slot].phase = .compensating
            nextCompensation(slot, time: time, effects: &effects)
        } else if stage + 1 < plan.stages.count {
            records[slot].stage += 1
            startStage(slot, time: time, effects: &effects)
        } else {
            finish(slot, .completed, step: nil, reason: nil, time: time, effects: &effects)
        }
    }

    /// Emits compensations from the current position until one must be awaited, or the
    /// saga ends as `failed`.
    private mutating func nextCompensation<E: SagaEffects>(_ slot: Int, time: Int64, effects: inout E) {
        while records[slot].live, records[slot].phase == .compensating {
            let inst = records[slot]
            guard inst.compensationPosition < inst.compensations.count else {
                finish(slot, .failed, step: inst.failedStep, reason: inst.failureReason, time: time, effects: &effects)
                return
            }
            let s = inst.compensations[inst.compensationPosition]
            effects.log(inst.id, .compensating, step: s, reason: nil, time: time)
            if let error = withView(slot, { effects.compensation($0, step: s, time: time) }) {
                finish(slot, .compensation_failed, step: s, reason: "command: \(error)", time: time, effects: &effects)
                return
            }
            switch plan.steps[s].compensation {
            case .awaited(let timeout):
                records[slot].compensationDeadline = time.sagaAdding(timeout)
                return
            default:
                records[slot].compensationPosition += 1
            }
        }
    }

    private mutating func finish<E: SagaEffects>(
        _ slot: Int, _ outcome: SagaLogKind, step: Int?, reason: String?, time: Int64, effects: inout E
    ) {
        guard records[slot].live else { return }
        let id = records[slot].id
        effects.log(id, outcome, step: step, reason: reason, time: time)
        records[slot].phase = .finished
        records[slot].outcome = outcome
        records[slot].expires = time.sagaAdding(plan.retention)
        records[slot].compensationDeadline = Int64.max
        // What only a running saga needs is let go now.
        records[slot].data = .null
        records[slot].compensations = []
        clearColumns(slot)
        running -= 1
        finished += 1
    }

    static func describe(_ id: JSON) -> String {
        if case .string(let s) = id { return "'\(s)'" }
        return id.description
    }
}

// MARK: Snapshots

extension SagaStateMachine {
    /// A saga state that could not be restored.
    struct SnapshotError: Error, CustomStringConvertible {
        var description: String
    }

    /// The whole state as a JSON value, for checkpoints: every running and retained
    /// saga, and the counters that order what comes next. ``restore(_:plan:)`` of it
    /// gives a machine whose future is the same as this one's.
    func snapshot() -> JSON {
        var sagas: [JSON] = []
        let n = plan.steps.count
        for (slot, inst) in records.enumerated() {
            guard inst.live else { continue }
            let finished = inst.phase == .finished
            let states = finished ? [] : stepStates[slot * n..<(slot + 1) * n]
            let replies: [JSON] =
                finished
                ? []
                : plan.keepsReplies ? Array(replyValues[slot * n..<(slot + 1) * n]) : Array(repeating: .null, count: n)
            let steps: [JSON] = states.map { st in
                switch st {
                case .pending: return ["pending"]
                case .awaiting(let d, let a): return [.string("awaiting"), .int(d), .int(Int64(a))]
                case .backoff(let d, let a): return [.string("backoff"), .int(d), .int(Int64(a))]
                case .completed: return ["completed"]
                case .failed: return ["failed"]
                }
            }
            let o = JSONObject([
                ("id", inst.id), ("data", inst.data), ("serial", .int(inst.serial)),
                ("phase", .string(inst.phase.rawValue)),
                ("stage", .int(Int64(inst.stage))), ("steps", .array(steps)), ("replies", .array(replies)),
                ("failed_step", .int(Int64(inst.failedStep))), ("failure_reason", .string(inst.failureReason)),
                ("compensations", .array(inst.compensations.map { .int(Int64($0)) })),
                ("compensation_position", .int(Int64(inst.compensationPosition))),
                ("compensation_deadline", .int(inst.compensationDeadline)),
                ("outcome", .string(inst.outcome.rawValue)), ("expires", .int(inst.expires)),
            ])
            sagas.append(.object(o))
        }
        return .object(
            JSONObject([
                ("next_serial", .int(nextSerial)), ("duplicates", .int(Int64(duplicates))), ("sagas", .array(sagas)),
            ]))
    }

    /// A machine for `plan` in the state `snapshot` (from ``snapshot()``) describes.
    static func restore(_ snapshot: JSON, plan: SagaPlan) throws(SnapshotError) -> SagaStateMachine {
        func int(_ v: JSON?, _ what: String) throws(SnapshotError) -> Int64 {
            guard case .int(let i)? = v else {
                throw SnapshotError(description: "saga snapshot: '\(what)' is not an integer")
            }
            return i
        }
        func string(_ v: JSON?, _ what: String) throws(SnapshotError) -> String {
            guard case .string(let s)? = v else {
                throw SnapshotError(description: "saga snapshot: '\(what)' is not a string")
            }
            return s
        }
        guard case .object(let root) = snapshot, case .array(let sagas)? = root["sagas"] else {
            throw SnapshotError(description: "saga snapshot: not an object with 'sagas'")
        }
        var m = SagaStateMachine(plan: plan)
        m.nextSerial = try int(root["next_serial"], "next_serial")
        m.duplicates = Int(try int(root["duplicates"], "duplicates"))
        for case .object(let o) in sagas {
            guard let id = o["id"], let data = o["data"], case .array(let stepsJSON)? = o["steps"],
                case .array(let replies)? = o["replies"], case .array(let comps)? = o["compensations"],
                let phase = Phase(rawValue: try string(o["phase"], "phase")),
                let outcome = SagaLogKind(rawValue: try string(o["outcome"], "outcome"))
            else { throw SnapshotError(description: "saga snapshot: a saga is incomplete") }
            var steps: [StepState] = []
            for case .array(let s) in stepsJSON {
                switch try string(s.first, "steps") {
                case "pending": steps.append(.pending)
                case "completed": steps.append(.completed)
                case "failed": steps.append(.failed)
                case "awaiting":
                    steps.append(
                        .awaiting(
                            deadline: try int(s.dropFirst().first, "steps"),
                            attempt: Int32(clamping: try int(s.last, "steps"))))
                case "backoff":
                    steps.append(
                        .backoff(
                            resendAt: try int(s.dropFirst().first, "steps"),
                            attempt: Int32(clamping: try int(s.last, "steps"))))
                case let other: throw SnapshotError(description: "saga snapshot: unknown step state '\(other)'")
                }
            }
            let stage = Int(try int(o["stage"], "stage"))
            if phase != .finished,
                steps.count != plan.steps.count || replies.count != plan.steps.count
                    || !plan.stages.indices.contains(stage)
            {
                throw SnapshotError(description: "saga snapshot: a saga does not fit this saga's steps")
            }
            var inst = Instance(id: id, data: data, serial: try int(o["serial"], "serial"))
            inst.phase = phase
            inst.stage = stage
            inst.failedStep = Int(try int(o["failed_step"], "failed_step"))
            inst.failureReason = try string(o["failure_reason"], "failure_reason")
            inst.compensations = []
            for c in comps { inst.compensations.append(Int(try int(c, "compensations"))) }
            inst.compensationPosition = Int(try int(o["compensation_position"], "compensation_position"))
            inst.compensationDeadline = try int(o["compensation_deadline"], "compensation_deadline")
            inst.outcome = outcome
            inst.expires = try int(o["expires"], "expires")
            // Step numbers index the plan's steps: out of range, they would not be read safely.
            guard (-1..<plan.steps.count).contains(inst.failedStep),
                inst.compensations.allSatisfy({ plan.steps.indices.contains($0) })
            else {
                throw SnapshotError(description: "saga snapshot: a step number is out of range")
            }
            if phase == .compensating, !inst.compensations.indices.contains(inst.compensationPosition) {
                throw SnapshotError(description: "saga snapshot: a compensation position is out of range")
            }
            let slot = m.records.count
            // A repeated id replaces the earlier one, as in a dictionary.
            let hash = SagaIndex.hash(id)
            if let earlier = m.slot(of: id, hash: hash) { m.index.remove(hash: hash, slot: earlier) }
            m.index.insert(hash: hash, slot: slot)
            m.records.append(inst)
            m.appendColumns()
            if phase != .finished {
                for s in steps.indices {
                    m.setState(slot, s, steps[s])
                    if plan.keepsReplies { m.replyValues[slot * plan.steps.count + s] = replies[s] }
                }
            }
            if phase == .finished { m.finished += 1 } else { m.running += 1 }
        }
        return m
    }
}

extension JSON {
    /// The keys and values of this object lent to `body`, read where they are (no retain
    /// or release of either array), or nil when it is not an object. As
    /// `Event.withParsedFieldsExclusive(_:)`: called through a pointer, `pointee` would
    /// copy the object; through an exclusive access that writes nothing it is borrowed.
    @inline(__always)
    mutating func withObjectFieldsExclusive<R>(
        _ body: (UnsafeBufferPointer<String>, UnsafeBufferPointer<JSON>) -> R?
    ) -> R? {
        if case .object(let o) = self { return o.withUnsafeFields(body) }
        return nil
    }
}
