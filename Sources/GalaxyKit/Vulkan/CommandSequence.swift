import CVulkan
import Foundation

/// A byte range of a buffer bound to one shader binding.
public struct BufferRange {
    public let buffer: DeviceBuffer
    public let offset: Int
    public let bytes: Int
    public init(_ buffer: DeviceBuffer, offset: Int = 0, bytes: Int? = nil) {
        self.buffer = buffer
        self.offset = offset
        self.bytes = bytes ?? (buffer.size - offset)
        precondition(offset >= 0 && self.bytes > 0 && offset + self.bytes <= buffer.size, "range outside \(buffer.label)")
    }
}

extension BufferRange {
    /// Whether the two ranges share a byte.
    public func overlaps(_ other: BufferRange) -> Bool {
        buffer === other.buffer && offset < other.offset + other.bytes && other.offset < offset + bytes
    }
}

extension BufferRange {
    /// Writes `values` at the start of the range.
    public func upload<T: BitwiseCopyable>(_ values: [T]) throws {
        precondition(values.count * MemoryLayout<T>.stride <= bytes, "upload past the end of a range of \(buffer.label)")
        try values.withUnsafeBytes { try buffer.write($0, at: offset) }
    }

    /// The first `count` values of the range.
    public func download<T: BitwiseCopyable>(_ type: T.Type = Float.self, count: Int) throws -> [T] {
        precondition(count * MemoryLayout<T>.stride <= bytes, "download past the end of a range of \(buffer.label)")
        var out = [T](unsafeUninitializedCapacity: count) { _, n in n = count }
        try out.withUnsafeMutableBytes { try buffer.read(into: $0, from: offset) }
        return out
    }
}

extension DeviceBuffer {
    public var whole: BufferRange { BufferRange(self) }
    /// `count` floats starting at float `offset`.
    public func floats(_ offset: Int, _ count: Int) -> BufferRange { BufferRange(self, offset: offset * 4, bytes: count * 4) }
}

/// What one recorded dispatch launches: the launch plan of `galaxy bench --plan`.
public struct DispatchRecord: Encodable, Sendable, Equatable {
    public let name: String
    public let workgroups: Int
    /// Invocations asked for (the last workgroup may hold a few more that return at once).
    public let invocations: Int
    /// Multiply-adds of the whole dispatch (0 for element-wise ops) spread over the invocations.
    public let macs: Int
    /// Bytes bound to the bindings the shader reads.
    public let bytesRead: Int
    public var macsPerInvocation: Int { (macs + invocations - 1) / max(invocations, 1) }

    enum CodingKeys: String, CodingKey { case name, workgroups, invocations, macsPerInvocation = "macs_per_invocation", bytesRead = "bytes_read" }
    public init(name: String, workgroups: Int, invocations: Int, macs: Int, bytesRead: Int) {
        (self.name, self.workgroups, self.invocations, self.macs, self.bytesRead) = (name, workgroups, invocations, macs, bytesRead)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(workgroups, forKey: .workgroups)
        try c.encode(invocations, forKey: .invocations)
        try c.encode(macsPerInvocation, forKey: .macsPerInvocation)
        try c.encode(bytesRead, forKey: .bytesRead)
    }
}

