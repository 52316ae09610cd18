import SluiceJSON
import SluicePipeline
import Testing

@Suite struct GenerateTests {
    @Test func generatesCountEventsRepeatablyFromASeed() throws {
        let yaml = """
            inputs:
              events:
                generate:
                  count: 5
                  seed: 7
                  fields:
                    id: counter()
                    user: '"u" + string(random_int(1, 3))'
                    type: choice(["click", "view"])
                    amount: random_double(1.0, 2.0)
                    limit: params.max
            params: { max: 9 }
            streams:
              main: { from: events }
            outputs:
              out: { from: [main], stdout: {} }
            """
        let a = try compile(yaml).collect([:]).outputs["out"] ?? []
        let b = try compile(yaml).collect([:]).outputs["out"] ?? []
        #expect(a.count == 5)
        #expect(a.map(\.value) == b.map(\.value))
        #expect(a.map { $0.value["id"] } == [1, 2, 3, 4, 5])
        for e in a {
            guard case .double(let d)? = e.value["amount"] else { Issue.record("amount"); continue }
            #expect(d >= 1 && d < 2)
            #expect(["u1", "u2", "u3"].contains(e.value["user"]?.stringValue ?? ""))
            #expect(e.value["limit"] == 9)
        }
    }

    @Test func badFieldExpressionsAreDiagnostics() {
        let d = diagnostics(
            """
            inputs:
              g: { generate: { fields: { a: "counter(" } } }
            streams: { main: { from: g } }
            outputs: { out: { from: [main], stdout: {} } }
            """)
        #expect(d.contains { $0.hasPrefix("p.yaml:2:") && $0.contains("in expression") })
    }
}
