import Foundation
import SluiceRabbitMQ
import Testing

/// A rabbitmq-server of the tests' own: free loopback ports (AMQP, distribution, epmd),
/// a unique node name, all state in a temporary folder. One per test process (started
/// by the first test that asks, stopped at exit); a watchdog shell stops it too if the
/// test process dies without running its exit handlers.
final class RabbitBroker: Sendable {
    static let server = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    let port: Int
    let epmdPort: Int
    let dir: String
    let pidFile: String
    let env: [String: String]

    /// `amqp://guest:guest@127.0.0.1:PORT/`.
    var url: String { "amqp://guest:guest@127.0.0.1:\(port)/" }

    /// The shared broker, started on first use; nil (the tests skip) when rabbitmq-server
    /// is not installed, except under CI=true, where that is a failure.
    static let shared: Result<RabbitBroker, BrokerError>? = {
        guard FileManager.default.isExecutableFile(atPath: server) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                return .failure(BrokerError("rabbitmq-server is not installed (run `make deps`)"))
            }
            return nil
        }
        do {
            let b = try RabbitBroker()
            atexit {
                if case .success(let b)? = RabbitBroker.shared {
                    b.stop()
                    b.remove()
                }
            }
            return .success(b)
        } catch {
            return .failure(error as? BrokerError ?? BrokerError("\(error)"))
        }
    }()

    /// The shared broker, or nil when the tests should skip; throws when it failed to start.
    static func get() throws -> RabbitBroker? {
        switch shared {
        case nil: return nil
        case .failure(let e): throw e
        case .success(let b): return b
        }
    }

    struct BrokerError: Error, Sendable, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { throw BrokerError("no free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    init() throws {
        port = try Self.freePort()
        let distPort = try Self.freePort()
        epmdPort = try Self.freePort()
        dir = NSTemporaryDirectory() + "sluice-rabbit-\(getpid())-\(port)"
        try FileManager.default.createDirectory(atPath: dir + "/mnesia", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/log", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/enabled_plugins", contents: Data("[].\n".utf8))
        _ = FileManager.default.createFile(
            atPath: dir + "/rabbitmq.conf", contents: Data("loopback_users = none\n".utf8))
        pidFile = dir + "/rabbit.pid"
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = dir
        env["RABBITMQ_NODENAME"] = "sluice\(port)@localhost"
        env["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1"
        env["RABBITMQ_NODE_PORT"] = String(port)
        env["RABBITMQ_DIST_PORT"] = String(distPort)
        env["ERL_EPMD_ADDRESS"] = "127.0.0.1"
        env["ERL_EPMD_PORT"] = String(epmdPort)
        env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}"
        env["RABBITMQ_MNESIA_BASE"] = dir + "/mnesia"
        env["RABBITMQ_LOG_BASE"] = dir + "/log"
        env["RABBITMQ_PID_FILE"] = pidFile
        env["RABBITMQ_ENABLED_PLUGINS_FILE"] = dir + "/enabled_plugins"
        env["RABBITMQ_CONFIG_FILE"] = dir + "/rabbitmq.conf"
        self.env = env
        try start()
    }

    /// Starts the server (again, with the same state) and waits until AMQP accepts.
    func start() throws {
        // The watchdog: the server runs until this test process is gone, then is stopped.
        let script = """
            \(Self.server) >\(dir)/log/stdout 2>&1 &
            server=$!
            while kill -0 \(getpid()) 2>/dev/null && [ ! -e \(dir)/stop ]; do sleep 1; done
            if [ -s \(pidFile) ]; then kill -9 $(cat \(pidFile)) 2>/dev/null; fi
            kill -9 $server 2>/dev/null
            sleep 1
            epmd -port \(epmdPort) -kill >/dev/null 2>&1
            """
        try? FileManager.default.removeItem(atPath: dir + "/stop")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while !Self.accepts(port) {
            guard Date() < deadline, p.isRunning else {
                let log = (try? String(contentsOfFile: dir + "/log/stdout", encoding: .utf8)) ?? ""
                throw BrokerError("rabbitmq-server did not start on port \(port): \(log.suffix(2000))")
            }
            usleep(100_000)
        }
        // The port opens a little before the broker takes logins.
        let deadline2 = Date().addingTimeInterval(20)
        while Date() < deadline2 {
            if case .success(let a) = AMQPAddress.parse(url), (try? AMQPConnection(a)) != nil { return }
            usleep(100_000)
        }
    }

    /// Stops the server (SIGKILL to the pid in its pid file; the watchdog then stops its
    /// epmd) and waits for it.
    func stop() {
        _ = FileManager.default.createFile(atPath: dir + "/stop", contents: nil)
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            // rabbitmq 3.10 here does not stop on SIGTERM; its state is thrown away anyway.
            kill(pid, SIGKILL)
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(50_000) }
            try? FileManager.default.removeItem(atPath: pidFile)
        }
        for _ in 0..<40 where Self.accepts(port) { usleep(50_000) }
    }

    /// Removes the state folder (after ``stop()``).
    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    /// A connection for the tests' own publishing and reading.
    func connect() throws -> AMQPConnection {
        guard case .success(let a) = AMQPAddress.parse(url) else { throw BrokerError("bad url") }
        return try AMQPConnection(a)
    }
}
