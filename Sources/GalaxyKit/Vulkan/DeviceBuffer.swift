import CVulkan
import Foundation

/// A storage buffer. Where it lives follows the context's `MemoryPolicy`: mapped host-visible memory in
/// the unified layout (lavapipe, integrated GPUs), device-local with staging copies in the discrete one.
public final class DeviceBuffer: @unchecked Sendable {
    public let context: VulkanContext
    public let handle: VkBuffer
    /// nil in a compile-only context, where a buffer is a handle with no memory behind it.
    let memory: VkDeviceMemory?
    /// Size in bytes.
    public let size: Int
    fileprivate let mapped: UnsafeMutableRawPointer?
    public let label: String
    public let role: BufferRole
    /// The memory type it was allocated from (UInt32.max in a compile-only context).
    public let memoryTypeIndex: UInt32

    /// `hostVisible`: for small buffers the host rewrites often (batch indices), even on a discrete GPU.
    public convenience init(_ context: VulkanContext, bytes: Int, label: String = "buffer", hostVisible: Bool = false) throws {
        try self.init(context, bytes: bytes, label: label, role: hostVisible ? .hostWritten : .device)
    }

    public init(_ context: VulkanContext, bytes: Int, label: String, role: BufferRole) throws {
        precondition(bytes > 0, "empty buffer \(label)")
        self.context = context
        self.size = bytes
        self.label = label
        self.role = role
        // An allocation larger than its heap is invalid usage (VUID-vkAllocateMemory-pAllocateInfo-01713),
        // and one over maxMemoryAllocationSize may fail in any way: refuse both before any Vulkan call.
        if !context.compileOnly { try Self.checkFits(context, bytes: bytes, label: label, role: role) }
        var bci = VkBufferCreateInfo()
        bci.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        bci.size = VkDeviceSize(bytes)
        bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue
        bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var buffer: VkBuffer?
        let created = vkCreateBuffer(context.device, &bci, nil, &buffer)
        guard created == VK_SUCCESS else {
            throw VulkanError("cannot create buffer \(label) of \(ByteSize.describe(bytes)) (\(bytes) bytes; vkCreateBuffer: \(VulkanResult.name(created))); "
                              + "the device's largest heap is \(ByteSize.describe(context.largestDeviceLocalHeap)): " + Self.hint(label))
        }
        handle = buffer!
        guard !context.compileOnly else {
            (memory, memoryTypeIndex, mapped) = (nil, .max, nil)
            return
        }
        var req = VkMemoryRequirements()
        vkGetBufferMemoryRequirements(context.device, handle, &req)
        // Every acceptable type in the policy's order; the next one also when an allocation fails.
        let acceptable = context.memoryTypes(for: role, bits: req.memoryTypeBits)
        // Only the types whose heap can hold the driver's size (its alignment may add to `bytes`).
        let candidates = acceptable.filter { req.size <= context.heapSize(ofType: $0) && req.size <= context.maxMemoryAllocationSize }
        if candidates.isEmpty && !acceptable.isEmpty {
            vkDestroyBuffer(context.device, handle, nil)
            let heap = acceptable.map { context.heapSize(ofType: $0) }.max()!
            throw Self.tooLarge(context, bytes: Int(req.size), label: label, heap: heap)
        }
        var mem: VkDeviceMemory?
        var chosen: UInt32?
        var failures: [String] = []
        var failed: [VkResult] = []
        let injected = FaultInjection.result(.allocate)
        for typeIndex in candidates {
            var mai = VkMemoryAllocateInfo()
            mai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
            mai.allocationSize = req.size
            mai.memoryTypeIndex = typeIndex
            let r = injected ?? vkAllocateMemory(context.device, &mai, nil, &mem)
            if r == VK_SUCCESS { chosen = typeIndex; break }
            failed.append(r)
            failures.append("type \(typeIndex) (heap \(context.heapIndex(ofType: typeIndex)), \(context.heapSize(ofType: typeIndex) >> 20) MiB): "
                            + (DeviceFailure(r).map { "\($0)" } ?? VulkanResult.name(r)))
        }
        guard let chosen, let mem else {
            vkDestroyBuffer(context.device, handle, nil)
            if candidates.isEmpty { throw VulkanError("no memory type for buffer \(label) (\(role.rawValue))") }
            throw VulkanError("allocating \(ByteSize.describe(bytes)) (\(bytes) bytes) for buffer \(label) failed on every memory type it may use: "
                              + failures.joined(separator: "; ") + ". The device is out of memory for it: " + Self.hint(label),
                              failure: failed.compactMap(DeviceFailure.init).first)
        }
        memory = mem
        memoryTypeIndex = chosen
        vkBindBufferMemory(context.device, handle, memory, 0)
        let props = withUnsafeBytes(of: context.memoryProperties.memoryTypes) {
            $0.bindMemory(to: VkMemoryType.self)[Int(chosen)].propertyFlags
        }
        let hostFlags = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
        if context.memoryPolicy.mapped(role) && props & hostFlags == hostFlags {
            var p: UnsafeMutableRawPointer?
            try check(vkMapMemory(context.device, memory, 0, VkDeviceSize(bytes), 0, &p), "vkMapMemory(\(label))")
            mapped = p
        } else {
            mapped = nil
        }
    }

