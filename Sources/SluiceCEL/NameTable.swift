import Foundation

/// Interns variable names to stable small ids, shared by copies of an environment.
final class NameTable: @unchecked Sendable {
    // Guarded by `lock`; compiles may run on several threads.
    private let lock = NSLock()
    private var ids: [String: Int] = [:]

    func name(_ s: String) -> CELName {
        lock.lock()
        defer { lock.unlock() }
        if let id = ids[s] { return CELName(string: s, id: id) }
        let id = ids.count
        ids[s] = id
        return CELName(string: s, id: id)
    }
}
