import SluiceCEL
import SluiceCore

/// How an event of a pattern step may follow the event matched before it
/// (Flink's `next()`, `followedBy()` and `followedByAny()`).
@usableFromInline package enum Contiguity: String, Sendable, CaseIterable {
    /// The very next event of the key (Flink `next()` / `consecutive()`).
    case strict
    /// Skip events that do not match, take the first that does (Flink `followedBy()`).
    case relaxed
    /// Skip any event, matching or not: every combination (Flink `followedByAny()` /
    /// `allowCombinations()`).
    case any
}

/// What happens to other partial matches once a match is emitted (Flink's
/// `AfterMatchSkipStrategy`).
@usableFromInline package enum SkipStrategy: String, Sendable, CaseIterable {
    /// Discard every partial match that started at or before the match's last event.
    case pastLast = "past_last"
    /// Discard every partial match that started at or before the match's first event.
    case toNext = "to_next"
    /// Discard nothing: every match is emitted.
    case none
}

/// A compiled, immutable pattern: the states of its NFA and everything the matcher needs
/// that does not change while it runs (one per pipeline step, shared by all instances).
///
/// Each positive step of the `sequence` is one NFA state with a counter (Flink unrolls
/// `times` into a chain of states; a counter gives the same transitions). A partial match
/// sits in a state with a count of events taken there; on each event it may *take* it
/// (stay, count + 1), *ignore* it (as contiguity allows), or *proceed* to the next state
/// when the count is within the step's quantifier, as an epsilon move that tries the same
/// event there. `not` elements are not states: they are kill conditions attached to the
/// gap before the next positive step (or after the last one).
@usableFromInline package struct PatternNFA: Sendable {
    /// One positive step.
    @usableFromInline package struct State: Sendable {
        /// The capture name.
        @usableFromInline package var name: String
        /// Index into ``PatternNFA/conditions``.
        @usableFromInline package var condition: Int
        /// Least number of events (at least 1).
        @usableFromInline package var min: Int
        /// Most number of events (`Int.max` when unbounded).
        @usableFromInline package var max: Int
        /// Whether the step may match no event at all.
        @usableFromInline package var optional: Bool
        /// How the step's first event follows the event before it.
        @usableFromInline package var contiguity: Contiguity
        /// How the step's later events follow its earlier ones (`times` other than 1).
        @usableFromInline package var innerContiguity: Contiguity
        /// Whether the capture is a list (`times` other than exactly 1).
        @usableFromInline package var isList: Bool
        /// Whether every step after this one is optional (a match may end here).
        @usableFromInline package var restOptional: Bool
    }

    /// A `not` element.
    @usableFromInline package struct Negation: Sendable {
        /// Index into ``PatternNFA/conditions``.
        @usableFromInline package var condition: Int
        /// `strict` (Flink `notNext()`): only the event right after the previous match
        /// event is checked; otherwise every event up to the next step's event is.
        @usableFromInline package var strict: Bool
    }

    /// A `where` condition.
    @usableFromInline package struct Condition: Sendable {
        /// The compiled expression; nil matches every event.
        @usableFromInline package var expression: Expression?
        /// Whether it reads captures (then it is evaluated per partial match).
        @usableFromInline package var iterative: Bool
    }

    /// The positive steps in order.
    @usableFromInline package var states: [State]
    /// `notsBefore[j]`: the negations in the gap before state `j`; index `states.count`
    /// holds the trailing ones.
    @usableFromInline package var notsBefore: [[Negation]]
    /// Every condition, positive steps first.
    @usableFromInline package var conditions: [Condition]
    /// The window in milliseconds, measured from a match's first event.
    @usableFromInline package var within: Int64?
    /// After-match skip strategy.
    @usableFromInline package var skip: SkipStrategy
    /// Whether every trailing negation is strict (the match completes at the next event).
    @usableFromInline package var trailingAllStrict: Bool

    /// True when the pattern ends in `not`.
    @usableFromInline package var hasTrailingNots: Bool { !notsBefore[states.count].isEmpty }

    /// The states a new match may take its first event in: the first, and the ones after
    /// it while every state before is optional (no `not` precedes the first).
    var startStates: [Int] {
        var starts: [Int] = []
        for (j, st) in states.enumerated() {
            starts.append(j)
            if !st.optional { break }
        }
        return starts
    }

    /// Whether condition `i` is evaluated once per event, on arrival (it reads only the
    /// event, and fits the 64-bit masks that carry the results), rather than when the
    /// event is matched.
    func isEvaluatedOnArrival(_ i: Int) -> Bool { i < 64 && !conditions[i].iterative }
}

extension PatternNFA {
    /// The NFA of `states` with the negations `notsBefore`, deriving what follows from
    /// them: each state's ``State/restOptional`` and ``trailingAllStrict``.
    init(
        states: [State], notsBefore: [[Negation]], conditions: [Condition], within: Int64?, skip: SkipStrategy
    ) {
        var states = states
        var rest = true
        for j in states.indices.reversed() {
            states[j].restOptional = rest
            rest = rest && states[j].optional
        }
        let trailing = notsBefore[states.count]
        self.init(
            states: states, notsBefore: notsBefore, conditions: conditions, within: within, skip: skip,
            trailingAllStrict: !trailing.isEmpty && trailing.allSatisfy(\.strict))
    }
}
