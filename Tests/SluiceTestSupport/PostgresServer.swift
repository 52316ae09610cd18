import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A throwaway PostgreSQL server for tests: `initdb` into a temporary folder, `postgres`
/// on a free loopback port with its socket in that folder, stopped by pid and deleted by
/// ``stop()``. Use ``run(_:)``, which stops it also when the test fails.
///
/// The binaries are found through `SLUICE_PG_BINDIR`, `pg_config --bindir`, or the newest
/// `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package, which `make deps` installs).
/// PostgreSQL refuses to run as root: as root, the server runs as `nobody` (through
/// util-linux's `setpriv`), and the folder is handed to that user.
///
/// The superuser is `sluice` with password ``password``: TCP connections need it
/// (scram-sha-256), so tests can try a wrong one; the unix socket trusts local users.
package final class PostgresServer: @unchecked Sendable {
    package let port: Int
    package let directory: URL
    package let binDirectory: String
    package let user = "sluice"
    package let password = "sluice-test-pw"
    private let process: Process
    private var stopped = false

    /// The URL of `database` (default: the one initdb makes).
    package func url(database: String = "postgres", password: String? = nil) -> String {
        "postgres://\(user):\(password ?? self.password)@127.0.0.1:\(port)/\(database)"
    }

    /// True when the tests can run: the binaries exist, or CI requires them (the test then
    /// fails in ``start()`` instead of being skipped).
    package static var enabled: Bool { requiredByCI || findBinDirectory() != nil }

    /// With `CI=true` (or `1`), a missing PostgreSQL is a failure, not a skip.
    package static var requiredByCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? ""
        return value == "true" || value == "1"
    }

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    /// Starts a server, runs `body`, and stops the server whatever happens.
    package static func run<R>(_ body: (PostgresServer) throws -> R) throws -> R {
        let server = try start()
        defer { server.stop() }
        return try body(server)
    }

    /// The folder with `initdb`, `postgres`, `pg_isready` and `psql`, or nil.
    package static func findBinDirectory() -> String? {
        func usable(_ dir: String) -> Bool {
            ["initdb", "postgres", "pg_isready"].allSatisfy {
                FileManager.default.isExecutableFile(atPath: "\(dir)/\($0)")
            }
        }
        if let dir = ProcessInfo.processInfo.environment["SLUICE_PG_BINDIR"], usable(dir) { return dir }
        if let out = try? output("/usr/bin/env", ["pg_config", "--bindir"]) {
            let dir = out.trimmingCharacters(in: .whitespacesAndNewlines)
            if usable(dir) { return dir }
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for v in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) where usable("/usr/lib/postgresql/\(v)/bin") {
            return "/usr/lib/postgresql/\(v)/bin"
        }
        return nil
    }

    /// initdb, start, and wait (up to 60 s) until the server accepts connections.
    package static func start() throws -> PostgresServer {
        guard let bin = findBinDirectory() else {
            throw Failure(
                description:
                    "PostgreSQL server binaries (initdb, postgres) not found: install Debian's 'postgresql' package (make deps does)\(requiredByCI ? "; required because CI=true" : "")"
            )
        }
        // /tmp rather than $TMPDIR: `nobody` must reach the folder, and the socket's path
        // must stay under the 107 bytes a unix socket address holds.
        let base =
            FileManager.default.fileExists(atPath: "/tmp")
            ? URL(fileURLWithPath: "/tmp") : FileManager.default.temporaryDirectory
        let dir = base.appendingPathComponent("sluice-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        do {
            let prefix = try runAsPrefix(owning: dir)
            try Data("sluice-test-pw\n".utf8).write(to: dir.appendingPathComponent("pw"))
            try FileManager.default.createDirectory(
                at: dir.appendingPathComponent("sock"), withIntermediateDirectories: true)
            try handOver(dir)
            let initdb =
                prefix + [
                    "\(bin)/initdb", "-D", dir.appendingPathComponent("data").path, "-U", "sluice",
                    "--pwfile=\(dir.appendingPathComponent("pw").path)", "--auth-local=trust",
                    "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "-N",
                ]
            let log = dir.appendingPathComponent("initdb.log")
            let status = try runWaiting(initdb, log: log)
            guard status == 0 else {
                throw Failure(description: "initdb failed (\(status)): \(tail(log))")
            }
            let port = try freePort()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: prefix.first ?? "\(bin)/postgres")
            p.arguments =
                Array(
                    (prefix + [
                        "\(bin)/postgres", "-D", dir.appendingPathComponent("data").path, "-p", String(port),
                        "-k", dir.appendingPathComponent("sock").path, "-c", "listen_addresses=127.0.0.1",
                        "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "shared_buffers=16MB",
                        "-c", "max_connections=40",
                    ]).dropFirst())
            let serverLog = dir.appendingPathComponent("server.log")
            _ = FileManager.default.createFile(atPath: serverLog.path, contents: nil)
            p.standardOutput = try FileHandle(forWritingTo: serverLog)
            p.standardError = try FileHandle(forWritingTo: serverLog)
            try p.run()
            let server = PostgresServer(port: port, directory: dir, binDirectory: bin, process: p)
            var waited = 0
            while true {
                if !p.isRunning {
                    server.stop(keepFolder: true)
                    let why = tail(serverLog)
                    try? FileManager.default.removeItem(at: dir)
                    throw Failure(description: "postgres exited at start: \(why)")
                }
                if (try? runWaiting(["\(bin)/pg_isready", "-q", "-h", "127.0.0.1", "-p", String(port)], log: nil))
                    == 0
                {
                    return server
                }
                if waited > 60_000 {
                    server.stop()
                    throw Failure(description: "postgres did not accept connections within 60 s")
                }
                usleep(100_000)
                waited += 100
            }
        } catch {
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
    }

    private init(port: Int, directory: URL, binDirectory: String, process: Process) {
        self.port = port
        self.directory = directory
        self.binDirectory = binDirectory
        self.process = process
    }

    deinit { stop() }

    /// Stops the server (fast shutdown: clients are disconnected), by its pid, then
    /// deletes its folder.
    package func stop() { stop(keepFolder: false) }

    private func stop(keepFolder: Bool) {
        if stopped { return }
        stopped = true
        if process.isRunning {
            kill(process.processIdentifier, SIGINT)
            var waited = 0
            while process.isRunning && waited < 10_000 {
                usleep(20_000)
                waited += 20
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        if !keepFolder { try? FileManager.default.removeItem(at: directory) }
    }

    /// Runs `sql` with psql over the unix socket (as the superuser) and returns its output,
    /// unaligned, without headers.
    @discardableResult
    package func psql(_ sql: String, database: String = "postgres") throws -> String {
        let args = [
            "\(binDirectory)/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h",
            directory.appendingPathComponent("sock").path, "-p", String(port), "-U", user, "-d", database, "-c", sql,
        ]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(description: "psql failed: \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Makes an empty database and returns its URL.
    package func createDatabase(_ name: String) throws -> String {
        try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    // MARK: - Helpers

    /// As root, `setpriv` arguments that run a command as `nobody` (and the folder is made
    /// theirs); otherwise none.
    private static func runAsPrefix(owning dir: URL) throws -> [String] {
        guard geteuid() == 0 else { return [] }
        guard let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: FileManager.default.isExecutableFile)
        else {
            throw Failure(description: "running as root, and PostgreSQL refuses root: setpriv (util-linux) is missing")
        }
        guard let pw = getpwnam("nobody") else {
            throw Failure(description: "running as root, and PostgreSQL refuses root: there is no user 'nobody'")
        }
        return [setpriv, "--reuid=\(pw.pointee.pw_uid)", "--regid=\(pw.pointee.pw_gid)", "--clear-groups", "--"]
    }

    /// As root: gives the folder and everything in it to `nobody`, private to them.
    private static func handOver(_ dir: URL) throws {
        guard geteuid() == 0, let pw = getpwnam("nobody") else { return }
        for path in [dir.path, dir.appendingPathComponent("pw").path, dir.appendingPathComponent("sock").path] {
            guard chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
                throw Failure(description: "cannot hand \(path) to nobody: \(String(cString: strerror(errno)))")
            }
        }
        chmod(dir.path, 0o700)
    }

    private static func runWaiting(_ args: [String], log: URL?) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        if let log {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            p.standardOutput = try FileHandle(forWritingTo: log)
            p.standardError = try FileHandle(forWritingTo: log)
        } else {
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
        }
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    private static func output(_ path: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure(description: "\(args) failed") }
        return String(decoding: data, as: UTF8.self)
    }

    private static func tail(_ log: URL) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(5).joined(separator: " | ")
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (the kernel's pick; it may be taken
/// again before use, which the caller's start then reports).
package func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw PostgresServer.Failure(description: "socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
            bind(fd, p, len) == 0 && getsockname(fd, p, &len) == 0
        }
    }
    guard bound else { throw PostgresServer.Failure(description: "cannot bind a loopback port") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