    /// Throws the clear error when no memory type that `role` may use sits in a heap of `bytes` or more,
    /// or when `bytes` is over the device's maxMemoryAllocationSize.
    static func checkFits(_ context: VulkanContext, bytes: Int, label: String, role: BufferRole) throws {
        let types = context.memoryTypes(for: role, bits: ~0)
        guard !types.isEmpty else { throw VulkanError("no memory type for buffer \(label) (\(role.rawValue)) on \(context.info.name)") }
        if bytes > context.largestAllocation(for: role) {
            throw tooLarge(context, bytes: bytes, label: label, heap: types.map { context.heapSize(ofType: $0) }.max()!)
        }
    }

    static func tooLarge(_ context: VulkanContext, bytes: Int, label: String, heap: UInt64) -> VulkanError {
        let cap = Int(min(context.maxMemoryAllocationSize, UInt64(Int.max)))
        return VulkanError("buffer \(label) needs \(ByteSize.describe(bytes)) (\(bytes) bytes), more than one allocation on \(context.info.name) can hold: "
                           + "the largest heap it may use is \(ByteSize.describe(Int(min(heap, UInt64(Int.max))))) and maxMemoryAllocationSize is "
                           + "\(ByteSize.describe(cap)); " + hint(label))
    }

    /// What to change when buffer `label` does not fit.
    static func hint(_ label: String) -> String {
        label.hasPrefix("dataset") ? "try a smaller --device-memory so that the images stream, or a smaller --batch" : "try a smaller --batch"
    }

    /// Whether the host reads and writes it directly (false: through staging copies).
    public var isMapped: Bool { mapped != nil }

    /// A buffer of `count` floats.
    public convenience init(_ context: VulkanContext, floats count: Int, label: String = "buffer") throws {
        try self.init(context, bytes: max(count, 1) * 4, label: label)
    }

    deinit {
        // Work still running on a device that stopped answering may use it: left to the process's end.
        guard !context.isAbandoned else { return }
        if mapped != nil { vkUnmapMemory(context.device, memory) }
        vkDestroyBuffer(context.device, handle, nil)
        if let memory { vkFreeMemory(context.device, memory, nil) }
    }

