import SluiceJSON

/// What undoes a saga step, as the state machine sees it.
enum SagaCompensationPlan: Sendable, Equatable {
    /// The step needs no undoing.
    case none
    /// A command emitted and not awaited.
    case fireAndForget
    /// A command whose `success` must be seen within `timeout` (ms) before the next
    /// compensation is emitted.
    case awaited(timeout: Int64)
}

/// One step of a saga without its expressions: names and times only.
struct SagaStepPlan: Sendable, Equatable {
    var name: String
    /// Event time (ms) after which an attempt counts as failed (`timed_out`); positive.
    var timeout: Int64
    /// Re-sends after the first attempt (`retry.times`).
    var retries: Int
    /// Event time (ms) between a failed attempt and the re-send (`retry.backoff`).
    var backoff: Int64
    var compensation: SagaCompensationPlan
}

/// The shape of a saga: its steps, grouped into stages run one after another (a stage
/// of more than one step is a `parallel:` group), and how long finished sagas are kept.
struct SagaPlan: Sendable {
    var steps: [SagaStepPlan]
    /// Step indices per stage, in order; every step is in exactly one stage, and stages
    /// list steps in increasing index order.
    var stages: [[Int]]
    /// Event time (ms) a finished saga is remembered, to reject late duplicate replies.
    var retention: Int64
    /// Running sagas at most; a start beyond it is rejected.
    var maxSagas: Int
    /// Whether success replies are kept (for `replies.NAME` in commands); a saga whose
    /// commands never read them does not hold them.
    var keepsReplies: Bool

    init(steps: [SagaStepPlan], stages: [[Int]], retention: Int64, maxSagas: Int, keepsReplies: Bool = true) {
        self.steps = steps
        self.stages = stages
        self.retention = retention
        self.maxSagas = maxSagas
        self.keepsReplies = keepsReplies
    }
}

/// Which condition of a step a reply is tested against.
enum SagaCondition: Equatable, Sendable {
    case success(Int)
    case failure(Int)
    case compensationSuccess(Int)
    case compensationFailure(Int)
}

/// A condition that could not be evaluated on a reply.
struct SagaConditionError: Error {
    var message: String
}

/// The kinds of saga log events (docs/sagas.md).
enum SagaLogKind: String, Sendable, CaseIterable {
    case started, step_completed, step_failed, compensating, compensated, completed, failed, compensation_failed

    /// True for the three kinds that end a saga.
    var isTerminal: Bool { self == .completed || self == .failed || self == .compensation_failed }
}

/// What a running saga holds that commands are built from, lent where the machine keeps
/// it (nothing copied, retained or released to make one): valid only during the call
/// it is passed to, which must not keep it.
struct SagaView {
    /// What was kept of the event that started the saga.
    var data: UnsafePointer<JSON>
    /// Per step, its kept success reply (`null` until it completed, or when not kept;
    /// empty when none is kept).
    var replies: UnsafeBufferPointer<JSON>

    /// The start data's field `name` when the data is an object that has it, read in
    /// place: `body` is called with the value (lent where it is) and its result returned.
    @inline(__always)
    func withDataField<R>(_ name: String, _ body: (JSON) -> R?) -> R? {
        withDataField(name, guess: 0, body)
    }

    /// ``withDataField(_:_:)`` looking at place `guess` first (an object's keys are
    /// distinct, so the field found there is the one a scan finds).
    @inline(__always)
    func withDataField<R>(_ name: String, guess: Int, _ body: (JSON) -> R?) -> R? {
        UnsafeMutablePointer(mutating: data).pointee.withObjectFieldsExclusive { keys, values in
            if guess < keys.count && keys[guess] == name { return body(values[guess]) }
            for i in keys.indices where keys[i] == name { return body(values[i]) }
            return nil
        }
    }
}

/// Where the state machine sends what it decides. Building a command may fail (a CEL
/// error): the method returns the message, and the machine fails the step (or the
/// compensation).
protocol SagaEffects {
    mutating func command(_ saga: SagaView, step: Int, attempt: Int, time: Int64) -> String?
    mutating func compensation(_ saga: SagaView, step: Int, time: Int64) -> String?
    mutating func log(_ saga: JSON, _ kind: SagaLogKind, step: Int?, reason: String?, time: Int64)
}

extension Int64 {
    /// `self + d`, kept at `Int64.max` instead of overflowing.
    func sagaAdding(_ d: Int64) -> Int64 {
        let (r, o) = addingReportingOverflow(d)
        return o ? (d > 0 ? Int64.max : Int64.min) : r
    }
}
