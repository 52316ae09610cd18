import Synchronization

/// Interns variable names to stable small ids, shared by copies of an environment.
final class NameTable: Sendable {
    /// Name → id; compiles may run on several threads.
    private let ids = Mutex<[String: Int]>([:])

    func name(_ s: String) -> CELName {
        ids.withLock { ids in
            if let id = ids[s] { return CELName(string: s, id: id) }
            let id = ids.count
            ids[s] = id
            return CELName(string: s, id: id)
        }
    }
}
