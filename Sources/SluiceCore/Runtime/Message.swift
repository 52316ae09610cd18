/// What travels between stages: batches of events, watermarks in-band, and the end.
@usableFromInline package enum Message: Sendable {
    /// Events in order.
    case events([Event])
    /// A batch a dealing partitioner numbered (``Dataflow/addPartitioner(name:count:dealsByLoad:hash:)``):
    /// the partition's output for it goes to sinks that write batches in number order.
    case sequenced([Event], Int)
    /// Event time has advanced: no later event will be earlier than this (epoch ms).
    case watermark(Int64)
    /// Checkpoint barrier `id` (docs/checkpoints.md): everything before it belongs to
    /// checkpoint `id`, nothing after it. A stage with several inputs holds each input
    /// that delivered it until all have (alignment, ``InputMerge``).
    case barrier(Int)
    /// The producer is done; nothing follows.
    case end
}
