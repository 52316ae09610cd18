/// Drawings of a compiled pipeline for `sluice graph`: inputs, streams with their
/// steps, side outputs (dashed, labelled), outputs, and the dead-letter counter that
/// receives side outputs nothing reads.
extension Pipeline {
    /// The output formats of ``graph(format:)``.
    @usableFromInline package enum GraphFormat: String, Sendable, CaseIterable {
        /// A Mermaid `flowchart LR`, which GitHub renders in Markdown.
        case mermaid
        /// Graphviz `digraph`, for `dot -Tsvg`.
        case dot
    }

    /// One edge of the drawing: from a node to a node, with an optional side-output label.
    struct GraphEdge {
        var from: String
        var to: String
        var label: String?
    }

    /// One box: an id, its text, and its shape.
    struct GraphNode {
        enum Shape { case input, step, output, deadLetters }
        var id: String
        var label: String
        var shape: Shape
        /// The stream it belongs to (steps only).
        var stream: String?
    }

    /// The graph as text in `format`.
    @usableFromInline package func graph(format: GraphFormat) -> String {
        let (nodes, edges) = graphModel()
        switch format {
        case .mermaid: return mermaid(nodes, edges)
        case .dot: return dot(nodes, edges)
        }
    }

    func graphModel() -> ([GraphNode], [GraphEdge]) {
        var nodes: [GraphNode] = []
        var edges: [GraphEdge] = []
        func id(_ parts: String...) -> String {
            parts.joined(separator: "_").map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        }
        for input in inputs {
            let kind: String
            switch input.kind {
            case .stdin: kind = "stdin"
            case .files(let paths): kind = "file: " + paths.joined(separator: ", ")
            case .generate: kind = "generate"
            case .store(let s): kind = "store: " + s.path
            case .kafka(let k): kind = "kafka: " + k.topics.joined(separator: ", ")
            case .rabbitmq(let r): kind = "rabbitmq: " + r.queue
            }
            nodes.append(GraphNode(id: id("in", input.name), label: "\(input.name)\n\(kind)", shape: .input))
        }
        // A stream's first and last node: its first and last step, or one pass-through node.
        var heads: [String: String] = [:]
        var tails: [String: String] = [:]
        for stream in streams {
            if stream.steps.isEmpty {
                let n = id("s", stream.name, "pass")
                nodes.append(GraphNode(id: n, label: "(pass through)", shape: .step, stream: stream.name))
                heads[stream.name] = n
                tails[stream.name] = n
                continue
            }
            var previous: String?
            for (i, step) in stream.steps.enumerated() {
                let n = id("s", stream.name, String(i))
                var label = step.name == step.kind ? step.kind : "\(step.name)\n(\(step.kind))"
                for line in step.graphDetail { label += "\n" + line }
                nodes.append(GraphNode(id: n, label: label, shape: .step, stream: stream.name))
                if let previous { edges.append(GraphEdge(from: previous, to: n)) }
                if previous == nil { heads[stream.name] = n }
                previous = n
            }
            tails[stream.name] = previous
        }
        for output in outputs {
            let kind: String
            switch output.kind {
            case .stdout: kind = "stdout"
            case .stderr: kind = "stderr"
            case .file(let path, let append): kind = (append ? "append: " : "file: ") + path
            case .store(let location):
                kind = (output.project.map { "project: \($0.table.name) in " } ?? "store: ") + location.description
            case .kafka(let topic): kind = "kafka: " + topic
            case .rabbitmq: kind = "rabbitmq: " + (output.rabbitmq?.config.exchange ?? "")
            }
            nodes.append(GraphNode(id: id("out", output.name), label: "\(output.name)\n\(kind)", shape: .output))
        }
        var read = Set<String>()
        func source(_ ref: SourceRef) -> (String, String?)? {
            if inputs.contains(where: { $0.name == ref.base }) { return (id("in", ref.base), ref.port) }
            if let t = tails[ref.base] { return (t, ref.port) }
            // `OUTPUT.rejected` of a store or kafka output.
            if ref.port != nil, outputs.contains(where: { $0.name == ref.base && $0.rejectsToSideOutput }) {
                return (id("out", ref.base), ref.port)
            }
            return nil
        }
        for stream in streams {
            guard let head = heads[stream.name] else { continue }
            for r in stream.from {
                read.insert(r.text)
                if let (from, port) = source(r) { edges.append(GraphEdge(from: from, to: head, label: port)) }
            }
        }
        for output in outputs {
            for r in output.from {
                read.insert(r.text)
                if let (from, port) = source(r) {
                    edges.append(GraphEdge(from: from, to: id("out", output.name), label: port))
                }
            }
        }
        // Side outputs nothing reads are counted as dead letters (and go to --dlq).
        var dead: [GraphEdge] = []
        for input in inputs where !read.contains("\(input.name).malformed") {
            dead.append(GraphEdge(from: id("in", input.name), to: "dead_letters", label: "malformed"))
        }
        for stream in streams {
            guard let tail = tails[stream.name] else { continue }
            for (port, _) in stream.sidePorts.sorted(by: { $0.value < $1.value })
            where !read.contains("\(stream.name).\(port)") {
                dead.append(GraphEdge(from: tail, to: "dead_letters", label: port))
            }
        }
        for output in outputs where output.rejectsToSideOutput && !read.contains("\(output.name).rejected") {
            dead.append(GraphEdge(from: id("out", output.name), to: "dead_letters", label: "rejected"))
        }
        if !dead.isEmpty {
            nodes.append(GraphNode(id: "dead_letters", label: "dead letters\n(counted; --dlq)", shape: .deadLetters))
            edges += dead
        }
        return (nodes, edges)
    }

