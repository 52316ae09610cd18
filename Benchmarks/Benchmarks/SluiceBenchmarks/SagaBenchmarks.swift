import Benchmark
import BenchmarkFixtures
@_spi(Benchmarks) import Sluice

/// The saga step (issue 20): the replies of 1,000,000 concurrent order sagas, made as
/// gen_saga_replies.py makes them (every saga starts first, then the services answer
/// round by round, payments declined at `failureRate`), run through the step in
/// process in batches of 512. One scaled iteration is one event (`.mega`: throughput
/// reads as millions of events per second); when the events run out a fresh step
/// starts over. `peakMemoryResident` over the 1,000,000 running sagas, less the events
/// themselves, gives the memory per running saga (docs/performance.md).
let sagaBenchmarks: @Sendable () -> Void = {
    let yaml = """
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
    for rate in [0.01, 0.1] {
        Benchmark(
            benchmarkName("step saga 1M concurrent (failure rate \(rate))"),
            configuration: Benchmark.Configuration(
                metrics: [.throughput, .wallClock, .peakMemoryResident, .mallocCountTotal],
                scalingFactor: .mega,
                maxDuration: .seconds(30),
                maxIterations: 10
            )
        ) { benchmark, replay in
            blackHole(replay.run(benchmark.scaledIterations.count))
        } setup: {
            SagaReplay(yaml, events: makeSagaReplies(sagas: 1_000_000, failureRate: rate))
        }
    }
}

/// The events of `sagas` concurrent order sagas, as gen_saga_replies.py writes them.
func makeSagaReplies(sagas n: Int, failureRate: Double) -> [Event] {
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
final class SagaReplay {
    let yaml: String
    var chain: BenchmarkChain
    let batches: [[Event]]
    var index = 0
    var watermark = Int64.min
    var sides: [(port: Int, event: Event)] = []

    init(_ yaml: String, events: [Event]) {
        self.yaml = yaml
        chain = makeChain(yaml)
        batches = batched(events)
        sides.reserveCapacity(4096)
    }

    /// Runs at least `events` events; returns the side events (commands, log) made.
    func run(_ events: Int) -> Int {
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
