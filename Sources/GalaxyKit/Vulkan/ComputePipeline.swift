import CVulkan
import Foundation

/// A compute pipeline from one bundled SPIR-V shader: `bindings` storage buffers at bindings 0..<n,
/// a push-constant block of `pushSize` bytes, and specialization constants with ids 0..<n
/// (id 0 is the workgroup size, `local_size_x_id = 0` in every shader).
public final class ComputePipeline: @unchecked Sendable {
    // The device handle, not the context: pipelines are destroyed from the context's own deinit.
    let device: VkDevice
    /// The context's: once set, the pipeline may still be in use on a device that stopped answering.
    let abandonment: Abandonment
    let shaderModule: VkShaderModule
    let setLayout: VkDescriptorSetLayout
    let layout: VkPipelineLayout
    let pipeline: VkPipeline
    public let name: String
    public let bindingCount: Int
    public let pushSize: Int
    public let workgroupSize: Int
    /// Which bindings the shader reads and writes (its readonly / writeonly qualifiers).
    public let access: ShaderAccess

    init(_ context: VulkanContext, shader: String, bindings: Int, pushSize: Int, specialization: [UInt32]) throws {
        precondition(pushSize <= 128, "push constants of \(shader) exceed the 128 bytes every device supports")
        precondition(pushSize % 4 == 0, "push constants of \(shader) must be whole 32-bit words")
        precondition(!specialization.isEmpty && specialization[0] > 0, "specialization constant 0 (workgroup size) missing for \(shader)")
        self.device = context.device
        self.abandonment = context.abandonment
        self.name = shader
        self.bindingCount = bindings
        self.pushSize = pushSize
        self.workgroupSize = Int(specialization[0])
        let code = try ShaderLibrary.spirv(named: shader)
        access = ShaderAccess(spirv: code)
        try Self.checkDevice(context.info, context.limits, shader: shader, bindings: bindings, workgroupSize: Int(specialization[0]), spirv: code)
        let device = context.device

        var module: VkShaderModule?
        try code.withUnsafeBufferPointer { words in
            var ci = VkShaderModuleCreateInfo()
            ci.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
            ci.codeSize = words.count * 4
            ci.pCode = words.baseAddress
            try check(vkCreateShaderModule(device, &ci, nil, &module), "vkCreateShaderModule(\(shader))")
        }
        shaderModule = module!

        var layoutBindings = (0..<bindings).map { i -> VkDescriptorSetLayoutBinding in
            var b = VkDescriptorSetLayoutBinding()
            b.binding = UInt32(i)
            b.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
            b.descriptorCount = 1
            b.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT.rawValue
            return b
        }
        var setLayout: VkDescriptorSetLayout?
        try layoutBindings.withUnsafeMutableBufferPointer { bp in
            var ci = VkDescriptorSetLayoutCreateInfo()
            ci.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
            ci.bindingCount = UInt32(bindings)
            ci.pBindings = UnsafePointer(bp.baseAddress)
            try check(vkCreateDescriptorSetLayout(device, &ci, nil, &setLayout), "vkCreateDescriptorSetLayout(\(shader))")
        }
        self.setLayout = setLayout!

        var range = VkPushConstantRange(stageFlags: VK_SHADER_STAGE_COMPUTE_BIT.rawValue, offset: 0, size: UInt32(pushSize))
        var pipelineLayout: VkPipelineLayout?
        var setLayoutRef: VkDescriptorSetLayout? = setLayout
        try withUnsafePointer(to: &setLayoutRef) { sl in
            var ci = VkPipelineLayoutCreateInfo()
            ci.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
            ci.setLayoutCount = 1
            ci.pSetLayouts = UnsafePointer(OpaquePointer(sl))
            if pushSize > 0 {
                ci.pushConstantRangeCount = 1
                try withUnsafePointer(to: &range) { rp in
                    ci.pPushConstantRanges = rp
                    try check(vkCreatePipelineLayout(device, &ci, nil, &pipelineLayout), "vkCreatePipelineLayout(\(shader))")
                }
            } else {
                try check(vkCreatePipelineLayout(device, &ci, nil, &pipelineLayout), "vkCreatePipelineLayout(\(shader))")
            }
        }
        layout = pipelineLayout!

        var entries = specialization.indices.map {
            VkSpecializationMapEntry(constantID: UInt32($0), offset: UInt32($0 * 4), size: 4)
        }
        var specData = specialization
        var pipeline: VkPipeline?
        let shaderModule = self.shaderModule, layout = self.layout
        try entries.withUnsafeMutableBufferPointer { ep in
            try specData.withUnsafeMutableBytes { dp in
                var si = VkSpecializationInfo()
                si.mapEntryCount = UInt32(ep.count)
                si.pMapEntries = UnsafePointer(ep.baseAddress)
                si.dataSize = dp.count
                si.pData = UnsafeRawPointer(dp.baseAddress)
                try withUnsafePointer(to: &si) { sip in
                    try "main".withCString { entry in
                        var stage = VkPipelineShaderStageCreateInfo()
                        stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
                        stage.stage = VK_SHADER_STAGE_COMPUTE_BIT
                        stage.module = shaderModule
                        stage.pName = entry
                        stage.pSpecializationInfo = sip
                        var ci = VkComputePipelineCreateInfo()
                        ci.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                        ci.stage = stage
                        ci.layout = layout
                        try check(vkCreateComputePipelines(device, nil, 1, &ci, nil, &pipeline), "vkCreateComputePipelines(\(shader))")
                    }
                }
            }
        }
        self.pipeline = pipeline!
    }

