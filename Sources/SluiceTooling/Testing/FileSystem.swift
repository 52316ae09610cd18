import SluicePipeline

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The little file-system access that finding test files needs (no Foundation here).
enum FileSystem {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func isDirectory(_ path: String) -> Bool {
        var s = stat()
        guard stat(path, &s) == 0 else { return false }
        return (s.st_mode & S_IFMT) == S_IFDIR
    }

    /// Entry names of a directory (without `.` and `..`), sorted; empty when unreadable.
    static func entries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Every `*.yaml` and `*.yml` file under `root`, recursively, in sorted order,
    /// skipping hidden entries (`.build`, `.git`).
    static func yamlFiles(under root: String) -> [String] {
        var out: [String] = []
        var stack = [root]
        while let dir = stack.popLast() {
            var subdirs: [String] = []
            for name in entries(dir) where !name.hasPrefix(".") {
                let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
                if isDirectory(path) {
                    subdirs.append(path)
                } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                    out.append(path)
                }
            }
            stack += subdirs.reversed()
        }
        return out.sorted()
    }
}

extension Pipeline {
    /// The pipelines `sluice check` reads for `paths`: a file as given, a folder as every
    /// `*.yaml` and `*.yml` below it (hidden folders skipped) except `NAME.test.yaml`
    /// test files, in sorted order.
    package static func pipelineFiles(_ paths: [String]) -> [String] {
        paths.flatMap { path -> [String] in
            guard FileSystem.isDirectory(path) else { return [path] }
            return FileSystem.yamlFiles(under: path).filter {
                !$0.hasSuffix(".test.yaml") && !$0.hasSuffix(".test.yml")
            }
        }
    }
}
