import CVulkan
import Foundation

/// What a GPU does that a CPU driver never does on its own, made to happen on demand: the setting
/// `GALAXY_FAULT=OPERATION:N:RESULT[:RANK]` makes the Nth call (1-based, counted per process) of
/// OPERATION return RESULT instead of running.
/// - OPERATION: `submit` (vkQueueSubmit), `wait` (vkWaitForFences), `allocate` (a buffer's memory: every
///   memory type it may use fails).
/// - RESULT: `device-lost`, `out-of-device-memory`, `out-of-host-memory`; for `wait` also `timeout` (VK_TIMEOUT:
///   the wait's limit ran out, as on a device that stopped answering).
/// - RANK: only that rank of an mpirun job (OMPI_COMM_WORLD_RANK); every process when absent.
/// Read here only, inside the Vulkan wrapper; the rest of galaxy sees the error as a real one.
enum FaultInjection {
    enum Operation: String { case submit, wait, allocate }

    struct Plan {
        var operation: Operation
        var call: Int
        var result: VkResult
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var counts: [Operation: Int] = [:]
    nonisolated(unsafe) private static var parsed = false
    nonisolated(unsafe) private static var plan: Plan?

    static let results: [String: VkResult] = [
        "device-lost": VK_ERROR_DEVICE_LOST,
        "out-of-device-memory": VK_ERROR_OUT_OF_DEVICE_MEMORY,
        "out-of-host-memory": VK_ERROR_OUT_OF_HOST_MEMORY,
        "timeout": VK_TIMEOUT,
    ]

    /// Parses a setting; nil when it does not apply to this process (another rank's).
    static func parse(_ text: String, rank: String?) throws -> Plan? {
        let parts = text.split(separator: ":").map(String.init)
        guard (3...4).contains(parts.count), let op = Operation(rawValue: parts[0]), let n = Int(parts[1]), n >= 1,
              let result = results[parts[2]] else {
            throw VulkanError("GALAXY_FAULT=\(text): expected OPERATION:N:RESULT[:RANK] with OPERATION submit, wait or allocate, "
                              + "N >= 1, RESULT device-lost, out-of-device-memory, out-of-host-memory or (for wait) timeout")
        }
        if result == VK_TIMEOUT && op != .wait {
            throw VulkanError("GALAXY_FAULT=\(text): RESULT timeout applies to wait only (vkWaitForFences is the call with a time limit)")
        }
        if parts.count == 4 && parts[3] != (rank ?? "0") { return nil }
        return Plan(operation: op, call: n, result: result)
    }

    /// Checks the setting once (an invalid one is an error when the device is opened).
    static func validate() throws {
        lock.lock(); defer { lock.unlock() }
        guard !parsed else { return }
        let env = ProcessInfo.processInfo.environment
        if let text = env["GALAXY_FAULT"], !text.isEmpty {
            plan = try parse(text, rank: env["OMPI_COMM_WORLD_RANK"])
        }
        parsed = true
    }

    /// The injected result of this call of `operation`, or nil: make the call.
    static func result(_ operation: Operation) -> VkResult? {
        lock.lock(); defer { lock.unlock() }
        guard let plan, plan.operation == operation else { return nil }
        counts[operation, default: 0] += 1
        return counts[operation] == plan.call ? plan.result : nil
    }
}

/// A failure of the device itself, rather than of galaxy's use of it: what a run cannot recover from
/// in-process, and after which nothing more is read from the device.
public enum DeviceFailure: Sendable, Equatable, CustomStringConvertible {
    case deviceLost
    case outOfDeviceMemory
    case outOfHostMemory
    /// A wait for the device ran past its limit (VK_TIMEOUT): the device stopped answering. Its work may
    /// still be running, so nothing it may use is destroyed afterwards (VulkanContext.isAbandoned).
    case timedOut(WaitLimit)

    init?(_ result: VkResult) {
        switch result {
        case VK_ERROR_DEVICE_LOST: self = .deviceLost
        case VK_ERROR_OUT_OF_DEVICE_MEMORY: self = .outOfDeviceMemory
        case VK_ERROR_OUT_OF_HOST_MEMORY: self = .outOfHostMemory
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .deviceLost: return "VK_ERROR_DEVICE_LOST: the device was lost (a GPU reset, a driver crash or a hardware fault)"
        case .outOfDeviceMemory: return "VK_ERROR_OUT_OF_DEVICE_MEMORY: the device ran out of memory"
        case .outOfHostMemory: return "VK_ERROR_OUT_OF_HOST_MEMORY: the driver ran out of host memory"
        case .timedOut(let limit): return "VK_TIMEOUT: the device stopped answering: its work did not finish within \(limit)"
        }
    }
}
