@_spi(Benchmarks) import Sluice

// The events and the stage driver of the in-process step benchmarks, shared by the
// package-benchmark suite (Benchmarks/SluiceBenchmarks) and the callgrind driver
// (Tools/CallgrindDriver), which must not link package-benchmark.

/// Deterministic events like gen_events.py's, parsed (so steps see `.value` events),
/// with event time set. `users` keys; `stepMillis` between consecutive events.
package func makeEvents(_ n: Int, users: Int = 1000, stepMillis: Int64 = 10) -> [Event] {
    let types = ["click", "view", "login", "purchase", "logout"]
    let countries = ["US", "DE", "FR", "GB", "JP", "BR"]
    var rng: UInt64 = 42
    func next() -> UInt64 {
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return (0..<n).map { i in
        let ts = 1_700_000_000_000 + Int64(i) * stepMillis
        var o = JSONObject(minimumCapacity: 6)
        o["id"] = .int(Int64(i + 1))
        o["type"] = .string(types[Int(next() % 5)])
        o["user"] = .string("u\(next() % UInt64(users))")
        o["amount"] = .double(Double(next() % 100_000) / 100 + 0.01)
        o["country"] = .string(countries[Int(next() % 6)])
        o["ts"] = .int(ts)
        return Event(.object(o), time: ts)
    }
}

/// The pattern scenarios of issue #6 (as `PatternBenchTests` in the main package):
/// pre-parsed `{"user", "kind", "amount"}` events over 10,000 users, ten events per
/// millisecond (so each user has an event a second), event time set. `kinds(i)` gives
/// event `i`'s kind and amount.
package func makePatternEvents(_ n: Int, kinds: (Int) -> (String, Int64)) -> [Event] {
    (0..<n).map { i in
        let (kind, amount) = kinds(i)
        var o = JSONObject(minimumCapacity: 3)
        o["user"] = .string("u\(i % 10_000)")
        o["kind"] = .string(kind)
        o["amount"] = .int(amount)
        return Event(.object(o), time: 1_700_000_000_000 + Int64(i / 10))
    }
}

/// The steps of a one-stream pipeline, as a chain the way a stage runs them.
package func makeChain(_ yaml: String) -> BenchmarkChain {
    do {
        return BenchmarkChain(try Pipeline.compile(yaml: yaml))
    } catch {
        print("benchmark pipeline does not compile: \(error)")
        return BenchmarkChain()
    }
}

/// `events` cut into batches of `size`, as a stage hands them to its steps.
package func batched(_ events: [Event], size: Int = 512) -> [[Event]] {
    stride(from: 0, to: events.count, by: size).map { Array(events[$0..<min($0 + size, events.count)]) }
}

package final class Driver {
    let chain: BenchmarkChain
    var batches: [[Event]]
    let span: Int64
    let lateness: Int64
    let timed: Bool
    var pass: Int64 = 0
    var index = 0
    var watermark = Int64.min
    var maxTime = Int64.min
    var sides: [(port: Int, event: Event)] = []

    package init(_ yaml: String, events: [Event], lateness: Int64 = 2000) {
        chain = makeChain(yaml)
        timed = chain.usesWatermarks
        self.lateness = lateness
        batches = batched(events)
        let first = events.first?.time ?? 0
        let last = events.last?.time ?? 0
        span = last - first + (events.count > 1 ? (last - first) / Int64(events.count - 1) : 1)
        sides.reserveCapacity(1024)
    }

    /// Runs at least `events` events; returns how many came out.
    package func run(_ events: Int) -> Int {
        var done = 0
        var out = 0
        while done < events {
            let count = batches[index].count
            if timed {
                let shift = pass > 0 ? span : 0
                var maxTime = self.maxTime
                let lateness = self.lateness
                batches[index].withUnsafeMutableBufferPointer { batch in
                    for j in batch.indices {
                        // As a source stamps them: the watermark before this event.
                        batch[j].time += shift
                        batch[j].sourceWatermark = maxTime == Int64.min ? Int64.min : maxTime - lateness
                        maxTime = max(maxTime, batch[j].time)
                    }
                }
                self.maxTime = maxTime
                out += chain.process(batches[index], watermark: watermark, sides: &sides, stamped: true).count
                // Then the watermark the source sends after the batch, as a stage gets it.
                let wm = maxTime - lateness
                if wm > watermark {
                    watermark = wm
                    out += chain.advance(watermark: wm, sides: &sides).count
                }
            } else {
                out += chain.process(batches[index], watermark: watermark, sides: &sides).count
            }
            sides.removeAll(keepingCapacity: true)
            done += count
            index += 1
            if index == batches.count {
                index = 0
                pass += 1
            }
        }
        return out
    }
}

/// The order saga of the saga benchmark (pipelines/saga.yaml's step, without I/O).
package let sagaBenchmarkYAML = """
    time: { field: ts }
    steps:
      - saga:
          key: order_id
          start: type == "order_placed"
          timeout: 1h
          retention: 1m
          max_sagas: 2000000
          steps:
            - name: validate_order
              command: { type: '"validate_order"', order_id: order_id }
              success: type == "order_validated"
              failure: type == "order_invalid"
            - name: reserve_inventory
              command: { type: '"reserve_inventory"', order_id: order_id }
              success: type == "inventory_reserved"
              failure: type == "out_of_stock"
              compensate: { type: '"release_inventory"', order_id: order_id, reservation: replies.reserve_inventory.reservation }
            - name: process_payment
              command: { type: '"charge_payment"', order_id: order_id, amount: amount }
              success: type == "payment_charged"
              failure: type == "payment_declined"
              compensate: { type: '"refund_payment"', order_id: order_id, charge: replies.process_payment.charge }
            - name: create_shipment
              command: { type: '"create_shipment"', order_id: order_id }
              success: type == "shipment_created"
              failure: type == "shipment_rejected"
    """

/// The events of `sagas` concurrent order sagas, as gen_saga_replies.py writes them.
package func makeSagaReplies(sagas n: Int, failureRate: Double) -> [Event] {
    var events: [Event] = []
    events.reserveCapacity(n * 5)
    func add(_ fields: [(String, JSON)]) {
        let ts = 1_700_000_000_000 + Int64(events.count / 100)
        var o = JSONObject(minimumCapacity: fields.count + 1)
        for (k, v) in fields { o[k] = v }
        o["ts"] = .int(ts)
        events.append(Event(.object(o), time: ts))
    }
    func declined(_ i: Int) -> Bool {
        Double((UInt64(i) &* 2_654_435_761) % 4_294_967_296) / 4_294_967_296 < failureRate
    }
    for i in 0..<n {
        add([("type", "order_placed"), ("order_id", .string("o\(i)")), ("amount", .int(Int64(i % 1000)))])
    }
    for i in 0..<n { add([("type", "order_validated"), ("order_id", .string("o\(i)"))]) }
    for i in 0..<n {
        add([("type", "inventory_reserved"), ("order_id", .string("o\(i)")), ("reservation", .string("r\(i)"))])
    }
    for i in 0..<n {
        add([
            ("type", .string(declined(i) ? "payment_declined" : "payment_charged")), ("order_id", .string("o\(i)")),
            ("charge", .string("c\(i)")),
        ])
    }
    for i in 0..<n where !declined(i) { add([("type", "shipment_created"), ("order_id", .string("o\(i)"))]) }
    return events
}

/// Runs a fixed set of saga events through a fresh chain, batch by batch, as a stage
/// does (watermark = the latest time, no lateness); starts over with a new chain (and
/// no sagas) when the events run out.
package final class SagaReplay {
    let yaml: String
    var chain: BenchmarkChain
    let batches: [[Event]]
    var index = 0
    var watermark = Int64.min
    var sides: [(port: Int, event: Event)] = []

    package init(_ yaml: String, events: [Event]) {
        self.yaml = yaml
        chain = makeChain(yaml)
        batches = batched(events)
        sides.reserveCapacity(4096)
    }

    /// Runs at least `events` events; returns the side events (commands, log) made.
    package func run(_ events: Int) -> Int {
        var done = 0
        var made = 0
        while done < events {
            let batch = batches[index]
            _ = chain.process(batch, watermark: watermark, sides: &sides)
            if let last = batch.last?.time, last > watermark {
                watermark = last
                _ = chain.advance(watermark: last, sides: &sides)
            }
            made += sides.count
            sides.removeAll(keepingCapacity: true)
            done += batch.count
            index += 1
            if index == batches.count {
                index = 0
                watermark = Int64.min
                chain = makeChain(yaml)
            }
        }
        return made
    }
}
