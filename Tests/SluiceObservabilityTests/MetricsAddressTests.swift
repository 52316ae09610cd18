import SluicePipeline
import Testing

/// `--metrics ADDR` and `metrics:`: what an address may look like.
@Suite struct MetricsAddressTests {
    @Test func forms() throws {
        #expect(try MetricsAddress.parse("9464").get() == MetricsAddress(host: "127.0.0.1", port: 9464))
        #expect(try MetricsAddress.parse(":9464").get() == MetricsAddress(host: "127.0.0.1", port: 9464))
        #expect(try MetricsAddress.parse("0.0.0.0:80").get() == MetricsAddress(host: "0.0.0.0", port: 80))
        #expect(try MetricsAddress.parse("[::1]:9464").get() == MetricsAddress(host: "::1", port: 9464))
        #expect(try MetricsAddress.parse("localhost:0").get() == MetricsAddress(host: "localhost", port: 0))
    }

    @Test func malformed() {
        for bad in ["", "127.0.0.1:", "127.0.0.1:99999", "host:port", "::1:9464", "[::1]9464", "a b:1", "[::1"] {
            guard case .failure(let e) = MetricsAddress.parse(bad) else {
                Issue.record("'\(bad)' was accepted")
                continue
            }
            #expect(e.description.contains("bad metrics address"))
        }
    }
}
