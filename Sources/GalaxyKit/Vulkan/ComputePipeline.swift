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
    /// Its specialization constants, id 0 (the workgroup size) first.
    public let specialization: [UInt32]
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
        self.specialization = specialization
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
                        if context.capturesStatistics { ci.flags = VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR.rawValue }
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

    /// What the driver's compiler made of the pipeline, one entry per executable (a compute pipeline has
    /// one; VK_KHR_pipeline_executable_properties): every statistic by the driver's own name. Needs a
    /// context that captures statistics (`VulkanContext.capturesStatistics`).
    public func statistics(_ context: VulkanContext) throws -> [PipelineExecutable] {
        guard context.capturesStatistics else {
            throw VulkanError("device \(context.info.name) does not report pipeline statistics (VK_KHR_pipeline_executable_properties"
                              + (context.info.pipelineStatistics ? " is only enabled on a compile-only context)" : " is not offered by its driver)"))
        }
        var count: UInt32 = 0
        try check(galaxy_vk_pipeline_executables(device, pipeline, &count, nil), "vkGetPipelineExecutablePropertiesKHR(\(name))")
        var props = [VkPipelineExecutablePropertiesKHR](repeating: VkPipelineExecutablePropertiesKHR(), count: Int(count))
        for i in props.indices { props[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR }
        try check(galaxy_vk_pipeline_executables(device, pipeline, &count, &props), "vkGetPipelineExecutablePropertiesKHR(\(name))")
        return try props.prefix(Int(count)).enumerated().map { index, p in
            var p = p
            var n: UInt32 = 0
            try check(galaxy_vk_pipeline_executable_statistics(device, pipeline, UInt32(index), &n, nil), "vkGetPipelineExecutableStatisticsKHR(\(name))")
            var stats = [VkPipelineExecutableStatisticKHR](repeating: VkPipelineExecutableStatisticKHR(), count: Int(n))
            for i in stats.indices { stats[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR }
            try check(galaxy_vk_pipeline_executable_statistics(device, pipeline, UInt32(index), &n, &stats), "vkGetPipelineExecutableStatisticsKHR(\(name))")
            let values = stats.prefix(Int(n)).map { s -> PipelineExecutable.Statistic in
                var s = s
                let value: Double = switch s.format {
                case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: s.value.b32 != 0 ? 1 : 0
                case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: Double(s.value.i64)
                case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: Double(s.value.u64)
                default: s.value.f64
                }
                return .init(name: Self.string(&s.name), description: Self.string(&s.description), value: value)
            }
            return PipelineExecutable(name: Self.string(&p.name), subgroupSize: Int(p.subgroupSize), statistics: values)
        }
    }

    private static func string<T>(_ field: inout T) -> String {
        withUnsafeBytes(of: &field) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }

    deinit {
        guard abandonment.failure == nil else { return }
        vkDestroyPipeline(device, pipeline, nil)
        vkDestroyPipelineLayout(device, layout, nil)
        vkDestroyDescriptorSetLayout(device, setLayout, nil)
        vkDestroyShaderModule(device, shaderModule, nil)
    }
}

/// One executable of a pipeline as its driver describes it (VK_KHR_pipeline_executable_properties).
public struct PipelineExecutable: Sendable {
    public struct Statistic: Sendable {
        public let name: String
        public let description: String
        public let value: Double
    }
    public let name: String
    /// The subgroup size it was compiled for (RDNA: 32 or 64).
    public let subgroupSize: Int
    public let statistics: [Statistic]
}

extension VulkanContext {
    /// The pipeline for `shader` with these constants, created once and cached for the context's lifetime.
    /// `kernels`: what it belongs to, for the compile notice (e.g. "the portable path's kernels").
    public func pipeline(_ shader: String, bindings: Int, pushSize: Int, specialization: [UInt32], kernels: String? = nil) throws -> ComputePipeline {
        let key = "\(shader)|\(bindings)|\(pushSize)|\(specialization.map(String.init).joined(separator: ","))"
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let p = pipelineCache[key] { return p }
        let code = try ShaderLibrary.spirv(named: shader)
        let compileKey = compileNotice.key(shader: shader, code: code, specialization: specialization)
        let new = compileNotice.cpu && !compileNotice.knows(compileKey)
        if !isCompileHelper { compileNotice.willCreate(compileKey, shader: shader, kernels: kernels, notice: VulkanContext.notice) }
        let start = Date()
        let p = try ComputePipeline(self, shader: shader, bindings: bindings, pushSize: pushSize, specialization: specialization)
        let created = Date()
        if CompileNotice.tracing && !compileOnly { try firstDispatch(p) }
        compileNotice.created(compileKey, shader: "\(shader) [\(specialization.map(String.init).joined(separator: ","))]",
                              seconds: created.timeIntervalSince(start), firstDispatch: Date().timeIntervalSince(created))
        pipelineCache[key] = p
        if new && !compileOnly && !isCompileHelper && Self.compilesAhead {
            notYetRun.append((PipelineRequest(shader: shader, bindings: bindings, pushSize: pushSize, specialization: specialization), p))
        }
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