    /// Copies `bytes` into the buffer at byte `offset` (through staging chunks of at most
    /// `VulkanContext.stagingChunk` bytes when the buffer is not mapped).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) throws {
        precondition(offset >= 0 && offset + bytes.count <= size, "write past the end of \(label)")
        // A compile-only context never runs what it records, so what the buffer would hold does not matter.
        guard bytes.count > 0, !context.compileOnly else { return }
        if let mapped {
            (mapped + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            return
        }
        let chunk = min(bytes.count, VulkanContext.stagingChunk)
        let staging = try DeviceBuffer(context, bytes: chunk, label: "upload staging for \(label)", role: .upload)
        for start in stride(from: 0, to: bytes.count, by: chunk) {
            let n = min(chunk, bytes.count - start)
            staging.mapped!.copyMemory(from: bytes.baseAddress! + start, byteCount: n)
            try copy(from: staging.handle, srcOffset: 0, to: handle, dstOffset: offset + start, bytes: n)
        }
    }

    /// Copies `bytes.count` bytes out of the buffer from byte `offset`.
    public func read(into bytes: UnsafeMutableRawBufferPointer, from offset: Int = 0) throws {
        precondition(offset >= 0 && offset + bytes.count <= size, "read past the end of \(label)")
        guard bytes.count > 0 else { return }
        if context.compileOnly { throw VulkanError.compileOnly(context, "read buffer \(label)") }
        context.countReadBack()
        if let mapped {
            bytes.baseAddress!.copyMemory(from: mapped + offset, byteCount: bytes.count)
            return
        }
        let chunk = min(bytes.count, VulkanContext.stagingChunk)
        let staging = try DeviceBuffer(context, bytes: chunk, label: "read-back staging for \(label)", role: .readback)
        for start in stride(from: 0, to: bytes.count, by: chunk) {
            let n = min(chunk, bytes.count - start)
            try copy(from: handle, srcOffset: offset + start, to: staging.handle, dstOffset: 0, bytes: n)
            (bytes.baseAddress! + start).copyMemory(from: staging.mapped!, byteCount: n)
        }
    }

    public func upload<T: BitwiseCopyable>(_ values: [T], at elementOffset: Int = 0) throws {
        try values.withUnsafeBytes { try write($0, at: elementOffset * MemoryLayout<T>.stride) }
    }

    public func download<T: BitwiseCopyable>(_ type: T.Type = Float.self, count: Int, from elementOffset: Int = 0) throws -> [T] {
        var out = [T](unsafeUninitializedCapacity: count) { _, n in n = count }
        try out.withUnsafeMutableBytes { try read(into: $0, from: elementOffset * MemoryLayout<T>.stride) }
        return out
    }

    /// Sets every byte range [offset, offset+count) of floats to `value`.
    public func fill(_ value: Float, count: Int, at elementOffset: Int = 0) throws {
        try upload([Float](repeating: value, count: count), at: elementOffset)
    }

    /// One copy with the barriers the memory model asks for: shader and transfer writes of earlier
    /// submissions before it, and the copy's writes made visible to shaders, transfers and the host after.
    /// (Host writes before the submission are visible to it by the submission itself.)
    private func copy(from src: VkBuffer, srcOffset: Int, to dst: VkBuffer, dstOffset: Int, bytes: Int) throws {
        try OneShot.run(context, work: WaitLimit.Work(bytes: bytes)) { cmd in
            Barrier.memory(cmd, from: VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue,
                           VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue,
                           to: VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue, VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue)
            var region = VkBufferCopy(srcOffset: VkDeviceSize(srcOffset), dstOffset: VkDeviceSize(dstOffset), size: VkDeviceSize(bytes))
            vkCmdCopyBuffer(cmd, src, dst, 1, &region)
            Barrier.memory(cmd, from: VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue, VK_ACCESS_TRANSFER_WRITE_BIT.rawValue,
                           to: VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue | VK_PIPELINE_STAGE_HOST_BIT.rawValue,
                           VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_READ_BIT.rawValue
                            | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue | VK_ACCESS_HOST_READ_BIT.rawValue)
        }
    }
}

