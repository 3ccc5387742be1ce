import Foundation

/// What a device's own compiler makes of every distinct pipeline of a training step (MSE and Dirichlet), of
/// inference and of evaluation on one kernel path (`galaxy bench --shader-stats`): registers, spills, scratch,
/// shared memory, occupancy and instructions as the driver reports them through
/// VK_KHR_pipeline_executable_properties. Works on a
/// device that compiles but cannot allocate (RADV's null device with RADV_FORCE_FAMILY: AMD's ACO compiler
/// for a chip that is not there), since the context is opened for compiling only.
public struct ShaderStatistics: Encodable, Sendable {
    public struct Pipeline: Encodable, Sendable {
        /// The kernel, with "/N" when the plan uses it with several specializations.
        public var name: String
        /// The bundled shader (SPIR-V module) it was created from.
        public var kernel: String
        /// Its specialization constants, id 0 (the workgroup size) first.
        public var specialization: [UInt32]
        public var workgroupSize: Int
        /// The subgroup (wave) size the driver compiled it for.
        public var subgroupSize: Int
        /// Dispatches of the plan that run it, and in which passes.
        public var dispatches: Int
        public var passes: [String]
        /// Multiply-adds of its dispatches in a training step and in an inference batch (0 for element-wise kernels).
        public var trainMACs = 0
        public var inferenceMACs = 0
        public var vgprs: Int?
        public var sgprs: Int?
        public var spilledVGPRs: Int?
        public var spilledSGPRs: Int?
        public var scratchBytes: Int?
        public var ldsBytes: Int?
        /// Occupancy: waves (subgroups) per SIMD, or the driver's equivalent.
        public var wavesPerSIMD: Double?
        public var instructions: Int?
        /// Every statistic by the driver's own name.
        public var raw: [String: Double]

        enum CodingKeys: String, CodingKey {
            case name, kernel, specialization, dispatches, passes, vgprs, sgprs, instructions, raw
            case workgroupSize = "workgroup_size", subgroupSize = "subgroup_size", spilledVGPRs = "spilled_vgprs", spilledSGPRs = "spilled_sgprs"
            case scratchBytes = "scratch_bytes", ldsBytes = "lds_bytes", wavesPerSIMD = "waves_per_simd"
            case trainMACs = "train_macs", inferenceMACs = "inference_macs"
        }

        /// Whether it carries a GEMM (the convolutions and linear layers, forward and backward).
        public var carriesGEMM: Bool { kernel.hasPrefix("conv2d_") || kernel.hasPrefix("linear_") || kernel.hasPrefix("sgemm") }
    }

    public var device: String
    public var config: String
    public var batch: Int
    /// The shared-memory tiles the gpu configuration used (nil for the others).
    public var tiles: String?
    /// maxComputeSharedMemorySize: no pipeline may use more shared memory than this.
    public var maxSharedMemoryBytes: Int
    public var pipelines: [Pipeline]

    enum CodingKeys: String, CodingKey {
        case device, config, batch, tiles, pipelines
        case maxSharedMemoryBytes = "max_shared_memory_bytes"
    }

    /// The named keys from the driver's statistics: the first name (lowercased) a driver is known to use
    /// for each (RADV/ACO, NVIDIA, Intel's ANV).
    static let names: [WritableKeyPath<Pipeline, Int?>: [String]] = [
        \.vgprs: ["vgprs", "register count", "registers", "grf registers"],
        \.sgprs: ["sgprs"],
        \.spilledVGPRs: ["spilled vgprs", "spill count"],
        \.spilledSGPRs: ["spilled sgprs"],
        \.scratchBytes: ["scratch size", "scratch memory size", "local memory size", "stack size"],
        \.ldsBytes: ["lds size", "shared memory size", "workgroup memory size", "shared memory"],
        \.instructions: ["instructions", "instruction count"],
    ]
    static let occupancyNames = ["subgroups per simd", "waves per simd", "occupancy"]
    /// Every driver name (lowercased) that fills a named key.
    public static var namedStatistics: [String] { names.values.flatMap { $0 } + occupancyNames }

    /// Fills the named keys of `pipeline` from `statistics`.
    static func name(_ pipeline: inout Pipeline, from statistics: [PipelineExecutable.Statistic]) {
        var byName: [String: Double] = [:]
        for s in statistics where byName[s.name.lowercased()] == nil { byName[s.name.lowercased()] = s.value }
        for (key, candidates) in names {
            if let v = candidates.lazy.compactMap({ byName[$0] }).first { pipeline[keyPath: key] = Int(v) }
        }
        pipeline.wavesPerSIMD = occupancyNames.lazy.compactMap { byName[$0] }.first
        for s in statistics { pipeline.raw[s.name] = s.value }
    }
}

