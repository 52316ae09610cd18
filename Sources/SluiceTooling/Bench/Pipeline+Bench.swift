import Dispatch
import SluiceCEL
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Pipeline {
    /// Runs the pipeline for `sluice bench`: its `generate` inputs (or the files bound
    /// in `options.inputs`) into counting outputs that discard what they get, first a
    /// warm-up run when asked, then the measured run, and reports throughput, time per
    /// step, latency and peak memory.
    ///
    /// Throws a usage ``RunError`` when nothing would produce events (every input is
    /// stdin and none is bound) or a binding names no input.
    package func bench(_ options: BenchOptions) throws(RunError) -> BenchReport {
        let bound = try bind(options.inputs, names: inputNames, what: "input")
        var notes: [String] = []
        var emptyInputs: [String] = []
        var described: [String] = []
        var hasGenerate = false
        var bytesIn: Int? = 0
        var fileInputs: [String] = []
        for input in inputs {
            if let path = bound[input.name] {
                described.append("file \(input.name)=\(path)")
                fileInputs.append(input.name)
                if let b = bytesIn, let size = fileSize(path == "-" ? nil : path) {
                    bytesIn = b + size
                } else {
                    bytesIn = nil
                }
                continue
            }
            switch input.kind {
            case .stdin:
                emptyInputs.append(input.name)
            case .files(let patterns):
                described.append("file \(input.name)")
                fileInputs.append(input.name)
                for p in expandGlobs(patterns) {
                    if let b = bytesIn, let size = fileSize(p) { bytesIn = b + size } else { bytesIn = nil }
                }
            case .store(let s):
                described.append("store \(input.name)=\(s.path)")
            case .kafka(let k):
                described.append("kafka \(input.name)=\(k.topics.joined(separator: ","))")
            case .rabbitmq(let r):
                described.append("rabbitmq \(input.name)=\(r.queue)")
            case .generate(let g):
                hasGenerate = true
                let n = options.events ?? g.count ?? BenchOptions.defaultGenerateCount
                described.append("generate \(input.name): \(n) events\(g.rate.map { " at \($0)/s" } ?? "")")
            }
        }
        if emptyInputs.count == inputs.count {
            throw RunError(
                isUsage: true,
                message:
                    "bench: the pipeline reads only standard input; give --input NAME=FILE (or a bare FILE), or add a 'generate' input"
            )
        }
        if !emptyInputs.isEmpty {
            notes.append(
                "input\(emptyInputs.count == 1 ? "" : "s") \(emptyInputs.joined(separator: ", ")) (stdin) read as empty; bind with --input NAME=FILE"
            )
        }
        if options.events != nil && !hasGenerate {
            notes.append("--events applies to generate inputs only; the files were read whole")
        }

        var run = RunOptions()
        run.inputs = bound
        run.timing = true
        run.parallelism = options.parallelism
        for name in emptyInputs { run.sources[name] = MemorySource(name: name, items: []) }
        if hasGenerate {
            // A generator without a count would never end.
            run.generateCount =
                options.events
                ?? (inputs.contains { if case .generate(let g) = $0.kind { g.count == nil } else { false } }
                    ? BenchOptions.defaultGenerateCount : nil)
        }

        // Latency stamps: on for the bench runs only (the flag is process-wide).
        SourceOutput.stampIngestTime.store(true, ordering: .relaxed)
        defer { SourceOutput.stampIngestTime.store(false, ordering: .relaxed) }

        var warmed = 0
        if options.warmup > 0 {
            var w = run
            if hasGenerate { w.generateCount = options.warmup }
            for name in outputNames { w.sinks[name] = BenchSink(name: name) }
            if bound.values.contains("-") {
                notes.append("no warm-up: it would consume standard input")
            } else {
                let r = try start(w)
                // File inputs cannot be told a count: stop the run once enough has been read.
                let limit = options.warmup
                let execution = r.execution
                let watcher = DispatchWorkItem {
                    while execution.eventsIn.load(ordering: .relaxed) < limit && !execution.isCancelled {
                        usleep(500)
                    }
                    execution.cancel()
                }
                if !fileInputs.isEmpty { DispatchQueue.global().async(execute: watcher) }
                _ = r.wait()
                watcher.cancel()
                warmed = r.execution.totals.sourceEvents.values.reduce(0, +)
            }
        }

        var sinks: [BenchSink] = []
        for name in outputNames {
            let s = BenchSink(name: name)
            sinks.append(s)
            run.sinks[name] = s
        }
        run.checkpointDirectory = options.checkpointDirectory
        run.checkpointInterval = options.checkpointInterval
        let t0 = DispatchTime.now().uptimeNanoseconds
        let measured = try start(run)
        let outcome = measured.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9

        let totals = measured.execution.totals
        let checkpoints = measured.execution.checkpoints.flatMap { $0.flushOnly ? nil : $0.stats }
        let eventsIn = totals.sourceEvents.values.reduce(0, +)
        var latency = LatencyHistogram()
        for s in sinks { latency.merge(s.latency) }
        var estimated = false
        if hasGenerate, let b = bytesIn {
            bytesIn = b + generatedBytes(eventsIn: eventsIn, fileInputs: fileInputs, totals: totals)
            estimated = true
        }
        return BenchReport(
            pipeline: file, source: described.joined(separator: ", "), warmupEvents: warmed, seconds: seconds,
            eventsIn: eventsIn, eventsOut: sinks.reduce(0) { $0 + $1.events },
            sideEvents: measured.deadLetters.reduce(0) { $0 + $1.count },
            bytesIn: bytesIn, bytesInEstimated: estimated, bytesOut: sinks.reduce(0) { $0 + $1.bytes },
            steps: stepShares(totals), latency: latency, peakRSSBytes: peakResidentBytes(), allocationsPerEvent: nil,
            outcome: outcome, notes: notes, checkpoints: checkpoints)
    }

    /// Per-step time, partitions (`stream#i`) summed under their stream, in file order.
    func stepShares(_ totals: Execution.Report) -> [BenchReport.StepShare] {
        var shares: [BenchReport.StepShare] = []
        for stream in streams {
            var merged: [StepStats] = []
            for (name, stats) in totals.steps where name == stream.name || name.hasPrefix(stream.name + "#") {
                if merged.isEmpty {
                    merged = stats
                } else {
                    for i in merged.indices where i < stats.count {
                        merged[i].eventsIn += stats[i].eventsIn
                        merged[i].eventsOut += stats[i].eventsOut
                        merged[i].nanos &+= stats[i].nanos
                    }
                }
            }
            for s in merged {
                shares.append(
                    .init(
                        stream: stream.name, step: s.name, kind: s.kind, eventsIn: s.eventsIn, eventsOut: s.eventsOut,
                        nanos: s.nanos, share: 0))
            }
        }
        let total = shares.reduce(UInt64(0)) { $0 &+ $1.nanos }
        if total > 0 { for i in shares.indices { shares[i].share = Double(shares[i].nanos) / Double(total) } }
        return shares
    }

    /// Estimated JSON size of what the `generate` inputs produced: the mean size of the
    /// first 1,000 events of each generator (a fresh one, so the run is not disturbed),
    /// times the events it produced.
    func generatedBytes(eventsIn: Int, fileInputs: [String], totals: Execution.Report) -> Int {
        var total = 0
        for input in inputs where !fileInputs.contains(input.name) {
            guard case .generate(let g) = input.kind else { continue }
            let produced = totals.sourceEvents[input.name] ?? 0
            let fields = g.instantiate()
            let activation = CELDictionaryActivation(["params": g.params])
            let sample = min(1000, max(produced, 1))
            var bytes = 0
            var out: [UInt8] = []
            for _ in 0..<sample {
                var o = JSONObject(minimumCapacity: fields.count)
                for (field, program) in fields {
                    if let v = try? program.evaluate(activation).toJSON() { o.appendUnchecked(key: field, value: v) }
                }
                JSONWriter.write(.object(o), into: &out)
                bytes += out.count + 1
                out.removeAll(keepingCapacity: true)
            }
            total += Int(Double(bytes) / Double(sample) * Double(produced))
        }
        return total
    }
}

/// The size of a regular file (nil path: standard input), or nil when unknown.
func fileSize(_ path: String?) -> Int? {
    var st = stat()
    let rc = path.map { stat($0, &st) } ?? fstat(0, &st)
    guard rc == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int(st.st_size)
}

/// Peak resident set size of this process in bytes (getrusage; KiB on Linux).
func peakResidentBytes() -> Int {
    var usage = rusage()
    #if canImport(Darwin)
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss)
    #else
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024
    #endif
}
