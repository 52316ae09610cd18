import NIOCore
import NIOHTTP1
import NIOPosix
import SluiceCore
import SluicePipeline

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The HTTP endpoint of a running pipeline (`--metrics ADDR`): `/metrics` (Prometheus
/// text format 0.0.4), `/healthz`, `/ready` and `/tap` (live sample events as JSON
/// lines). One event-loop thread; the pipeline's stages never wait for it.
package final class MetricsServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    let metrics: RunMetrics
    /// The address it listens on (with the port the system picked, for port 0).
    package let address: MetricsAddress

    /// Why the endpoint could not start.
    package struct StartError: Error, Sendable, CustomStringConvertible {
        package var description: String
    }

    /// Listens on `address` for `metrics`.
    package static func start(
        _ address: MetricsAddress, metrics: RunMetrics, exporter: MetricsExporter
    ) throws(StartError) -> MetricsServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let context = ServerContext(metrics: metrics, exporter: exporter)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // A tap client that does not read holds at most this much in the endpoint;
            // past it samples are dropped (and counted), never queued.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 << 10, high: 256 << 10))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(context))
                }
            }
        do {
            let channel = try bootstrap.bind(host: address.host, port: address.port).wait()
            let port = channel.localAddress?.port ?? address.port
            return MetricsServer(
                group: group, channel: channel, metrics: metrics,
                address: MetricsAddress(host: address.host, port: port))
        } catch {
            try? group.syncShutdownGracefully()
            throw StartError(description: "--metrics \(address): \(Self.explain(error))")
        }
    }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, metrics: RunMetrics, address: MetricsAddress)
    {
        self.group = group
        self.channel = channel
        self.metrics = metrics
        self.address = address
    }

    /// The usual reasons a bind fails, in words.
    static func explain(_ error: any Error) -> String {
        if let e = error as? IOError {
            switch e.errnoCode {
            case EADDRINUSE:
                return
                    "the address is already in use (another process listens there); pick another port, or port 0 for a free one"
            case EADDRNOTAVAIL: return "that address is not one of this machine's"
            case EACCES: return "permission denied (ports below 1024 need privileges)"
            default: return String(cString: strerror(e.errnoCode))
            }
        }
        if error is SocketAddressError || error is SocketAddressError.UnknownHost {
            return "the host cannot be resolved; give an IP address such as 127.0.0.1"
        }
        return "\(error)"
    }

    /// The base URL (`http://127.0.0.1:9464`).
    package var url: String { "http://\(address)" }

    /// Stops listening, after tap clients were sent what they had waiting (up to about
    /// half a second), and closes every connection.
    package func stop() {
        var waited = 0
        while metrics.taps.clientCount > 0 && waited < 500 {
            usleep(20_000)
            waited += 20
        }
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// What every connection's handler shares.
final class ServerContext: Sendable {
    let metrics: RunMetrics
    let exporter: MetricsExporter
    init(metrics: RunMetrics, exporter: MetricsExporter) {
        self.metrics = metrics
        self.exporter = exporter
    }
}

/// One HTTP connection.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: ServerContext
    var head: HTTPRequestHead?
    /// A `/tap` in progress: its buffer, the timer that sends it, and how many events
    /// are still to be sent (nil: no limit).
    var tap: (client: TapClient, task: RepeatedTask, remaining: Int?)?

    init(_ server: ServerContext) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head, tap == nil else { return }
            self.head = nil
            route(context, head)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        endTap()
        context.fireChannelInactive()
    }

    func route(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let (path, query) = Self.split(head.uri)
        guard head.method == .GET || head.method == .HEAD else {
            respond(context, head, .methodNotAllowed, "only GET is served\n")
            return
        }
        let metrics = server.metrics
        switch path {
        case "/metrics":
            respond(
                context, head, .ok, server.exporter.render(), type: "text/plain; version=0.0.4; charset=utf-8")
        case "/healthz":
            respond(context, head, .ok, "ok\n")
        case "/ready":
            if metrics.isReady {
                respond(context, head, .ok, "ready\n")
            } else {
                let why: String
                switch metrics.phase {
                case .starting: why = "starting"
                case .failed(let m): why = "a stage failed: \(m)"
                case .finished: why = "the run has finished"
                case .running: why = "every input has ended"
                }
                respond(context, head, .serviceUnavailable, "not ready: \(why)\n")
            }
        case "/tap":
            startTap(context, head, query)
        case "/":
            respond(context, head, .ok, "sluice: /metrics /healthz /ready /tap?stream=NAME[&side=SIDE][&limit=N]\n")
        default:
            respond(
                context, head, .notFound, "no such endpoint: \(path) (there are /metrics, /healthz, /ready, /tap)\n")
        }
    }

    func respond(
        _ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ body: String,
        type: String = "text/plain; charset=utf-8"
    ) {
        var h = HTTPResponseHead(version: request.version, status: status)
        let bytes = Array(body.utf8)
        h.headers.add(name: "Content-Type", value: type)
        h.headers.add(name: "Content-Length", value: "\(bytes.count)")
        let keepAlive = request.isKeepAlive
        if !keepAlive { h.headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(h)), promise: nil)
        if request.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// `/tap?stream=NAME&side=SIDE&limit=N`: streams the events of a stream, a side
    /// output or an input as JSON lines until the limit, the end of the run, or the
    /// client goes away.
    func startTap(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ query: [String: String]) {
        let metrics = server.metrics
        guard let stream = query["stream"], !stream.isEmpty else {
            respond(context, head, .badRequest, "tap: give the stream, as in /tap?stream=NAME\n")
            return
        }
        let target = query["side"].map { "\(stream).\($0)" } ?? stream
        let known = metrics.tappable
        guard known.contains(target) else {
            let what = query["side"] == nil ? "stream or input" : "side output"
            respond(
                context, head, .notFound,
                "tap: the pipeline has no \(what) '\(target)' (it has: \(known.sorted().joined(separator: ", ")))\n")
            return
        }
        var limit: Int?
        if let l = query["limit"] {
            guard let n = Int(l), n > 0 else {
                respond(context, head, .badRequest, "tap: limit must be a positive number, not '\(l)'\n")
                return
            }
            limit = n
        }
        var h = HTTPResponseHead(version: head.version, status: .ok)
        h.headers.add(name: "Content-Type", value: "application/x-ndjson")
        h.headers.add(name: "Connection", value: "close")
        context.writeAndFlush(wrapOutboundOut(.head(h)), promise: nil)
        let client = metrics.taps.subscribe(target)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(50)) {
            _ in
            let (handler, ctx) = bound.value
            handler.pump(ctx)
        }
        tap = (client, task, limit)
    }

    /// Sends what the tap buffered, if the connection can take it (else it is dropped and
    /// counted); ends the response at the limit or at the end of the run.
    func pump(_ context: ChannelHandlerContext) {
        guard var t = tap else { return }
        var (lines, count, _) = t.client.take()
        if count > 0 {
            if !context.channel.isWritable {
                server.metrics.taps.noteDropped(count)
            } else {
                if let r = t.remaining, count >= r {
                    // Cut after the r-th line.
                    var seen = 0
                    if let end = lines.firstIndex(where: { b in
                        if b == 0x0A { seen += 1 }
                        return seen == r
                    }) {
                        lines.removeSubrange((end + 1)...)
                    }
                    count = r
                }
                context.writeAndFlush(
                    wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: lines)))), promise: nil)
                t.remaining = t.remaining.map { $0 - count }
                tap = t
            }
        }
        let over: Bool
        switch server.metrics.phase {
        case .finished, .failed: over = count == 0
        case .starting, .running: over = false
        }
        if t.remaining == 0 || over {
            endTap()
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func endTap() {
        guard let t = tap else { return }
        tap = nil
        t.task.cancel()
        server.metrics.taps.unsubscribe(t.client)
    }

    /// The path and the query's parameters (percent-decoded).
    static func split(_ uri: String) -> (String, [String: String]) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var params: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard let k = kv.first else { continue }
            params[decode(k)] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return (String(uri[..<q]), params)
    }

    static func decode(_ s: Substring) -> String {
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%"), bytes.count >= 2,
                let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
