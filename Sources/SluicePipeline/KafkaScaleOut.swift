import SluiceCore
import SluiceKafka
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Scale-out with consumer groups (docs/kafka.md, "Scale-out"): a run of a pipeline whose
/// Kafka input has `scale_out: true` is a member of the group that reads nothing itself.
/// Each partition the group assigns it is run by a process of its own (`sluice run` again,
/// told its partition through ``KafkaPartitionRun/environmentName``), as if that
/// partition were the whole input: its own checkpoints in `DIR/partitions/TOPIC-P`, its own
/// files (`out.TOPIC-P.jsonl`). A partition that moves to another member takes its state
/// with it through that checkpoint directory: the old owner's process writes a last
/// checkpoint and lets the directory go; the new owner's process waits for it and resumes
/// there, window state and offset together.
extension Pipeline {
    /// The environment variable that names the partition a process runs.
    package static var partitionEnvironmentName: String { KafkaPartitionRun.environmentName }

    /// The input with `scale_out: true`, when the pipeline has one (it is then the only
    /// input).
    package var scaleOutInput: (name: String, spec: KafkaInputSpec)? {
        for input in inputs {
            if case .kafka(let k) = input.kind, k.scaleOut { return (input.name, k) }
        }
        return nil
    }

    /// The checkpoint directory of a scale-out member, required.
    package func scaleOutDirectory(_ options: RunOptions) throws(RunError) -> String {
        guard let directory = options.checkpointDirectory ?? checkpoint?.directory else {
            throw RunError(
                .usage,
                "input '\(scaleOutInput?.name ?? "")' has 'scale_out: true': its partitions' state moves between processes through checkpoints, so run with --checkpoint-dir DIR (a directory all the group's processes share)"
            )
        }
        return directory
    }

    /// The options of the process that runs `run.partition`: that partition only, the
    /// checkpoints in `DIR/partitions/TOPIC-P`, and each file output (and `--dlq`) with
    /// `.TOPIC-P` before its extension.
    package func partitionOptions(_ options: RunOptions, _ run: KafkaPartitionRun) throws(RunError) -> RunOptions {
        var o = options
        let tp = run.partition
        let name = "\(tp.topic)-\(tp.partition)"
        o.checkpointDirectory = try scaleOutDirectory(options) + "/partitions/" + name
        var bound = options.outputs
        if let bare = bound.removeValue(forKey: ""), outputs.count == 1, let only = outputs.first {
            bound[only.name] = bare
        }
        for output in outputs {
            var path = bound[output.name]
            if path == nil, case .file(let p, _) = output.kind { path = p }
            if let path, path != "-" { bound[output.name] = Self.partitioned(path, name) }
        }
        o.outputs = bound
        o.deadLetterPath = options.deadLetterPath.map { Self.partitioned($0, name) }
        var run = run
        run.keysDirectory = try scaleOutDirectory(options) + "/partitions"
        o.kafkaPartition = run
        return o
    }

    /// The options of the process run for the partition that the environment variable
    /// ``KafkaPartitionRun/environmentName`` names (its text is `text`).
    package func partitionOptions(_ options: RunOptions, environment text: String) throws(RunError) -> RunOptions {
        guard let run = KafkaPartitionRun(environment: text) else {
            throw RunError(.usage, "\(KafkaPartitionRun.environmentName)='\(text)' is not PID:PARTITION:TOPIC")
        }
        return try partitionOptions(options, run)
    }

    /// Runs this pipeline as a member of its scale-out input's group
    /// (``KafkaScaleOutMember``) until `stopRequested()` or a failure.
    package func runScaleOutMember(
        _ options: RunOptions, arguments: [String], stopRequested: () -> Bool
    ) throws(RunError) {
        guard let (name, spec) = scaleOutInput else { return }
        let member = KafkaScaleOutMember(
            input: name, spec: spec, directory: try scaleOutDirectory(options), arguments: arguments)
        if let failure = member.run(stopRequested: stopRequested) { throw RunError(.resource, failure) }
    }

    /// `out.jsonl` -> `out.NAME.jsonl`; a file without extension gets `.NAME` at its end.
    static func partitioned(_ path: String, _ name: String) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        if let dot = path[slash...].lastIndex(of: "."), dot > slash {
            return String(path[..<dot]) + "." + name + String(path[dot...])
        }
        return path + "." + name
    }
}