/// A recorded list of dispatches: recorded once, submitted as many times as needed.
/// A dispatch waits for the earlier ones (a compute-to-compute memory barrier) only when it depends
/// on one recorded since the last barrier: it reads or writes bytes that one writes, or writes bytes
/// that one reads (each pipeline's ShaderAccess says which bindings it reads and writes). Independent
/// dispatches, such as a layer's weight and input gradients, may run together. Optional timestamps.
public final class CommandSequence {
    public let context: VulkanContext
    private var commandBuffer: VkCommandBuffer?
    private var pools: [VkDescriptorPool] = []
    private var setsLeftInPool = 0
    private var ended = false
    private var retained: [AnyObject] = []
    private var queryPool: VkQueryPool?
    /// Byte ranges read and written by the dispatches recorded since the last barrier.
    private var pendingReads: [BufferRange] = []
    private var pendingWrites: [BufferRange] = []
    /// Barriers recorded so far (tests read it).
    public private(set) var barriers = 0
    /// Every dispatch recorded, in order.
    public private(set) var records: [DispatchRecord] = []
    /// The pipeline of each recorded dispatch, in order.
    public private(set) var pipelines: [ComputePipeline] = []
    /// The byte ranges each recorded dispatch reads and writes, in order.
    public private(set) var accesses: [(reads: [BufferRange], writes: [BufferRange])] = []
    private let maxTimed: Int
    /// Bytes the recorded copies move (for the wait's limit; the dispatches' are in `records`).
    private var copiedBytes = 0
    public private(set) var labels: [String] = []
    private static let setsPerPool = 64
    private static let descriptorsPerSet = 12

    /// `timestamps`: record a timestamp pair around each of up to `maxTimedDispatches` dispatches.
    public init(_ context: VulkanContext, timestamps: Bool = false, maxTimedDispatches: Int = 256) throws {
        self.context = context
        self.maxTimed = timestamps && context.timestampsSupported && !context.compileOnly ? maxTimedDispatches : 0
        // A compile-only context records the plan (records, accesses, barriers) and creates the pipelines, no commands.
        if context.compileOnly { return }
        var ai = VkCommandBufferAllocateInfo()
        ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        ai.commandPool = context.commandPool
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        ai.commandBufferCount = 1
        try check(vkAllocateCommandBuffers(context.device, &ai, &commandBuffer), "vkAllocateCommandBuffers")
        if maxTimed > 0 {
            var qci = VkQueryPoolCreateInfo()
            qci.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO
            qci.queryType = VK_QUERY_TYPE_TIMESTAMP
            qci.queryCount = UInt32(2 * maxTimed)
            try check(vkCreateQueryPool(context.device, &qci, nil, &queryPool), "vkCreateQueryPool")
        }
        var bi = VkCommandBufferBeginInfo()
        bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        try check(vkBeginCommandBuffer(commandBuffer, &bi), "vkBeginCommandBuffer")
        if let queryPool { vkCmdResetQueryPool(commandBuffer, queryPool, 0, UInt32(2 * maxTimed)) }
        // Shader and transfer writes of earlier submissions (the previous step, uploads) before this one's shaders.
        Barrier.memory(commandBuffer!, from: VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue,
                       VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue,
                       to: VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue, VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue)
    }

    deinit {
        let device = context.device
        // A launch nobody waited for (an error came between): waited for within the same limit, since
        // nothing it uses may be destroyed while it runs; past the limit, or on a device that stopped
        // answering before, everything is left to the process's end.
        if isPending && !context.isAbandoned {
            let limit = waitLimit
            if vkWaitForFences(device, 1, &fence, VkBool32(VK_TRUE), limit.nanoseconds) == VK_TIMEOUT {
                context.abandonment.abandon(.timedOut(limit))
            }
        }
        guard !context.isAbandoned else { return }
        if let fence { vkDestroyFence(device, fence, nil) }
        if commandBuffer != nil { vkFreeCommandBuffers(device, context.commandPool, 1, &commandBuffer) }
        for pool in pools { vkDestroyDescriptorPool(device, pool, nil) }
        if let queryPool { vkDestroyQueryPool(device, queryPool, nil) }
    }

    /// Records one dispatch of `invocations` threads (rounded up to whole workgroups; the shader
    /// bounds-checks). `push` must be the host mirror of the shader's push-constant block.
    /// `macs`: the dispatch's multiply-adds, for the launch plan.
    public func dispatch<P: BitwiseCopyable>(_ pipeline: ComputePipeline, _ bindings: [BufferRange], push: P, invocations: Int,
                                             macs: Int = 0, label: String? = nil) throws {
        precondition(MemoryLayout<P>.size == pipeline.pushSize, "\(pipeline.name): push constants are \(pipeline.pushSize) bytes, host struct \(MemoryLayout<P>.size)")
        try withUnsafeBytes(of: push) { try dispatch(pipeline, bindings, pushBytes: Array($0), invocations: invocations, macs: macs, label: label) }
    }

