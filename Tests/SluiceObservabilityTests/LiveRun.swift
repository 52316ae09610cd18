import Foundation
import SluiceCore
import SluiceJSON
import SluiceObservability
import SluiceTestSupport
import Synchronization
import Testing

/// A `sluice run ... --metrics 127.0.0.1:0` running in the background, fed through a
/// pipe the test writes, on a free loopback port (the one the run printed).
final class LiveRun {
    static let root = SluiceBinary.root

    /// The built binary, next to the test bundle or under .build/debug.
    static var binary: URL { SluiceBinary.url }

    let process = Process()
    let stdin = Pipe()
    let stderrURL: URL
    let stdoutURL: URL
    /// `http://127.0.0.1:PORT`.
    private(set) var url = ""
    var target: HTTPClient.Target { get throws { try HTTPClient.Target(url) } }

    /// Starts `sluice run ARGS --metrics 127.0.0.1:0` and waits for its endpoint.
    init(_ args: [String]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-obs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        stderrURL = dir.appendingPathComponent("stderr")
        stdoutURL = dir.appendingPathComponent("stdout")
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        process.executableURL = Self.binary
        process.arguments = ["run"] + args + ["--metrics", "127.0.0.1:0"]
        process.currentDirectoryURL = Self.root
        process.standardInput = stdin
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let m = stderr.firstMatch(of: /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/) {
                url = String(m.1)
                return
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw LiveRunError(text: "no endpoint: \(stderr)")
    }

    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

    /// Writes lines to the run's stdin.
    func write(_ lines: [String]) {
        stdin.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// Closes stdin and waits for the run to end; its exit status.
    @discardableResult
    func finish() -> Int32 {
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// The scraped samples.
    func scrape() throws -> [PrometheusSample] { PrometheusSample.parse(try HTTPClient.get(target, "/metrics")) }

    /// Scrapes until `done` holds for the samples (the stages publish every 200 ms).
    func waitFor(_ what: String, _ done: ([PrometheusSample]) -> Bool) throws -> [PrometheusSample] {
        let deadline = Date().addingTimeInterval(60)
        var last: [PrometheusSample] = []
        while Date() < deadline {
            last = try scrape()
            if done(last) { return last }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw LiveRunError(text: "timed out waiting for \(what)")
    }
}

struct LiveRunError: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
}

/// The value of `name` with `labels` in `samples` (nil when absent).
func value(_ samples: [PrometheusSample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
    samples.first { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }?.value
}

/// Runs another `sluice` command to its end: status, stdout, stderr.
func sluice(_ args: [String], timeout: TimeInterval = 30) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = LiveRun.binary
    p.arguments = args
    p.currentDirectoryURL = LiveRun.root
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    // Read while it runs: a full pipe would block the child.
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    if p.isRunning { p.terminate() }
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// A source the test drives from its own thread: each ``send(_:)`` hands a batch to the
/// run, ``finish()`` ends the input. Needs no task of Swift concurrency (whose two
/// threads the other suites' blocking tests may hold for a long time).
final class ScriptedSource: EventSource, Sendable {
    let name: String
    private let queue = Mutex<(batches: [[JSON]], done: Bool)>(([], false))
    private let ready = DispatchSemaphore(value: 0)

    init(name: String) { self.name = name }

    func send(_ batch: [JSON]) {
        queue.withLock { $0.batches.append(batch) }
        ready.signal()
    }

    func finish() {
        queue.withLock { $0.done = true }
        ready.signal()
    }

    func run(_ out: SourceOutput) throws {
        out.onCancel { [ready] in ready.signal() }
        while true {
            ready.wait()
            if out.isCancelled { return }
            let (batches, done) = queue.withLock { q in
                defer { q.batches = [] }
                return (q.batches, q.done)
            }
            for b in batches { out.emit(b.map { Event($0) }) }
            if done { return }
        }
    }
}
