#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few HTTP/1.0 GETs `sluice top` and `sluice tap` make to a pipeline's endpoint:
/// blocking, over one socket each, no dependency beyond the C library.
package enum HTTPClient {
    /// A failed request, in words.
    package struct Failure: Error, Sendable, CustomStringConvertible {
        /// The HTTP status, or nil when there was no answer.
        package var status: Int?
        package var description: String
    }

    /// Where a URL points: `http://HOST:PORT[/path]`, `HOST:PORT` or `:PORT`.
    package struct Target: Sendable, Equatable {
        package var host: String
        package var port: Int
        package var text: String

        /// Reads `url`; a path after the port is ignored (the endpoint's paths are fixed).
        package init(_ url: String) throws(Failure) {
            var rest = Substring(url)
            if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
            if rest.hasPrefix("https://") {
                throw Failure(status: nil, description: "\(url): the endpoint speaks plain http")
            }
            if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
            switch MetricsAddressText.split(String(rest)) {
            case .some(let (h, p)):
                host = h
                port = p
            case .none:
                throw Failure(
                    status: nil,
                    description: "'\(url)' is not an endpoint URL; write http://HOST:PORT (as --metrics printed)")
            }
            text = url
        }
    }

    /// GETs `path`; the body, or a failure that says why (with the server's own words for
    /// an error status).
    package static func get(_ target: Target, _ path: String) throws(Failure) -> String {
        var body: [UInt8] = []
        let status = try stream(target, path, timeoutSeconds: 30) {
            body += $0
            return true
        } onError: {
            body += $0
        }
        let text = String(decoding: body, as: UTF8.self)
        guard status == 200 else {
            throw Failure(status: status, description: text.isEmpty ? "HTTP status \(status)" : trimmed(text))
        }
        return text
    }

    /// GETs `path` and hands each complete line of a 200 response's body to `line` until
    /// it returns false or the server closes. Another status throws, with the body.
    package static func lines(_ target: Target, _ path: String, _ line: (String) -> Bool) throws(Failure) {
        var pending: [UInt8] = []
        var stopped = false
        var errorBody: [UInt8] = []
        let status = try stream(target, path) { chunk in
            if stopped { return false }
            pending += chunk
            while let nl = pending.firstIndex(of: 0x0A) {
                let text = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                if !line(text) {
                    stopped = true
                    return false
                }
            }
            return true
        } onError: {
            errorBody += $0
        }
        if status != 200 {
            let text = String(decoding: errorBody, as: UTF8.self)
            throw Failure(status: status, description: text.isEmpty ? "HTTP status \(status)" : trimmed(text))
        }
    }

    static func trimmed(_ s: String) -> String {
        var t = Substring(s)
        while t.last == "\n" || t.last == "\r" { t = t.dropLast() }
        return String(t)
    }

    /// Connects, sends the request, and passes the body to `body` as it arrives (to
    /// `onError` instead when the status is not 200). Returns the status. With
    /// `timeoutSeconds`, a server silent that long fails the request (a tap, which may
    /// be quiet for as long as its stream is, has none).
    @discardableResult
    static func stream(
        _ target: Target, _ path: String, timeoutSeconds: Int? = nil, _ body: ([UInt8]) -> Bool,
        onError: (([UInt8]) -> Void)? = nil
    ) throws(Failure) -> Int {
        let fd = try connect(target)
        defer { close(fd) }
        if let timeoutSeconds {
            var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(target.host):\(target.port)\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, request.count - sent, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw Failure(status: nil, description: "\(target.text): \(String(cString: strerror(errno)))")
            }
            sent += n
        }
        var head: [UInt8] = []
        var status: Int?
        var buf = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw Failure(status: status, description: "\(target.text): no answer within \(timeoutSeconds ?? 0)s")
            }
            if n < 0 {
                throw Failure(status: status, description: "\(target.text): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            let chunk = Array(buf[..<n])
            if let s = status {
                if s == 200 {
                    if !body(chunk) { return s }
                } else {
                    onError?(chunk)
                }
                continue
            }
            head += chunk
            guard let end = findHeaderEnd(head) else { continue }
            let statusLine = String(decoding: head.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
            let parts = statusLine.split(separator: " ")
            guard parts.count >= 2, let s = Int(parts[1]) else {
                throw Failure(status: nil, description: "\(target.text): not an HTTP answer")
            }
            status = s
            let rest = Array(head[(end + 4)...])
            head = []
            if !rest.isEmpty {
                if s == 200 {
                    if !body(rest) { return s }
                } else {
                    onError?(rest)
                }
            }
        }
        guard let status else {
            throw Failure(status: nil, description: "\(target.text): the server closed without answering")
        }
        return status
    }

    static func findHeaderEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 0x0D && b[i + 1] == 0x0A && b[i + 2] == 0x0D && b[i + 3] == 0x0A {
            return i
        }
        return nil
    }

    static func connect(_ target: Target) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = 0  // IPv4 or IPv6
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(target.host, "\(target.port)", &hints, &list)
        guard rc == 0, let first = list else {
            throw Failure(status: nil, description: "\(target.text): cannot resolve '\(target.host)'")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = ECONNREFUSED
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                if systemConnect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return fd }
                lastError = errno
                close(fd)
            }
            ai = a.pointee.ai_next
        }
        throw Failure(
            status: nil,
            description:
                "cannot reach \(target.text): \(String(cString: strerror(lastError))) (is a pipeline running with --metrics there?)"
        )
    }
}

/// `HOST:PORT`, `[IPV6]:PORT` or `:PORT` split, for URLs.
enum MetricsAddressText {
    static func split(_ s: String) -> (String, Int)? {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        var host = String(s[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        return (host, port)
    }
}

#if canImport(Glibc)
    private let systemConnect = Glibc.connect
#elseif canImport(Darwin)
    private let systemConnect = Darwin.connect
#endif
