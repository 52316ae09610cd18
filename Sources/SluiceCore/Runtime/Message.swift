/// What travels between stages: batches of events, watermarks in-band, and the end.
public enum Message: Sendable {
    /// Events in order.
    case events([Event])
    /// Event time has advanced: no later event will be earlier than this (epoch ms).
    case watermark(Int64)
    /// The producer is done; nothing follows.
    case end
}
