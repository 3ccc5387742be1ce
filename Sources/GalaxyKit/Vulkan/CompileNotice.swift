import Foundation

/// On llvmpipe every pipeline is JIT-compiled by LLVM on its first use on a machine (Mesa keeps the
/// result in its shader cache), which can take minutes. Before the first pipeline a process creates
/// that this machine has not compiled before, `VulkanContext.notice` gets one line saying so, naming the
/// kernels (the kernel path's) and the first of them; a process whose pipelines were all compiled before
/// (by an earlier run) says nothing.
/// What has been compiled is remembered in $XDG_CACHE_HOME/galaxy (~/.cache/galaxy), one key per
/// pipeline: driver, Mesa cache folder, a hash of the SPIR-V and the specialization constants.
/// `GALAXY_TRACE_PIPELINES=1` prints every pipeline's creation time to stderr, and the time of a first
/// one-workgroup dispatch, where llvmpipe does its JIT compilation.
final class CompileNotice: @unchecked Sendable {
    private let file: URL?
    private var known: Set<String>
    private var announced = false
    private let lock = NSLock()
    let device: String
    let driver: String
    let cpu: Bool

    /// `file`: where compiled pipelines are remembered (default: from the environment, nil when Mesa's cache is off).
    init(device: String, driver: String, cpu: Bool, file given: URL?? = nil) {
        self.device = device
        self.driver = driver
        self.cpu = cpu
        let env = ProcessInfo.processInfo.environment
        let cacheDisabled = ["1", "true", "yes"].contains(env["MESA_SHADER_CACHE_DISABLE"]?.lowercased() ?? "")
        let base = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? env["HOME"].map { URL(fileURLWithPath: $0).appendingPathComponent(".cache") }
        file = given ?? (cpu && !cacheDisabled ? base?.appendingPathComponent("galaxy/compiled-pipelines.txt") : nil)
        let text = file.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
        known = Set(text.split(separator: "\n").map(String.init))
    }

    static var tracing: Bool { ProcessInfo.processInfo.environment["GALAXY_TRACE_PIPELINES"] == "1" }

    func key(shader: String, code: [UInt32], specialization: [UInt32]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the words
        for w in code { hash = (hash ^ UInt64(w)) &* 0x100_0000_01b3 }
        let cacheDir = ProcessInfo.processInfo.environment["MESA_SHADER_CACHE_DIR"] ?? "default"
        return "\(driver)|\(cacheDir)|\(shader)|\(String(hash, radix: 16))|\(specialization.map(String.init).joined(separator: ","))"
    }

    /// Whether this machine compiled the pipeline of `key` before (as far as galaxy remembers).
    func knows(_ key: String) -> Bool { lock.withLock { known.contains(key) } }

    /// Called before creating a pipeline of `shader` for `kernels` (what they are, e.g. "the portable path's
    /// kernels"): announces the process's first pipeline that this machine has not compiled before.
    func willCreate(_ key: String, shader: String, kernels: String?, notice: ((String) -> Void)?) {
        guard cpu else { return }
        lock.lock()
        defer { lock.unlock() }
        guard !announced, !known.contains(key) else { return }
        announced = true
        notice?("compiling \(kernels ?? "kernels") for \(device) that this machine has not compiled before, \(shader) first "
                + "(each once per machine and driver; this can take a few minutes)")
    }

    /// Called after creating it: remembers the key for later processes.
    func created(_ key: String, shader: String, seconds: Double, firstDispatch: Double) {
        if Self.tracing {
            FileHandle.standardError.write(Data(String(format: "pipeline %@: created in %.3f s, first dispatch %.3f s\n", shader, seconds, firstDispatch).utf8))
        }
        guard cpu, let file else { return }
        lock.lock()
        defer { lock.unlock() }
        guard known.insert(key).inserted else { return }
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard let handle = FileHandle(forWritingAtPath: file.path) ?? {
            _ = FileManager.default.createFile(atPath: file.path, contents: nil)
            return FileHandle(forWritingAtPath: file.path)
        }() else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data((key + "\n").utf8))
    }
}
