import CVulkan
import Foundation

/// A compute pipeline from one bundled SPIR-V shader: `bindings` storage buffers at bindings 0..<n,
/// a push-constant block of `pushSize` bytes, and specialization constants with ids 0..<n
/// (id 0 is the workgroup size, `local_size_x_id = 0` in every shader).
public final class ComputePipeline: @unchecked Sendable {
    // The device handle, not the context: pipelines are destroyed from the context's own deinit.
    let device: VkDevice
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
        self.name = shader
        self.bindingCount = bindings
        self.pushSize = pushSize
        self.workgroupSize = Int(specialization[0])
        let code = try ShaderLibrary.spirv(named: shader)
        access = ShaderAccess(spirv: code)
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

    deinit {
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