    /// The same with the push constants as bytes.
    func dispatch(_ pipeline: ComputePipeline, _ bindings: [BufferRange], pushBytes: [UInt8], invocations: Int, macs: Int = 0, label: String? = nil) throws {
        precondition(!ended, "dispatch after end()")
        precondition(bindings.count == pipeline.bindingCount, "\(pipeline.name) takes \(pipeline.bindingCount) buffers, got \(bindings.count)")
        precondition(pushBytes.count == pipeline.pushSize, "\(pipeline.name): push constants are \(pipeline.pushSize) bytes, got \(pushBytes.count)")
        guard invocations > 0 else { return }
        let (gx, gy) = Self.groupCounts(invocations: invocations, workgroupSize: pipeline.workgroupSize,
                                        maxX: Int(context.limits.maxComputeWorkGroupCount.0))
        guard gy <= Int(context.limits.maxComputeWorkGroupCount.1) else {
            throw VulkanError("\(pipeline.name): \(invocations) invocations need \(gx) x \(gy) workgroups of \(pipeline.workgroupSize), over this device's "
                              + "maxComputeWorkGroupCount \(context.limits.maxComputeWorkGroupCount.0) x \(context.limits.maxComputeWorkGroupCount.1)")
        }
        let reads = bindings.indices.filter { pipeline.access.reads($0) }.map { bindings[$0] }
        let writes = bindings.indices.filter { pipeline.access.writes($0) }.map { bindings[$0] }
        let dependent = (reads + writes).contains { r in pendingWrites.contains { $0.overlaps(r) } }
            || writes.contains { w in pendingReads.contains { $0.overlaps(w) } }
        if dependent {
            pendingReads.removeAll()
            pendingWrites.removeAll()
            barriers += 1
        }
        pendingReads += reads
        pendingWrites += writes
        // The commands (none in a compile-only context, which keeps only the plan below).
        if let cmd = commandBuffer {
            let set = try allocateSet(pipeline)
            try write(set, bindings)
            bindings.forEach { retained.append($0.buffer) }
            retained.append(pipeline)
            if dependent {
                Barrier.memory(cmd, from: VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue, VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_SHADER_READ_BIT.rawValue,
                               to: VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue, VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue)
            }
            let timed = labels.count < maxTimed
            if timed, let queryPool {
                // At the compute stage: written once the dispatches before it (and the barrier) are done.
                vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queryPool, UInt32(2 * labels.count))
            }
            vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline)
            var setRef: VkDescriptorSet? = set
            vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, 1, &setRef, 0, nil)
            if pipeline.pushSize > 0 {
                pushBytes.withUnsafeBytes { raw in
                    vkCmdPushConstants(cmd, pipeline.layout, VK_SHADER_STAGE_COMPUTE_BIT.rawValue, 0, UInt32(raw.count), raw.baseAddress)
                }
            }
            vkCmdDispatch(cmd, UInt32(gx), UInt32(gy), 1)
            if timed, let queryPool {
                vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queryPool, UInt32(2 * labels.count + 1))
                labels.append(label ?? pipeline.name)
            }
        }
        pipelines.append(pipeline)
        accesses.append((reads, writes))
        records.append(DispatchRecord(name: label ?? pipeline.name, workgroups: gx * gy, invocations: invocations, macs: macs,
                                      bytesRead: reads.reduce(0) { $0 + $1.bytes }))
    }

    /// Records a copy of `src` into `dst` (equal sizes), after every earlier shader access and transfer
    /// (a slot's previous contents may still be read) and before every later one.
    public func copy(_ src: BufferRange, to dst: BufferRange) {
        precondition(!ended, "copy after end()")
        precondition(src.bytes == dst.bytes, "copy of \(src.bytes) bytes into \(dst.bytes)")
        guard let cmd = commandBuffer else { return }  // compile-only: nothing is recorded
        let shader = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue, transfer = VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue
        let shaderAccess = VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
        let transferAccess = VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        Barrier.memory(cmd, from: shader | transfer, shaderAccess | transferAccess, to: transfer, transferAccess)
        var region = VkBufferCopy(srcOffset: VkDeviceSize(src.offset), dstOffset: VkDeviceSize(dst.offset), size: VkDeviceSize(src.bytes))
        vkCmdCopyBuffer(cmd, src.buffer.handle, dst.buffer.handle, 1, &region)
        Barrier.memory(cmd, from: transfer, VK_ACCESS_TRANSFER_WRITE_BIT.rawValue, to: shader | transfer, shaderAccess | transferAccess)
        retained += [src.buffer, dst.buffer]
        copiedBytes += src.bytes
        pendingReads.removeAll()
        pendingWrites.removeAll()
    }

    /// Workgroups as a 2D grid when one dimension is not enough; shaders linearize with `globalIndex()`.
    static func groupCounts(invocations: Int, workgroupSize: Int, maxX: Int) -> (Int, Int) {
        let groups = (invocations + workgroupSize - 1) / workgroupSize
        if groups <= maxX { return (groups, 1) }
        let gy = (groups + maxX - 1) / maxX
        return ((groups + gy - 1) / gy, gy)
    }

    /// Ends recording. Called automatically by the first `submit()`.
    public func end() throws {
        guard !ended else { return }
        if context.compileOnly { ended = true; return }
        // The shaders' writes visible to the host (mapped read-backs) and to later transfers.
        Barrier.memory(commandBuffer!, from: VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue, VK_ACCESS_SHADER_WRITE_BIT.rawValue,
                       to: VK_PIPELINE_STAGE_HOST_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue,
                       VK_ACCESS_HOST_READ_BIT.rawValue | VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue)
        try check(vkEndCommandBuffer(commandBuffer), "vkEndCommandBuffer")
        ended = true
    }

    /// Submits the recorded dispatches and waits until they have finished.
    public func submit() throws {
        try launch()
        try wait()
    }

    /// Whether a launch has not been waited for.
    public private(set) var isPending = false
    private var fence: VkFence?

    /// Submits the recorded commands without waiting (at most one submission of a sequence at a time).
    /// The queue runs submissions in order, and each sequence begins with a barrier after the earlier ones.
    public func launch() throws {
        precondition(!isPending, "launch of a sequence still running: wait() first")
        if context.compileOnly { throw VulkanError.compileOnly(context, "submit commands") }
        try context.compileAhead(for: pipelines)
        try end()
        if fence == nil {
            var fci = VkFenceCreateInfo()
            fci.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
            try check(vkCreateFence(context.device, &fci, nil, &fence), "vkCreateFence")
        } else {
            try check(vkResetFences(context.device, 1, &fence), "vkResetFences")
        }
        try Fence.submit(context, commandBuffer!, signalling: fence)
        isPending = true
    }

    /// Waits until the last launch has finished (returns at once when none is pending), at most `waitLimit`:
    /// past it the device is taken for hung, a device failure (`DeviceFailure.timedOut`).
    public func wait() throws {
        guard isPending else { return }
        // Waited for once, whatever the answer: a lost device does not signal the fence again, and a
        // timed-out one is abandoned.
        isPending = false
        try Fence.wait(context, &fence, limit: waitLimit)
    }

    /// What one submission of the sequence does, for its wait's limit: the dispatches recorded, their
    /// multiply-adds and the bytes they read, and the bytes the copies move.
    public var work: WaitLimit.Work {
        WaitLimit.Work(dispatches: records.count, macs: records.reduce(0) { $0 + $1.macs },
                       bytes: records.reduce(copiedBytes) { $0 + $1.bytesRead })
    }

    /// How long a wait for one submission lasts at most (GALAXY_WAIT_TIMEOUT, or derived from `work`).
    public var waitLimit: WaitLimit { context.waitLimit(for: work) }

    /// Per-dispatch GPU time in seconds of the last submission, in recording order.
    public func timings() throws -> [(label: String, seconds: Double)] {
        guard let queryPool, !labels.isEmpty else { return [] }
        var values = [UInt64](repeating: 0, count: 2 * labels.count)
        try check(vkGetQueryPoolResults(context.device, queryPool, 0, UInt32(values.count), values.count * 8, &values, 8,
                                        VK_QUERY_RESULT_64_BIT.rawValue | VK_QUERY_RESULT_WAIT_BIT.rawValue), "vkGetQueryPoolResults")
        let period = Double(context.limits.timestampPeriod) * 1e-9
        let bits = context.timestampValidBits
        let mask: UInt64 = bits >= 64 ? .max : (1 << UInt64(bits)) - 1
        return labels.indices.map { (labels[$0], Double((values[2 * $0 + 1] &- values[2 * $0]) & mask) * period) }
    }

    private func allocateSet(_ pipeline: ComputePipeline) throws -> VkDescriptorSet {
        precondition(pipeline.bindingCount <= Self.descriptorsPerSet, "\(pipeline.name) has more than \(Self.descriptorsPerSet) bindings")
        if setsLeftInPool == 0 {
            var size = VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount: UInt32(Self.setsPerPool * Self.descriptorsPerSet))
            var ci = VkDescriptorPoolCreateInfo()
            ci.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
            ci.maxSets = UInt32(Self.setsPerPool)
            ci.poolSizeCount = 1
            var pool: VkDescriptorPool?
            try withUnsafePointer(to: &size) { sp in
                ci.pPoolSizes = sp
                try check(vkCreateDescriptorPool(context.device, &ci, nil, &pool), "vkCreateDescriptorPool")
            }
            pools.append(pool!)
            setsLeftInPool = Self.setsPerPool
        }
        var layout: VkDescriptorSetLayout? = pipeline.setLayout
        var set: VkDescriptorSet?
        try withUnsafePointer(to: &layout) { lp in
            var ai = VkDescriptorSetAllocateInfo()
            ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
            ai.descriptorPool = pools.last
            ai.descriptorSetCount = 1
            ai.pSetLayouts = UnsafePointer(OpaquePointer(lp))
            try check(vkAllocateDescriptorSets(context.device, &ai, &set), "vkAllocateDescriptorSets")
        }
        setsLeftInPool -= 1
        return set!
    }

    private func write(_ set: VkDescriptorSet, _ bindings: [BufferRange]) throws {
        let limits = context.limits
        var infos = try bindings.map { r -> VkDescriptorBufferInfo in
            if VkDeviceSize(r.bytes) > VkDeviceSize(limits.maxStorageBufferRange) {
                throw VulkanError("binding \(r.buffer.label) spans \(r.bytes) bytes, over this device's maxStorageBufferRange \(limits.maxStorageBufferRange)")
            }
            if VkDeviceSize(r.offset) % limits.minStorageBufferOffsetAlignment != 0 {
                throw VulkanError("binding \(r.buffer.label) at byte offset \(r.offset), not a multiple of this device's minStorageBufferOffsetAlignment "
                                  + "\(limits.minStorageBufferOffsetAlignment) (offsets that are multiples of \(VulkanContext.bindingAlignment) suit every device)")
            }
            return VkDescriptorBufferInfo(buffer: r.buffer.handle, offset: VkDeviceSize(r.offset), range: VkDeviceSize(r.bytes))
        }
        infos.withUnsafeMutableBufferPointer { ip in
            var writes = (0..<bindings.count).map { i -> VkWriteDescriptorSet in
                var w = VkWriteDescriptorSet()
                w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
                w.dstSet = set
                w.dstBinding = UInt32(i)
                w.descriptorCount = 1
                w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                w.pBufferInfo = UnsafePointer(ip.baseAddress! + i)
                return w
            }
            vkUpdateDescriptorSets(context.device, UInt32(writes.count), &writes, 0, nil)
        }
    }
}
