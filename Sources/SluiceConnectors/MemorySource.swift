import SluiceCore
import SluiceJSON

/// One item of an in-memory input: an event, or an explicit watermark (used by
/// `sluice test` to check what is emitted before the end of input).
public enum InputItem: Sendable, Equatable {
    case event(JSON)
    case watermark(Int64)
}

/// A source over a fixed list of events and watermarks, for tests and embedders.
@usableFromInline package final class MemorySource: EventSource, Sendable {
    @usableFromInline package let name: String
    let items: [InputItem]
    /// Events per batch handed downstream.
    let batchSize: Int

    @usableFromInline package init(name: String, items: [InputItem], batchSize: Int = 512) {
        self.name = name
        self.items = items
        self.batchSize = max(1, batchSize)
    }

    @usableFromInline package func run(_ out: SourceOutput) throws {
        var batch: [Event] = []
        var line = 0
        for item in items {
            if out.isCancelled { return }
            switch item {
            case .event(let v):
                line += 1
                batch.append(Event(v, line: line))
                if batch.count >= batchSize {
                    out.emit(batch)
                    batch = []
                }
            case .watermark(let w):
                out.emit(batch)
                batch = []
                out.watermark(w)
            }
        }
        out.emit(batch)
    }
}