    /// What this pipeline needs of the device beyond what VulkanContext checks for every device: its
    /// storage-buffer bindings, its workgroup size and the subgroup operations its SPIR-V declares. A
    /// device short of one gets an error naming the limit or the operations, before any Vulkan call that
    /// the specification would forbid.
    static func checkDevice(_ info: DeviceInfo, _ l: VkPhysicalDeviceLimits, shader: String, bindings: Int, workgroupSize: Int, spirv: [UInt32]) throws {
        let name = info.name
        let bindingLimits = [("maxPerStageDescriptorStorageBuffers", l.maxPerStageDescriptorStorageBuffers),
                             ("maxDescriptorSetStorageBuffers", l.maxDescriptorSetStorageBuffers), ("maxPerStageResources", l.maxPerStageResources)]
        for (limit, value) in bindingLimits where bindings > Int(value) {
            throw VulkanError("shader \(shader) binds \(bindings) storage buffers; device \(name) allows \(value) (\(limit))")
        }
        let sizeLimits = [("maxComputeWorkGroupSize[0]", l.maxComputeWorkGroupSize.0), ("maxComputeWorkGroupInvocations", l.maxComputeWorkGroupInvocations)]
        for (limit, value) in sizeLimits where workgroupSize > Int(value) {
            throw VulkanError("shader \(shader) asks for workgroups of \(workgroupSize) invocations; device \(name) allows \(value) (\(limit))")
        }
        let missing = SubgroupCapability.required(spirv).filter { info.subgroupOperations & $0.feature != $0.feature }
        if !missing.isEmpty {
            throw VulkanError("shader \(shader) uses subgroup operations (\(missing.map(\.name).joined(separator: ", "))) that device \(name) does not "
                              + "support in compute shaders (VkPhysicalDeviceSubgroupProperties.supportedOperations lacks "
                              + missing.map(\.flagName).joined(separator: ", ") + ")")
        }
    }

    deinit {
        guard abandonment.failure == nil else { return }
        vkDestroyPipeline(device, pipeline, nil)
        vkDestroyPipelineLayout(device, layout, nil)
        vkDestroyDescriptorSetLayout(device, setLayout, nil)
        vkDestroyShaderModule(device, shaderModule, nil)
    }
}

