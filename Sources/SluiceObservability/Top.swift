/// One sample of the Prometheus text format: a metric name, its labels and value.
package struct PrometheusSample: Sendable, Equatable {
    package var name: String
    package var labels: [String: String]
    package var value: Double

    package init(name: String, labels: [String: String], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }

    /// The samples of a `/metrics` body (comments and blank lines skipped; a line that
    /// does not parse is skipped too, so `top` shows what it can).
    package static func parse(_ text: String) -> [PrometheusSample] {
        var out: [PrometheusSample] = []
        for raw in text.split(separator: "\n") {
            let line = Array(raw.utf8)
            guard let first = line.first, first != UInt8(ascii: "#") else { continue }
            var i = 0
            while i < line.count && line[i] != UInt8(ascii: "{") && line[i] != UInt8(ascii: " ") { i += 1 }
            let name = String(decoding: line[..<i], as: UTF8.self)
            var labels: [String: String] = [:]
            if i < line.count && line[i] == UInt8(ascii: "{") {
                i += 1
                while i < line.count && line[i] != UInt8(ascii: "}") {
                    var k = i
                    while k < line.count && line[k] != UInt8(ascii: "=") { k += 1 }
                    let key = String(decoding: line[i..<k], as: UTF8.self).filter { $0 != "," && $0 != " " }
                    k += 2  // ="
                    var value: [UInt8] = []
                    while k < line.count && line[k] != UInt8(ascii: "\"") {
                        if line[k] == UInt8(ascii: "\\") && k + 1 < line.count {
                            k += 1
                            value.append(line[k] == UInt8(ascii: "n") ? 0x0A : line[k])
                        } else {
                            value.append(line[k])
                        }
                        k += 1
                    }
                    labels[key] = String(decoding: value, as: UTF8.self)
                    i = k + 1
                    if i < line.count && line[i] == UInt8(ascii: ",") { i += 1 }
                }
                i += 1
            }
            let rest = String(decoding: line[min(i, line.count)...], as: UTF8.self).split(separator: " ")
            guard let v = rest.first, let value = Double(v) ?? (v == "+Inf" ? .infinity : nil) else { continue }
            out.append(PrometheusSample(name: name, labels: labels, value: value))
        }
        return out
    }
}

