import CVulkan
import Foundation

/// A storage buffer in device memory. Host-visible where the device shares memory with the host
/// (lavapipe, integrated GPUs); device-local with staging copies otherwise.
public final class DeviceBuffer: @unchecked Sendable {
    public let context: VulkanContext
    public let handle: VkBuffer
    let memory: VkDeviceMemory
    /// Size in bytes.
    public let size: Int
    fileprivate let mapped: UnsafeMutableRawPointer?
    public let label: String

    /// `hostVisible`: for small buffers the host rewrites often (batch indices), even on a discrete GPU.
    public init(_ context: VulkanContext, bytes: Int, label: String = "buffer", hostVisible: Bool = false) throws {
        precondition(bytes > 0, "empty buffer \(label)")
        self.context = context
        self.size = bytes
        self.label = label
        var bci = VkBufferCreateInfo()
        bci.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        bci.size = VkDeviceSize(bytes)
        bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue
        bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var buffer: VkBuffer?
        try check(vkCreateBuffer(context.device, &bci, nil, &buffer), "vkCreateBuffer(\(label), \(bytes) bytes)")
        handle = buffer!
        var req = VkMemoryRequirements()
        vkGetBufferMemoryRequirements(context.device, handle, &req)
        let hostFlags = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
        let wantHost = context.unifiedMemory || hostVisible
        let typeIndex = wantHost
            ? context.memoryType(bits: req.memoryTypeBits, flags: hostFlags | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue)
                ?? context.memoryType(bits: req.memoryTypeBits, flags: hostFlags)
            : context.memoryType(bits: req.memoryTypeBits, flags: VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue)
                ?? context.memoryType(bits: req.memoryTypeBits, flags: hostFlags)
        guard let typeIndex else {
            vkDestroyBuffer(context.device, handle, nil)
            throw VulkanError("no memory type for buffer \(label)")
        }
        var mai = VkMemoryAllocateInfo()
        mai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        mai.allocationSize = req.size
        mai.memoryTypeIndex = typeIndex
        var mem: VkDeviceMemory?
        let r = vkAllocateMemory(context.device, &mai, nil, &mem)
        guard r == VK_SUCCESS else {
            vkDestroyBuffer(context.device, handle, nil)
            throw VulkanError("allocating \(bytes) bytes of device memory for \(label) failed (VkResult \(r.rawValue)): out of device memory?")
        }
        memory = mem!
        vkBindBufferMemory(context.device, handle, memory, 0)
        let props = withUnsafeBytes(of: context.memoryProperties.memoryTypes) {
            $0.bindMemory(to: VkMemoryType.self)[Int(typeIndex)].propertyFlags
        }
        if props & hostFlags == hostFlags {
            var p: UnsafeMutableRawPointer?
            try check(vkMapMemory(context.device, memory, 0, VkDeviceSize(bytes), 0, &p), "vkMapMemory(\(label))")
            mapped = p
        } else {
            mapped = nil
        }
    }

    /// A buffer of `count` floats.
    public convenience init(_ context: VulkanContext, floats count: Int, label: String = "buffer") throws {
        try self.init(context, bytes: max(count, 1) * 4, label: label)
    }

    deinit {
        if mapped != nil { vkUnmapMemory(context.device, memory) }
        vkDestroyBuffer(context.device, handle, nil)
        vkFreeMemory(context.device, memory, nil)
    }

    /// Copies `bytes` into the buffer at byte `offset`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) throws {
        precondition(offset >= 0 && offset + bytes.count <= size, "write past the end of \(label)")
        guard bytes.count > 0 else { return }
        if let mapped {
            (mapped + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        } else {
            let staging = try DeviceBuffer(context, bytes: bytes.count, label: "staging", hostVisible: true)
            staging.mapped!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            try copy(from: staging.handle, srcOffset: 0, to: handle, dstOffset: offset, bytes: bytes.count)
        }
    }

    /// Copies `bytes.count` bytes out of the buffer from byte `offset`.
    public func read(into bytes: UnsafeMutableRawBufferPointer, from offset: Int = 0) throws {
        precondition(offset >= 0 && offset + bytes.count <= size, "read past the end of \(label)")
        guard bytes.count > 0 else { return }
        if let mapped {
            bytes.baseAddress!.copyMemory(from: mapped + offset, byteCount: bytes.count)
        } else {
            let staging = try DeviceBuffer(context, bytes: bytes.count, label: "staging", hostVisible: true)
            try copy(from: handle, srcOffset: offset, to: staging.handle, dstOffset: 0, bytes: bytes.count)
            bytes.baseAddress!.copyMemory(from: staging.mapped!, byteCount: bytes.count)
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

    private func copy(from src: VkBuffer, srcOffset: Int, to dst: VkBuffer, dstOffset: Int, bytes: Int) throws {
        try OneShot.run(context) { cmd in
            var region = VkBufferCopy(srcOffset: VkDeviceSize(srcOffset), dstOffset: VkDeviceSize(dstOffset), size: VkDeviceSize(bytes))
            vkCmdCopyBuffer(cmd, src, dst, 1, &region)
        }
    }
}

/// Records, submits and waits for a single-use command buffer.
enum OneShot {
    static func run(_ context: VulkanContext, _ record: (VkCommandBuffer) -> Void) throws {
        var ai = VkCommandBufferAllocateInfo()
        ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        ai.commandPool = context.commandPool
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        ai.commandBufferCount = 1
        var cmd: VkCommandBuffer?
        try check(vkAllocateCommandBuffers(context.device, &ai, &cmd), "vkAllocateCommandBuffers")
        defer { vkFreeCommandBuffers(context.device, context.commandPool, 1, &cmd) }
        var bi = VkCommandBufferBeginInfo()
        bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT.rawValue
        try check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer")
        record(cmd!)
        try check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer")
        try Fence.submitAndWait(context, cmd!)
    }
}

/// A fence that is created, waited on and destroyed around one submission.
enum Fence {
    static func submitAndWait(_ context: VulkanContext, _ cmd: VkCommandBuffer) throws {
        var fci = VkFenceCreateInfo()
        fci.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var fence: VkFence?
        try check(vkCreateFence(context.device, &fci, nil, &fence), "vkCreateFence")
        defer { vkDestroyFence(context.device, fence, nil) }
        var cmdRef: VkCommandBuffer? = cmd
        try withUnsafePointer(to: &cmdRef) { cp in
            var si = VkSubmitInfo()
            si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
            si.commandBufferCount = 1
            si.pCommandBuffers = cp
            try check(vkQueueSubmit(context.queue, 1, &si, fence), "vkQueueSubmit")
        }
        try check(vkWaitForFences(context.device, 1, &fence, VkBool32(VK_TRUE), UInt64.max), "vkWaitForFences")
    }
}