extension VulkanContext {
    /// The pipeline for `shader` with these constants, created once and cached for the context's lifetime.
    public func pipeline(_ shader: String, bindings: Int, pushSize: Int, specialization: [UInt32]) throws -> ComputePipeline {
        let key = "\(shader)|\(bindings)|\(pushSize)|\(specialization.map(String.init).joined(separator: ","))"
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let p = pipelineCache[key] { return p }
        let code = try ShaderLibrary.spirv(named: shader)
        let compileKey = compileNotice.key(shader: shader, code: code, specialization: specialization)
        compileNotice.willCreate(compileKey, notice: VulkanContext.notice)
        let start = Date()
        let p = try ComputePipeline(self, shader: shader, bindings: bindings, pushSize: pushSize, specialization: specialization)
        let created = Date()
        if CompileNotice.tracing { try firstDispatch(p) }
        compileNotice.created(compileKey, shader: "\(shader) [\(specialization.map(String.init).joined(separator: ","))]",
                              seconds: created.timeIntervalSince(start), firstDispatch: Date().timeIntervalSince(created))
        pipelineCache[key] = p
        return p
    }
}

extension VulkanContext {
    /// GALAXY_TRACE_PIPELINES=1: one workgroup of the new pipeline with all-zero push constants (every
    /// shader's bounds check then returns at once) on a scratch buffer, so that a driver that compiles
    /// on first use (llvmpipe JIT-compiles there) does it now and the trace can time it per pipeline.
    func firstDispatch(_ p: ComputePipeline) throws {
        let scratch = try DeviceBuffer(self, bytes: 256, label: "first-dispatch scratch")
        let seq = try CommandSequence(self)
        try seq.dispatch(p, [BufferRange](repeating: scratch.whole, count: p.bindingCount), pushBytes: [UInt8](repeating: 0, count: p.pushSize),
                         invocations: 1)
        try seq.submit()
    }
}

/// The SPIR-V capabilities of the subgroup operations (GL_KHR_shader_subgroup_*) and the
/// VkSubgroupFeatureFlagBits a device must report in the compute stage to run a shader declaring them.
struct SubgroupCapability: Equatable {
    let capability: UInt32
    let name: String
    let feature: UInt32
    /// The VkSubgroupFeatureFlagBits name of `feature` ("shuffle relative": VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT).
    var flagName: String { "VK_SUBGROUP_FEATURE_" + name.uppercased().replacingOccurrences(of: " ", with: "_") + "_BIT" }

    static let all: [SubgroupCapability] = [
        .init(capability: 61, name: "basic", feature: VK_SUBGROUP_FEATURE_BASIC_BIT.rawValue),
        .init(capability: 62, name: "vote", feature: VK_SUBGROUP_FEATURE_VOTE_BIT.rawValue),
        .init(capability: 63, name: "arithmetic", feature: VK_SUBGROUP_FEATURE_ARITHMETIC_BIT.rawValue),
        .init(capability: 64, name: "ballot", feature: VK_SUBGROUP_FEATURE_BALLOT_BIT.rawValue),
        .init(capability: 65, name: "shuffle", feature: VK_SUBGROUP_FEATURE_SHUFFLE_BIT.rawValue),
        .init(capability: 66, name: "shuffle relative", feature: VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT.rawValue),
        .init(capability: 67, name: "clustered", feature: VK_SUBGROUP_FEATURE_CLUSTERED_BIT.rawValue),
        .init(capability: 68, name: "quad", feature: VK_SUBGROUP_FEATURE_QUAD_BIT.rawValue),
    ]

    /// The subgroup capabilities that `code` (SPIR-V words) declares with OpCapability.
    static func required(_ code: [UInt32]) -> [SubgroupCapability] {
        let declared = declaredCapabilities(code)
        return all.filter { declared.contains($0.capability) }
    }

    /// Every capability that `code` (SPIR-V words) declares with OpCapability.
    static func declaredCapabilities(_ code: [UInt32]) -> Set<UInt32> {
        guard code.count > 5, code[0] == 0x0723_0203 else { return [] }
        var declared: Set<UInt32> = []
        var i = 5
        while i < code.count {
            let count = Int(code[i] >> 16), opcode = code[i] & 0xFFFF
            guard count > 0, i + count <= code.count else { break }
            if opcode == 17 && count == 2 { declared.insert(code[i + 1]) }  // OpCapability
            // Capabilities come first in a module: stop at the first instruction past them and the extensions.
            if opcode != 17 && opcode != 10 && opcode != 11 && opcode != 14 { break }  // OpExtension, OpExtInstImport, OpMemoryModel
            i += count
        }
        return declared
    }
}
