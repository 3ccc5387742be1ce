import CVulkan
import Foundation

/// What a buffer is for, which decides the memory it gets (see `MemoryPolicy`).
public enum BufferRole: String, Sendable, CaseIterable {
    /// Weights, activations, the data set: read and written by shaders.
    case device
    /// Small buffers the host rewrites between submissions (batch indices): read by shaders directly.
    case hostWritten = "host-written"
    /// Staging for uploads: written by the host, read by transfers.
    case upload
    /// Staging for read-backs: written by transfers, read by the host.
    case readback
}

/// How this context places buffers. `unified` (lavapipe, integrated GPUs, discrete GPUs whose whole
/// device-local heap is host-visible): every buffer is mapped and the host reads and writes it directly.
/// Otherwise device buffers are device-local and unmapped, and uploads and read-backs go through
/// staging buffers in host memory. `GALAXY_MEMORY=discrete` forces the second layout on any device
/// (on lavapipe: the same memory, never mapped, every transfer through staging), so that the path a
/// discrete GPU takes runs and is tested here.
public struct MemoryPolicy: Sendable {
    public enum Layout: String, Sendable { case unified, discrete }
    public let layout: Layout
    /// Per role, the property sets tried in order (each also tried again when allocating fails).
    public let preferences: [BufferRole: [VkMemoryPropertyFlags]]

    static let hostVisible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue
    static let coherent = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
    static let cached = VK_MEMORY_PROPERTY_HOST_CACHED_BIT.rawValue
    static let deviceLocal = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue

    /// The layout the memory heaps call for: unified when a device-local, host-visible, coherent type
    /// lives in the largest device-local heap (on a discrete GPU without resizable BAR, the host-visible
    /// device-local types sit in a separate 256 MiB heap, which is not enough).
    static func naturalLayout(_ props: VkPhysicalDeviceMemoryProperties) -> Layout {
        var mem = props
        let heaps = withUnsafeBytes(of: &mem.memoryHeaps) { Array($0.bindMemory(to: VkMemoryHeap.self).prefix(Int(props.memoryHeapCount))) }
        let types = withUnsafeBytes(of: &mem.memoryTypes) { Array($0.bindMemory(to: VkMemoryType.self).prefix(Int(props.memoryTypeCount))) }
        let localHeaps = heaps.indices.filter { heaps[$0].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue != 0 }
        guard let largest = localHeaps.max(by: { heaps[$0].size < heaps[$1].size }) else { return .unified }  // no device-local heap: host memory only
        let mappedLocal = deviceLocal | hostVisible | coherent
        return types.contains { Int($0.heapIndex) == largest && $0.propertyFlags & mappedLocal == mappedLocal } ? .unified : .discrete
    }

    init(props: VkPhysicalDeviceMemoryProperties, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        switch environment["GALAXY_MEMORY"] {
        case nil, "": layout = Self.naturalLayout(props)
        case "discrete": layout = .discrete
        case "unified": layout = .unified
        case let other?: throw VulkanError("GALAXY_MEMORY=\(other): expected discrete or unified")
        }
        let (h, c, k, d) = (Self.hostVisible, Self.coherent, Self.cached, Self.deviceLocal)
        var p: [BufferRole: [VkMemoryPropertyFlags]] = [:]
        p[.device] = layout == .unified ? [d | h | c, h | c] : [d, h | c]
        p[.hostWritten] = [d | h | c, h | c]
        p[.upload] = [h | c]  // tried in order, the types without DEVICE_LOCAL first (see memoryTypes)
        p[.readback] = [h | c | k, h | c]
        preferences = p
    }

    /// Whether buffers of `role` are mapped (the host reads and writes them without staging).
    func mapped(_ role: BufferRole) -> Bool { role != .device || layout == .unified }
}