    func mermaid(_ nodes: [GraphNode], _ edges: [GraphEdge]) -> String {
        func text(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\"", with: "#quot;").replacingOccurrences(of: "\n", with: "<br/>") + "\""
        }
        func box(_ n: GraphNode) -> String {
            switch n.shape {
            case .input: "\(n.id)[/\(text(n.label))/]"
            case .step: "\(n.id)[\(text(n.label))]"
            case .output: "\(n.id)[\\\(text(n.label))\\]"
            case .deadLetters: "\(n.id)[(\(text(n.label)))]"
            }
        }
        var lines = ["flowchart LR"]
        for n in nodes where n.stream == nil { lines.append("    " + box(n)) }
        for stream in streams {
            lines.append(
                "    subgraph stream_\(stream.name.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined())[\(text("stream " + stream.name))]"
            )
            for n in nodes where n.stream == stream.name { lines.append("        " + box(n)) }
            lines.append("    end")
        }
        for e in edges {
            if let label = e.label {
                lines.append("    \(e.from) -. \(text(label)) .-> \(e.to)")
            } else {
                lines.append("    \(e.from) --> \(e.to)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func dot(_ nodes: [GraphNode], _ edges: [GraphEdge]) -> String {
        func text(_ s: String) -> String {
            "\""
                + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n") + "\""
        }
        func box(_ n: GraphNode) -> String {
            let shape: String
            switch n.shape {
            case .input: shape = "shape=invhouse"
            case .step: shape = "shape=box"
            case .output: shape = "shape=house"
            case .deadLetters: shape = "shape=cylinder, style=dashed"
            }
            return "\(n.id) [label=\(text(n.label)), \(shape)];"
        }
        var lines = ["digraph \(text(name)) {", "    rankdir=LR;"]
        for n in nodes where n.stream == nil { lines.append("    " + box(n)) }
        for stream in streams {
            lines.append("    subgraph \(text("cluster_" + stream.name)) {")
            lines.append("        label=\(text("stream " + stream.name));")
            for n in nodes where n.stream == stream.name { lines.append("        " + box(n)) }
            lines.append("    }")
        }
        for e in edges {
            if let label = e.label {
                lines.append("    \(e.from) -> \(e.to) [label=\(text(label)), style=dashed];")
            } else {
                lines.append("    \(e.from) -> \(e.to);")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}

extension OutputSpec {
    /// True for the outputs with a side output `OUTPUT.rejected`: `store`, `project` and
    /// `kafka` (events they could not write).
    var rejectsToSideOutput: Bool { store != nil || project != nil || kafka != nil }
}