/// Global memory barriers.
enum Barrier {
    static func memory(_ cmd: VkCommandBuffer, from srcStages: VkPipelineStageFlags, _ srcAccess: VkAccessFlags,
                       to dstStages: VkPipelineStageFlags, _ dstAccess: VkAccessFlags) {
        var barrier = VkMemoryBarrier()
        barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        barrier.srcAccessMask = srcAccess
        barrier.dstAccessMask = dstAccess
        vkCmdPipelineBarrier(cmd, srcStages, dstStages, 0, 1, &barrier, 0, nil, 0, nil)
    }
}

/// Records, submits and waits for a single-use command buffer; `work` sets the wait's limit.
enum OneShot {
    static func run(_ context: VulkanContext, work: WaitLimit.Work, _ record: (VkCommandBuffer) -> Void) throws {
        if context.compileOnly { throw VulkanError.compileOnly(context, "run commands") }
        var ai = VkCommandBufferAllocateInfo()
        ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        ai.commandPool = context.commandPool
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        ai.commandBufferCount = 1
        var cmd: VkCommandBuffer?
        try check(vkAllocateCommandBuffers(context.device, &ai, &cmd), "vkAllocateCommandBuffers")
        // Not while a device that stopped answering may still run it.
        defer { if !context.isAbandoned { vkFreeCommandBuffers(context.device, context.commandPool, 1, &cmd) } }
        var bi = VkCommandBufferBeginInfo()
        bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT.rawValue
        try check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer")
        record(cmd!)
        try check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer")
        try Fence.submitAndWait(context, cmd!, limit: context.waitLimit(for: work))
    }
}

/// Submissions of one command buffer to the context's queue.
enum Fence {
    /// Submits `cmd`; `fence` is signalled once it has run.
    static func submit(_ context: VulkanContext, _ cmd: VkCommandBuffer, signalling fence: VkFence?) throws {
        if let failure = context.abandonment.failure {
            throw VulkanError("vkQueueSubmit refused: the device stopped answering earlier (\(failure))", failure: failure)
        }
        var cmdRef: VkCommandBuffer? = cmd
        try withUnsafePointer(to: &cmdRef) { cp in
            var si = VkSubmitInfo()
            si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
            si.commandBufferCount = 1
            si.pCommandBuffers = cp
            try check(FaultInjection.result(.submit) ?? vkQueueSubmit(context.queue, 1, &si, fence), "vkQueueSubmit")
        }
    }

    /// Submits `cmd` and waits for it, at most `limit`, with a fence created and destroyed around it.
    static func submitAndWait(_ context: VulkanContext, _ cmd: VkCommandBuffer, limit: WaitLimit) throws {
        var fci = VkFenceCreateInfo()
        fci.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var fence: VkFence?
        try check(vkCreateFence(context.device, &fci, nil, &fence), "vkCreateFence")
        defer { if !context.isAbandoned { vkDestroyFence(context.device, fence, nil) } }
        try submit(context, cmd, signalling: fence)
        try Fence.wait(context, &fence, limit: limit)
    }

    /// Waits for `fence` at most `limit` (a lost device returns VK_ERROR_DEVICE_LOST here). Past the limit
    /// the device is taken for hung: the context is abandoned (nothing it may still use is destroyed, nothing
    /// more submitted) and the error is a device failure, as a lost device's is.
    static func wait(_ context: VulkanContext, _ fence: inout VkFence?, limit: WaitLimit) throws {
        let waited = vkWaitForFences(context.device, 1, &fence, VkBool32(VK_TRUE), limit.nanoseconds)
        // An injected failure comes after the real wait: the work is over, as a lost device's is.
        let result = FaultInjection.result(.wait) ?? waited
        if result == VK_TIMEOUT {
            context.abandonment.abandon(.timedOut(limit))
            throw VulkanError("vkWaitForFences", timedOutAfter: limit)
        }
        try check(result, "vkWaitForFences")
    }
}
