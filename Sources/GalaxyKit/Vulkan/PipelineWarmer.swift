import Foundation

/// llvmpipe JIT-compiles a pipeline at its first dispatch and keeps the result in Mesa's shader cache, so a
/// set of heavily unrolled pipelines costs minutes once per machine. A warmer does that work in a background
/// thread while the caller goes on with pipelines that compile quickly:
/// 1. on a second logical device of the same physical device (whose queue thread compiles apart from the
///    caller's), `record` creates the pipelines, and each is dispatched once as one workgroup with zero
///    push constants (every shader's bounds check returns at once): the compiled code lands in the cache;
/// 2. the same pipelines are created on the caller's context (their first dispatch there loads the
///    compiled code from the cache);
/// 3. `key` is remembered (CompileNotice's file), so that a later process knows the set is compiled.
/// `isReady` is then true. Only where remembering works (llvmpipe, Mesa's cache on): `PipelineWarmer.usable`.
public final class PipelineWarmer: @unchecked Sendable {
    private let lock = NSLock()
    private let finished = DispatchSemaphore(value: 0)
    private var state: (done: Bool, error: Error?, seconds: Double, pipelines: Int) = (false, nil, 0, 0)

    /// Whether warming can help on `context`'s device (llvmpipe with Mesa's shader cache on).
    public static func usable(_ context: VulkanContext) -> Bool { context.compileNotice.remembers }

    /// Whether the set named `key` was warmed on this machine before (by this process or an earlier one).
    public static func isWarm(_ context: VulkanContext, key: String) -> Bool { context.compileNotice.isKnown(warmedKey(context, key)) }

    private static func warmedKey(_ context: VulkanContext, _ key: String) -> String {
        let cacheDir = ProcessInfo.processInfo.environment["MESA_SHADER_CACHE_DIR"] ?? "default"
        return "warmed|\(context.compileNotice.driver)|\(cacheDir)|\(key)"
    }

    /// Starts warming in a background thread. `record` records, on the context it is given, whatever
    /// needs the pipelines (it is not run: only its pipelines matter).
    public init(context: VulkanContext, key: String, record: @escaping @Sendable (VulkanContext) throws -> Void) {
        let thread = Thread { [self] in
            let start = Date()
            var failure: Error?
            var count = 0
            do {
                let requests: [PipelineRequest]
                do {
                    let helper = try VulkanContext(selector: String(context.info.index), validation: context.validationEnabled,
                                                   memory: context.memoryPolicy.layout)
                    try record(helper)
                    requests = helper.createdPipelines
                    for r in requests { try helper.firstDispatch(helper.pipeline(r, announce: false)) }
                }
                for r in requests { _ = try context.pipeline(r, announce: false) }
                count = requests.count
                context.compileNotice.remember(Self.warmedKey(context, key))
            } catch {
                failure = error
            }
            lock.lock()
            state = (true, failure, Date().timeIntervalSince(start), count)
            lock.unlock()
            finished.signal()
        }
        thread.stackSize = 16 << 20  // lavapipe's shader passes run on the creating thread
        thread.name = "galaxy pipeline warmer"
        thread.start()
    }

    /// True once every pipeline is compiled and created on the caller's context (or warming failed: `wait`).
    public var isReady: Bool {
        lock.lock()
        defer { lock.unlock() }
        return state.done
    }

    /// Blocks until warming is over; rethrows its error. Returns the seconds it took and the pipelines warmed.
    @discardableResult
    public func wait() throws -> (seconds: Double, pipelines: Int) {
        if !isReady {
            finished.wait()
            finished.signal()  // later waits return at once
        }
        lock.lock()
        defer { lock.unlock() }
        if let error = state.error { throw error }
        return (state.seconds, state.pipelines)
    }
}