/// `sluice top`: a table of a running pipeline from two scrapes of its `/metrics`.
package enum TopTable {
    /// The table, with rates over the `seconds` between `before` and `after`.
    package static func render(
        before: [PrometheusSample], after: [PrometheusSample], seconds: Double, url: String
    ) -> [String] {
        func sample(_ s: [PrometheusSample], _ name: String, _ labels: [String: String]) -> PrometheusSample? {
            s.first { sample in sample.name == name && labels.allSatisfy { k, v in sample.labels[k] == v } }
        }
        func value(_ s: [PrometheusSample], _ name: String, _ labels: [String: String]) -> Double {
            sample(s, name, labels)?.value ?? 0
        }
        func rate(_ name: String, _ labels: [String: String]) -> String {
            let d = value(after, name, labels) - value(before, name, labels)
            return seconds > 0 ? count(max(0, d) / seconds) : "-"
        }
        // Sorted by their labels: the registry's order changes from scrape to scrape.
        func all(_ name: String) -> [PrometheusSample] {
            after.filter { $0.name == name }.sorted {
                $0.labels.sorted { $0.key < $1.key }.map(\.value).lexicographicallyPrecedes(
                    $1.labels.sorted { $0.key < $1.key }.map(\.value))
            }
        }
        func bytesCell(_ name: String, _ labels: [String: String]) -> String {
            sample(after, name, labels).map { bytes($0.value) } ?? "-"
        }

        let pipeline = all("sluice_up").first?.labels["pipeline"] ?? "?"
        let ready = value(after, "sluice_ready", [:]) == 1
        let failed = value(after, "sluice_failed", [:]) == 1
        var lines = ["sluice top  \(url)  pipeline \(pipeline)  \(failed ? "FAILED" : ready ? "ready" : "not ready")"]
        lines.append("")

        var rows: [[String]] = [["STREAM", "STEP", "KIND", "IN/s", "OUT/s", "IN", "OUT", "SIDE", "STATE"]]
        for s in all("sluice_step_events_in_total") {
            let l = s.labels.filter { ["stream", "step", "kind"].contains($0.key) }
            rows.append([
                l["stream"] ?? "", l["step"] ?? "", l["kind"] ?? "",
                rate("sluice_step_events_in_total", l), rate("sluice_step_events_out_total", l),
                count(s.value), count(value(after, "sluice_step_events_out_total", l)),
                count(value(after, "sluice_step_side_events_total", l)),
                count(value(after, "sluice_step_state_size", l)),
            ])
        }
        lines += table(rows)

        var io: [[String]] = [["INPUT/OUTPUT", "EVENTS/s", "EVENTS", "BYTES", "MALFORMED / LATENCY"]]
        for s in all("sluice_input_events_total") {
            let l = ["input": s.labels["input"] ?? ""]
            io.append([
                "in  " + (l["input"] ?? ""), rate("sluice_input_events_total", l), count(s.value),
                bytesCell("sluice_input_bytes_total", l),
                "malformed " + count(value(after, "sluice_input_malformed_total", l)),
            ])
        }
        for s in all("sluice_output_events_total") {
            let l = ["output": s.labels["output"] ?? ""]
            let n = value(after, "sluice_output_latency_seconds_count", l)
            let mean = n > 0 ? value(after, "sluice_output_latency_seconds_sum", l) / n : 0
            io.append([
                "out " + (l["output"] ?? ""), rate("sluice_output_events_total", l), count(s.value),
                bytesCell("sluice_output_bytes_total", l), n > 0 ? "mean " + duration(mean) : "-",
            ])
        }
        lines.append("")
        lines += table(io, textLast: true)

        let sides = all("sluice_side_output_events_total").filter { $0.value > 0 }
        if !sides.isEmpty {
            lines.append("")
            var rows: [[String]] = [["SIDE OUTPUT", "EVENTS/s", "EVENTS"]]
            for s in sides {
                let l = s.labels.filter { ["stream", "side"].contains($0.key) }
                rows.append([
                    "\(l["stream"] ?? "").\(l["side"] ?? "")", rate("sluice_side_output_events_total", l),
                    count(s.value),
                ])
            }
            lines += table(rows)
        }

        var lag: [[String]] = [["STREAM", "WATERMARK LAG"]]
        for s in all("sluice_watermark_lag_seconds") { lag.append([s.labels["stream"] ?? "", duration(s.value)]) }
        var rings: [[String]] = [["RING", "QUEUED", "OF"]]
        for s in all("sluice_ring_occupancy") {
            let l = s.labels.filter { ["from", "to"].contains($0.key) }
            let cap = value(after, "sluice_ring_capacity", l)
            rings.append([
                "\(l["from"] ?? "") -> \(l["to"] ?? "")\(cap > 0 && s.value >= cap ? "  (full: backpressure)" : "")",
                count(s.value), count(cap),
            ])
        }
        if lag.count > 1 {
            lines.append("")
            lines += table(lag)
        }
        // Broker inputs: messages each partition has that the run has not read yet.
        var behind: [[String]] = [["CONSUMER LAG", "PARTITION", "MESSAGES", "CHANGE/s"]]
        let partitions = all("sluice_consumer_lag").sorted {
            let a = $0.labels
            let b = $1.labels
            return (a["input"] ?? "", a["topic"] ?? "", Int(a["partition"] ?? "") ?? 0)
                < (b["input"] ?? "", b["topic"] ?? "", Int(b["partition"] ?? "") ?? 0)
        }
        for s in partitions {
            let l = s.labels.filter { ["input", "topic", "partition"].contains($0.key) }
            let change = sample(before, "sluice_consumer_lag", l).map { (s.value - $0.value) / max(seconds, 0.001) }
            behind.append([
                "\(l["input"] ?? "") \(l["topic"] ?? "")", l["partition"] ?? "", count(s.value),
                change.map { ($0 > 0 ? "+" : $0 < 0 ? "-" : "") + count(abs($0)) } ?? "-",
            ])
        }
        if behind.count > 1 {
            lines.append("")
            lines += table(behind, textLast: true)
        }
        if rings.count > 1 {
            lines.append("")
            lines += table(rings)
        }
        return lines
    }

    /// Columns padded to their widest cell; text left, numbers right.
    static func table(_ rows: [[String]], textLast: Bool = false) -> [String] {
        guard let first = rows.first else { return [] }
        let widths = first.indices.map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return rows.map { r in
            var cells: [String] = []
            for (i, cell) in r.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                // Numbers right, text left (and the last column with `textLast`).
                let numeric = cell.first?.isNumber == true || cell == "-"
                let text = !numeric || i == 0 || (textLast && i == first.count - 1)
                cells.append(text ? cell + pad : pad + cell)
            }
            var line = cells.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    static func count(_ x: Double) -> String {
        if x >= 1e9 { return "\((x / 1e8).rounded() / 10)G" }
        if x >= 1e6 { return "\((x / 1e5).rounded() / 10)M" }
        if x >= 1e4 { return "\((x / 1e2).rounded() / 10)k" }
        return "\(Int(x.rounded()))"
    }

    static func bytes(_ x: Double) -> String {
        if x >= 1_073_741_824 { return "\((x / 1_073_741_824 * 10).rounded() / 10) GiB" }
        if x >= 1_048_576 { return "\((x / 1_048_576 * 10).rounded() / 10) MiB" }
        if x >= 1024 { return "\((x / 1024 * 10).rounded() / 10) KiB" }
        return "\(Int(x)) B"
    }

    static func duration(_ s: Double) -> String {
        if s >= 1 { return "\((s * 10).rounded() / 10)s" }
        if s >= 0.001 { return "\((s * 1e4).rounded() / 10)ms" }
        return "\(Int((s * 1e6).rounded()))µs"
    }
}