/// The member of a scale-out group: takes part in the group with its partitions paused,
/// and runs each partition it is assigned in a process of its own, stopping that process
/// (SIGTERM: a last checkpoint, then exit) when the partition is revoked.
package final class KafkaScaleOutMember {
    let input: String
    let spec: KafkaInputSpec
    let directory: String
    /// The command line of this run, given again to each partition's process.
    let arguments: [String]
    /// Each running partition's process.
    var children: [TopicPartition: pid_t] = [:]
    /// Per partition, the checkpoint whose offset was last committed to the group.
    var committed: [TopicPartition: Int] = [:]
    /// Commit failures already reported (each once).
    var warned = Set<String>()
    /// Assignments (true) and revocations (false) since the loop last looked, as the
    /// rebalance callbacks report them.
    final class Changes: Sendable {
        let list = Mutex<[(assigned: Bool, partitions: [TopicPartition])]>([])
    }
    let changes = Changes()

    package init(input: String, spec: KafkaInputSpec, directory: String, arguments: [String]) {
        self.input = input
        self.spec = spec
        self.directory = directory
        self.arguments = arguments
    }

    /// Takes part in the group until `stopRequested()` (returns nil) or a failure (returns
    /// its reason: the group could not be joined, a partition's process ended by itself).
    /// Every partition's process is stopped before it returns.
    package func run(stopRequested: () -> Bool) -> String? {
        for d in [directory, directory + "/partitions"] where mkdir(d, 0o755) != 0 && errno != EEXIST {
            return "cannot create checkpoint directory '\(d)': \(String(cString: strerror(errno)))"
        }
        let consumer: KafkaConsumer
        do throws(KafkaError) {
            consumer = try KafkaConsumer(
                brokers: spec.brokers, group: spec.group, topics: spec.topics, start: spec.start,
                client: spec.client.sorted { $0.key < $1.key }, restored: [:],
                connectTimeoutMs: spec.connectTimeoutMs, batchSize: 64, membership: .paused,
                onRevoke: { [changes] tps in changes.list.withLock { $0.append((false, tps)) } },
                onAssign: { [changes] tps in changes.list.withLock { $0.append((true, tps)) } })
        } catch {
            return "input '\(input)': \(error.message)"
        }
        defer {
            let running = Array(children.keys)
            stop(running, why: "the run stops")
            commit(running, consumer)
            consumer.close()
        }
        var fatal: String?
        var lastCommit = ContinuousClock.now
        while !stopRequested() {
            if ContinuousClock.now - lastCommit > .seconds(1) {
                commit(Array(children.keys), consumer)
                lastCommit = ContinuousClock.now
            }
            _ = consumer.poll(timeoutMs: 100) { _ in
            } onError: { isFatal, text in
                if isFatal {
                    fatal = fatal ?? text
                } else if self.warned.insert(text).inserted {
                    note("Kafka: \(text) (librdkafka retries)")
                }
            }
            if let fatal { return "input '\(input)': Kafka: \(fatal)" }
            let now = changes.list.withLock { c in
                defer { c.removeAll() }
                return c
            }
            for c in now {
                if c.assigned {
                    for tp in c.partitions.sorted() where children[tp] == nil {
                        if let failure = start(tp) { return failure }
                    }
                } else {
                    stop(c.partitions.filter { children[$0] != nil }, why: "revoked")
                }
            }
            for (tp, pid) in children {
                var status: Int32 = 0
                guard waitpid(pid, &status, WNOHANG) == pid else { continue }
                children[tp] = nil
                if stopRequested() { break }
                return
                    "input '\(input)': the process running partition \(tp.topic)-\(tp.partition) ended by itself (\(Self.describe(status)))"
            }
        }
        return nil
    }

    /// Starts the process that runs `tp`; returns why it could not.
    func start(_ tp: TopicPartition) -> String? {
        let run = KafkaPartitionRun(partition: tp, parent: getpid())
        #if os(Linux)
            let path = "/proc/self/exe"
        #else
            let path = arguments.first ?? "sluice"
        #endif
        var env: [String] = []
        var e = environ
        while let p = e.pointee {
            let s = String(cString: p)
            if !s.hasPrefix(KafkaPartitionRun.environmentName + "=") { env.append(s) }
            e += 1
        }
        env.append(KafkaPartitionRun.environmentName + "=" + run.environment)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        // In a process group of its own, so that a Ctrl-C at the terminal reaches the
        // member only, which then stops each partition's process once (a second signal
        // would make it exit before its last checkpoint).
        #if canImport(Glibc)
            var attributes = posix_spawnattr_t()
        #else
            var attributes: posix_spawnattr_t?
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var pid: pid_t = 0
        let err = posix_spawn(&pid, path, nil, &attributes, argv, envp)
        guard err == 0 else {
            return
                "input '\(input)': cannot start the process for partition \(tp.topic)-\(tp.partition): \(String(cString: strerror(err)))"
        }
        children[tp] = pid
        note("running partition \(tp.topic)-\(tp.partition) (process \(pid))")
        return nil
    }

    /// Stops the processes of `partitions` (SIGTERM: each writes a last checkpoint and
    /// lets its directory go) and waits for them.
    func stop(_ partitions: [TopicPartition], why: String) {
        let stopping = partitions.compactMap { tp in children[tp].map { (tp, $0) } }
        for (_, pid) in stopping { kill(pid, SIGTERM) }
        for (tp, pid) in stopping {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            children[tp] = nil
            note("stopped partition \(tp.topic)-\(tp.partition) (\(why))")
        }
    }

    /// Commits to the group, for each of `partitions`, the offset of the newest checkpoint
    /// its process wrote, when it has not been committed yet: the group's offsets follow
    /// the checkpoints, as a single run's do. (The processes cannot commit themselves:
    /// they are not members of the group.)
    func commit(_ partitions: [TopicPartition], _ consumer: KafkaConsumer) {
        var offsets: [TopicPartition: Int64] = [:]
        var ids: [TopicPartition: Int] = [:]
        for tp in partitions {
            let store = CheckpointStore(reading: directory + "/partitions/\(tp.topic)-\(tp.partition)")
            guard let id = store.ids().first, id != committed[tp],
                let c = try? store.read(id), let position = c.sources[input]?.position,
                let o = (try? KafkaSource.decode(position))?[tp]
            else { continue }
            offsets[tp] = o
            ids[tp] = id
        }
        guard !offsets.isEmpty else { return }
        if let err = consumer.commit(offsets, async: false) {
            if warned.insert(err).inserted { note("committing the partitions' checkpointed offsets failed: \(err)") }
            return
        }
        committed.merge(ids) { _, new in new }
    }

    func note(_ text: String) {
        var bytes = Array("sluice: input '\(input)': \(text)\n".utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// A `waitpid` status as text: the exit code or the signal.
    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        return signal == 0 ? "exit \((status >> 8) & 0xff)" : "signal \(signal)"
    }
}
