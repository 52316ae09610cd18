/// Where the metrics endpoint listens (`--metrics ADDR`, `metrics:` in a pipeline file):
/// `PORT` or `:PORT` (loopback), `HOST:PORT`, or `[IPV6]:PORT`. Port 0 lets the system
/// pick a free one (the endpoint prints the port it got).
package struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    /// An IP address or host name (`127.0.0.1` unless one is given).
    package var host: String
    /// 0 through 65535.
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`, with brackets around an IPv6 address.
    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Reads `text`; the error says what is wrong and what a good address looks like.
    package static func parse(_ text: String) -> Result<MetricsAddress, MetricsAddressError> {
        var t = Substring(text)
        while t.first == " " { t = t.dropFirst() }
        while t.last == " " { t = t.dropLast() }
        var host = "127.0.0.1"
        var portText = String(t)
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else {
                return .failure(.init(text, "the '[' of an IPv6 address has no ']'"))
            }
            host = String(t[t.index(after: t.startIndex)..<close])
            let rest = t[t.index(after: close)...]
            guard rest.hasPrefix(":") else {
                return .failure(.init(text, "a port must follow the ']' (as in [::1]:9464)"))
            }
            portText = String(rest.dropFirst())
            if host.isEmpty { return .failure(.init(text, "the IPv6 address between '[' and ']' is empty")) }
        } else if let colon = t.lastIndex(of: ":") {
            let h = String(t[..<colon])
            if h.contains(":") { return .failure(.init(text, "an IPv6 address goes in brackets, as in [::1]:9464")) }
            if !h.isEmpty { host = h }
            portText = String(t[t.index(after: colon)...])
        }
        guard !portText.isEmpty else { return .failure(.init(text, "no port")) }
        guard portText.allSatisfy(\.isASCII), let port = Int(portText), (0...65535).contains(port) else {
            return .failure(.init(text, "'\(portText)' is not a port (0 to 65535)"))
        }
        let allowed = host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-:_%".contains($0)) }
        guard allowed else { return .failure(.init(text, "'\(host)' is not a host name or IP address")) }
        return .success(MetricsAddress(host: host, port: port))
    }
}

/// A malformed metrics address.
package struct MetricsAddressError: Error, Sendable, CustomStringConvertible {
    package var text: String
    package var reason: String
    init(_ text: String, _ reason: String) {
        self.text = text
        self.reason = reason
    }
    package var description: String {
        "bad metrics address '\(text)': \(reason); write PORT, HOST:PORT or [IPV6]:PORT (e.g. 127.0.0.1:9464)"
    }
}