extension MemoryPolicy {
    /// The memory types of `props` a buffer of `role` may use, best first: for each preferred property
    /// set, the types that have it (for staging, those without DEVICE_LOCAL before those with: a small
    /// BAR heap must not hold bulk uploads).
    func memoryTypes(for role: BufferRole, bits: UInt32, in props: VkPhysicalDeviceMemoryProperties) -> [UInt32] {
        var mem = props
        let types = withUnsafeBytes(of: &mem.memoryTypes) { Array($0.bindMemory(to: VkMemoryType.self).prefix(Int(mem.memoryTypeCount))) }
        var out: [UInt32] = []
        for flags in preferences[role]! {
            var fits = types.indices.filter { bits & (1 << UInt32($0)) != 0 && types[$0].propertyFlags & flags == flags }
            if role == .upload || role == .readback {
                fits = fits.filter { types[$0].propertyFlags & Self.deviceLocal == 0 } + fits.filter { types[$0].propertyFlags & Self.deviceLocal != 0 }
            }
            for i in fits where !out.contains(UInt32(i)) { out.append(UInt32(i)) }
        }
        return out
    }

    /// "device-local host-visible coherent": the names of the property bits galaxy asks for.
    static func flagNames(_ f: VkMemoryPropertyFlags) -> String {
        let names = [(deviceLocal, "device-local"), (hostVisible, "host-visible"), (coherent, "coherent"), (cached, "cached")].filter { f & $0.0 != 0 }.map(\.1)
        return names.isEmpty ? "-" : names.joined(separator: " ")
    }

    /// "VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT": the same as Vulkan names them.
    static func vulkanFlagNames(_ f: VkMemoryPropertyFlags) -> String {
        let names = [(deviceLocal, "DEVICE_LOCAL"), (hostVisible, "HOST_VISIBLE"), (coherent, "HOST_COHERENT"), (cached, "HOST_CACHED")]
            .filter { f & $0.0 != 0 }.map { "VK_MEMORY_PROPERTY_\($0.1)_BIT" }
        return names.isEmpty ? "0" : names.joined(separator: " | ")
    }
}

extension VulkanContext {
    /// The memory types a buffer of `role` may use, best first (see `MemoryPolicy.memoryTypes`).
    func memoryTypes(for role: BufferRole, bits: UInt32) -> [UInt32] {
        memoryPolicy.memoryTypes(for: role, bits: bits, in: memoryProperties)
    }

    /// One line per heap and memory type, and the type each role uses first (`galaxy devices --verbose`).
    public func memoryReport() -> [String] {
        var mem = memoryProperties
        let heaps = withUnsafeBytes(of: &mem.memoryHeaps) { Array($0.bindMemory(to: VkMemoryHeap.self).prefix(Int(mem.memoryHeapCount))) }
        let types = withUnsafeBytes(of: &mem.memoryTypes) { Array($0.bindMemory(to: VkMemoryType.self).prefix(Int(mem.memoryTypeCount))) }
        let flagNames = MemoryPolicy.flagNames
        var lines = ["memory layout: \(memoryPolicy.layout.rawValue)" + (ProcessInfo.processInfo.environment["GALAXY_MEMORY"].map { " (GALAXY_MEMORY=\($0))" } ?? " (from the heaps)")]
        for (i, h) in heaps.enumerated() {
            lines.append(String(format: "heap %d: %.1f GiB%@", i, Double(h.size) / 1_073_741_824,
                                h.flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue != 0 ? " device-local" : ""))
        }
        for (i, t) in types.enumerated() {
            let roles = BufferRole.allCases.filter { memoryTypes(for: $0, bits: ~0).first == UInt32(i) }.map(\.rawValue)
            lines.append("type \(i): heap \(t.heapIndex), \(flagNames(t.propertyFlags))" + (roles.isEmpty ? "" : "  <- " + roles.joined(separator: ", ")))
        }
        lines.append("largest allocation: \(ByteSize.describe(Int(min(maxMemoryAllocationSize, UInt64(Int.max))))) (maxMemoryAllocationSize); "
                     + "largest binding: \(ByteSize.describe(Int(limits.maxStorageBufferRange))) (maxStorageBufferRange); "
                     + "binding offsets: multiples of \(limits.minStorageBufferOffsetAlignment) bytes (minStorageBufferOffsetAlignment)")
        return lines
    }
}
