/// An aggregate function of a `window` step, as written in `aggregate:`
/// (`count()`, `sum(amount)`, `percentile(latency, 0.99)`, ...).
@usableFromInline package enum AggregateFunction: Sendable, Equatable {
    /// `count()`: events in the window.
    case countAll
    /// `count(x)`: events where `x` is not null.
    case count
    /// `sum(x)`: an integer while every value is one (overflow is an error), else a double.
    case sum
    /// `avg(x)`: the mean, a double.
    case avg
    /// `min(x)`: the smallest value in jq's order (numbers by value, strings by text).
    case min
    /// `max(x)`: the largest value in jq's order.
    case max
    /// `first(x)`: the value of the earliest event (event time, then arrival).
    case first
    /// `last(x)`: the value of the latest event (event time, then arrival).
    case last
    /// `count_distinct(x)`: exact up to ``Aggregates/exactDistinctLimit`` values, then a
    /// HyperLogLog estimate.
    case countDistinct
    /// `percentile(x, p)`: exact up to ``Aggregates/exactPercentileLimit`` values, then a
    /// DDSketch estimate.
    case percentile(Double)
    /// `stddev(x)`: the population standard deviation.
    case stddev
    /// `collect(x)`: every value, ordered by event time, then arrival.
    case collect

    /// The names users write, with the number of arguments each takes.
    @usableFromInline package static let names: [String: Int] = [
        "count": 0, "sum": 1, "avg": 1, "min": 1, "max": 1, "first": 1, "last": 1,
        "count_distinct": 1, "percentile": 2, "stddev": 1, "collect": 1,
    ]

    /// True for the functions whose state is more than a few numbers (`collect`,
    /// `percentile`, `count_distinct`): their accumulator holds a box, made per window.
    @usableFromInline package var needsBox: Bool {
        switch self {
        case .collect, .percentile, .countDistinct: true
        default: false
        }
    }

    /// True for the functions that keep state beyond the few numbers of an
    /// ``Accumulator`` (in its ``AccumulatorExtra``).
    var usesExtra: Bool {
        switch self {
        case .countAll, .count, .sum, .avg: false
        default: true
        }
    }

    /// True for the functions that need numbers (others take any value).
    @usableFromInline package var needsNumbers: Bool {
        switch self {
        case .sum, .avg, .percentile, .stddev: true
        default: false
        }
    }
}