extension Benchmark {
    /// Records a training step, an inference batch, an evaluation's test batch and the Dirichlet head's training
    /// step and test batch on `path` (as `launchPlan` does, nothing submitted)
    /// and reads the driver's statistics of each distinct pipeline they use, in first-use order. The
    /// context must capture statistics (opened with `compileOnly: true` on a device with the extension).
    public static func shaderStatistics(context: VulkanContext, path: KernelPath, config: String, batch: Int = 128,
                                        outputs: Int = 37) throws -> ShaderStatistics {
        guard context.capturesStatistics else {
            throw VulkanError("device \(context.info.name) does not report what its compiler makes of a pipeline: its driver lacks "
                              + "VK_KHR_pipeline_executable_properties" + (context.compileOnly ? "" : " (or the device was not opened for compiling only)")
                              + ". RADV (mesa-vulkan-drivers) has it for every AMD chip, even without one: RADV_FORCE_FAMILY=navi21 "
                              + "VK_DRIVER_FILES=/usr/share/vulkan/icd.d/radeon_icd.x86_64.json galaxy bench --shader-stats")
        }
        let plan = try recordPlan(context: context, path: path, batch: batch, outputs: outputs)
        let kernels = plan.kernels
        var order: [ComputePipeline] = []
        var uses: [ObjectIdentifier: (count: Int, passes: [String], macs: [Int])] = [:]
        // train_macs and inference_macs count the MSE training step and the inference batch only.
        for (pass, seq) in plan.passes {
            for (p, record) in zip(seq.pipelines, seq.records) {
                let id = ObjectIdentifier(p)
                if uses[id] == nil { order.append(p); uses[id] = (0, [], [0, 0]) }
                uses[id]!.count += 1
                if pass == "train" || pass == "inference" { uses[id]!.macs[pass == "train" ? 0 : 1] += record.macs }
                if !uses[id]!.passes.contains(pass) { uses[id]!.passes.append(pass) }
            }
        }
        var perKernel: [String: Int] = [:]
        let kernelCounts = Dictionary(grouping: order, by: \.name).mapValues(\.count)
        let pipelines = try order.map { p -> ShaderStatistics.Pipeline in
            perKernel[p.name, default: 0] += 1
            let executables = try p.statistics(context)
            guard let first = executables.first else { throw VulkanError("pipeline \(p.name): the driver reports no executable") }
            let name = kernelCounts[p.name]! > 1 ? "\(p.name)/\(perKernel[p.name]!)" : p.name
            let use = uses[ObjectIdentifier(p)]!
            var row = ShaderStatistics.Pipeline(name: name, kernel: p.name, specialization: p.specialization, workgroupSize: p.workgroupSize,
                                                subgroupSize: first.subgroupSize, dispatches: use.count, passes: use.passes,
                                                trainMACs: use.macs[0], inferenceMACs: use.macs[1], raw: [:])
            ShaderStatistics.name(&row, from: executables.flatMap(\.statistics))
            return row
        }
        var tiles: String?
        if case .sharedMemory(let t) = kernels.path { tiles = t.description }
        return ShaderStatistics(device: context.info.name, config: config, batch: batch, tiles: tiles,
                                maxSharedMemoryBytes: Int(context.limits.maxComputeSharedMemorySize), pipelines: pipelines)
    }
}

extension SharedMemoryTiles: CustomStringConvertible {
    /// As `parse` reads it: "workgroup=256,rows=4,columns=4,depth=16".
    public var description: String { "workgroup=\(workgroupSize),rows=\(rowBlock),columns=\(columnBlock),depth=\(depth)" }

    /// Tiles from "KEY=VALUE,..." (keys workgroup, rows, columns, depth; the others keep their defaults):
    /// powers of two, the workgroup 64 to 1024, blocks 1 to 16, depth 1 to 64.
    public static func parse(_ text: String) throws -> SharedMemoryTiles {
        var t = SharedMemoryTiles()
        for item in text.split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let ranges: [String: (WritableKeyPath<SharedMemoryTiles, UInt32>, ClosedRange<UInt32>)] = [
                "workgroup": (\.workgroupSize, 64...1024), "rows": (\.rowBlock, 1...16), "columns": (\.columnBlock, 1...16), "depth": (\.depth, 1...64)]
            guard kv.count == 2, let (key, range) = ranges[kv[0]], let v = UInt32(kv[1]), range.contains(v), v & (v - 1) == 0 else {
                throw GalaxyError.message("tiles \"\(text)\": \"\(item)\" is not KEY=VALUE with KEY workgroup (64-1024), rows (1-16), columns (1-16) "
                                          + "or depth (1-64) and VALUE a power of two in that range")
            }
            t[keyPath: key] = v
        }
        return t
    }
}
