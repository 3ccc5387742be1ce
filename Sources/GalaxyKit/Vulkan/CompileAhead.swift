import Foundation

/// Compiling a pipeline set on several cores at once, on a driver that compiles on first use (llvmpipe).
///
/// llvmpipe JIT-compiles a pipeline when it first runs, on its queue's one thread: a cold training step
/// (29 pipelines) spent about 28 s compiling on one core while the others idled. Before the first launch
/// that would run pipelines this machine has not compiled before, `compileAhead()` compiles them with one
/// workgroup each (`firstDispatch`, whose all-zero push constants make every shader return at once):
/// this context takes them from the front of the list, and extra contexts on the same device, opened for
/// this and closed afterwards, take them from the back on their own threads. What the extra contexts
/// compile reaches this one through Mesa's shader cache (which they flush to disk as they close), so the
/// real dispatches find every kernel compiled. One core per pipeline at a time, up to the machine's cores. Only
/// the launched sequence's own pipelines are compiled: one created and never launched (a plan recorded to be
/// read, as `bench --plan` does) is never compiled.
///
/// It only runs where it can help and cannot change what a run does: a CPU device with Mesa's shader cache
/// on, at least `minimumPipelines` new pipelines, more than one core; not under mpirun (every rank of the
/// machine compiles the same pipelines at once already), nor with GALAXY_FAULT or GALAXY_WAIT_TIMEOUT
/// (their submissions and waits are counted and timed by the tests), nor while GALAXY_TRACE_PIPELINES
/// compiles each pipeline as it is created. GALAXY_COMPILE_AHEAD=0 turns it off.
extension VulkanContext {
    /// A pipeline as `pipeline(...)` was asked for it: enough for another context to create the same one.
    struct PipelineRequest {
        let shader: String
        let bindings: Int
        let pushSize: Int
        let specialization: [UInt32]
    }

    static let minimumPipelines = 4

    /// Whether this process compiles ahead at all (see the type's comment).
    static var compilesAhead: Bool {
        let env = ProcessInfo.processInfo.environment
        let off = ["1", "true", "yes"].contains(env["MESA_SHADER_CACHE_DISABLE"]?.lowercased() ?? "")
        return !off && env["GALAXY_COMPILE_AHEAD"] != "0" && env["GALAXY_FAULT"] == nil && env[WaitLimit.variable] == nil
            && !CompileNotice.tracing && !MPIWorld.launched && ProcessInfo.processInfo.activeProcessorCount > 1
    }

    /// Compiles those of `pipelines` (a sequence's, in the order it dispatches them) that this machine had not
    /// compiled before and no launch has run yet, on up to as many threads as the machine has cores (see above).
    /// Called before every launch. Pipelines created and never launched (a recorded plan) are left alone.
    func compileAhead(for pipelines: [ComputePipeline]) throws {
        let pending: [(PipelineRequest, ComputePipeline)] = cacheLock.withLock {
            guard !notYetRun.isEmpty else { return [] }
            var order: [ObjectIdentifier: Int] = [:]
            for (i, p) in pipelines.enumerated() where order[ObjectIdentifier(p)] == nil { order[ObjectIdentifier(p)] = i }
            let (launched, rest) = (notYetRun.filter { order[ObjectIdentifier($0.1)] != nil }, notYetRun.filter { order[ObjectIdentifier($0.1)] == nil })
            notYetRun = rest
            return launched.sorted { order[ObjectIdentifier($0.1)]! < order[ObjectIdentifier($1.1)]! }
        }
        // A few: the launch compiles them. Only llvmpipe: its shader cache carries the extra contexts' work over
        // (SwiftShader, also a CPU driver, keeps none).
        guard pending.count >= Self.minimumPipelines, info.name.hasPrefix("llvmpipe") else { return }
        let helpers = min(ProcessInfo.processInfo.activeProcessorCount - 1, pending.count / 2)
        // [front, back) are not taken yet: this context takes from the front, the extra ones from the back.
        let untaken = LockedValue((front: 0, back: pending.count))
        @Sendable func takeFront() -> Int? { untaken.mutate { r in r.front < r.back ? { r.front += 1; return r.front - 1 }() : nil } }
        @Sendable func takeBack() -> Int? { untaken.mutate { r in r.front < r.back ? { r.back -= 1; return r.back }() : nil } }
        let byOthers = LockedValue(0)
        Self.notice?("compiling \(pending.count) pipelines on \(helpers + 1) cores at once")
        // The extra contexts on threads of their own; this one on the calling thread, once they are open (or failed
        // to open), so that they share the list: opening one takes about as long as compiling a small pipeline.
        let opened = DispatchSemaphore(value: 0), finished = DispatchGroup()
        for _ in 0..<helpers {
            finished.enter()
            Thread.detachNewThread { [self] in
                defer { finished.leave() }
                // If it cannot open or compile, this context compiles the rest itself at first use.
                let other = try? VulkanContext(selector: "\(info.index)", validation: validationEnabled)
                opened.signal()
                guard let other else { return }
                other.isCompileHelper = true
                while let i = takeBack() {
                    let r = pending[i].0
                    guard let p = try? other.pipeline(r.shader, bindings: r.bindings, pushSize: r.pushSize, specialization: r.specialization),
                          (try? other.firstDispatch(p)) != nil else { return }
                    byOthers.mutate { $0 += 1 }
                }
            }
        }
        for _ in 0..<helpers { opened.wait() }
        var failure: Error?
        do {
            while let i = takeFront() { try firstDispatch(pending[i].1) }
        } catch { failure = error }
        finished.wait()
        lastCompileAhead = (pipelines: pending.count, threads: helpers + 1, byOtherContexts: byOthers.mutate { $0 })
        if let failure { throw failure }
    }
}

/// A value shared between threads, changed under a lock.
final class LockedValue<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func mutate<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
}
