import CVulkan
import Foundation

public struct VulkanError: Error, CustomStringConvertible {
    public let description: String
    /// Set when the device itself failed (lost, out of memory): nothing more can be read from it.
    public let deviceFailure: DeviceFailure?
    init(_ what: String, _ result: VkResult) {
        deviceFailure = DeviceFailure(result)
        description = "\(what) failed: " + (deviceFailure.map { "\($0)" } ?? VulkanResult.name(result))
    }
    /// A wait that ran past `limit`.
    init(_ what: String, timedOutAfter limit: WaitLimit) {
        deviceFailure = .timedOut(limit)
        description = "\(what) failed: \(DeviceFailure.timedOut(limit))"
    }
    init(_ message: String, failure: DeviceFailure? = nil) {
        description = message
        deviceFailure = failure
    }
}

@inline(__always)
func check(_ result: VkResult, _ what: @autoclosure () -> String) throws {
    if result != VK_SUCCESS { throw VulkanError(what(), result) }
}

/// Counts validation-layer messages (warnings and errors) so that tests can fail on any of them.
public enum ValidationLog {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var messages: [String] = []

    static func record(_ message: String) {
        lock.lock(); messages.append(message); lock.unlock()
        FileHandle.standardError.write(Data("[vulkan validation] \(message)\n".utf8))
    }
    /// Returns and clears the messages seen so far.
    public static func drain() -> [String] {
        lock.lock(); defer { lock.unlock() }
        let m = messages; messages = []; return m
    }
}

private let debugCallback: PFN_vkDebugUtilsMessengerCallbackEXT = { severity, _, data, _ in
    if let data, let text = data.pointee.pMessage {
        ValidationLog.record(String(cString: text))
    }
    return VkBool32(VK_FALSE)
}

/// What a physical device is, as shown by `galaxy devices`.
public struct DeviceInfo: Sendable {
    public let index: Int
    public let name: String
    public let type: String
    public let typeRank: Int
    public let memoryBytes: UInt64
    public let subgroupSize: UInt32
    /// Compute shaders have subgroupBroadcast (VK_SUBGROUP_FEATURE_BALLOT_BIT in the compute stage).
    public var subgroupBallot = true
    /// The VK_SUBGROUP_FEATURE_* bits the compute stage supports (0: no subgroup operations there).
    public var subgroupOperations: UInt32 = VK_SUBGROUP_FEATURE_BASIC_BIT.rawValue | VK_SUBGROUP_FEATURE_BALLOT_BIT.rawValue
    public let apiVersion: String
    /// Vulkan 1.1 or later, which galaxy needs (its shaders are SPIR-V 1.3; it reads subgroup properties).
    public var supportsVulkan11 = true
    /// The device reports memory types. RADV's null device (RADV_FORCE_FAMILY) reports none: it compiles
    /// pipelines with the real chip's compiler but cannot hold a buffer, so it can only be opened to compile.
    public var hasMemory = true
    /// VK_KHR_pipeline_executable_properties: the driver reports what its compiler made of each pipeline.
    public var pipelineStatistics = false
    /// A portability driver (VK_KHR_portability_subset, such as MoltenVK on Apple GPUs): not a fully
    /// conformant Vulkan; galaxy enables the extension, as the specification requires.
    public var portabilitySubset = false

    /// The subgroup-share path's condition (KernelPath): 8-lane subgroups with subgroupBroadcast in compute
    /// shaders (lavapipe at 256-bit vectors).
    public var sharesOperands: Bool { subgroupSize == SubgroupShareTiles.lanes && subgroupBallot }
    /// A CPU implementation (VK_PHYSICAL_DEVICE_TYPE_CPU: lavapipe, SwiftShader).
    public var isCPU: Bool { typeRank == 3 }
    /// Among CPU drivers, the faster first: lavapipe (llvmpipe) runs galaxy's shaders about 17x faster than
    /// SwiftShader (docs/performance.md), so it is the default when both are registered. 0 for a GPU.
    public var cpuDriverRank: Int { isCPU && !name.localizedCaseInsensitiveContains("llvmpipe") ? 1 : 0 }
}

/// A Vulkan instance, one physical device and a logical device with one compute queue.
/// Owns every object it creates; other wrappers keep it alive by holding a reference.
public final class VulkanContext: @unchecked Sendable {
    public let instance: VkInstance
    public let physicalDevice: VkPhysicalDevice
    public let device: VkDevice
    public let queue: VkQueue
    public let queueFamily: UInt32
    public let info: DeviceInfo
    public let limits: VkPhysicalDeviceLimits
    /// The largest single memory allocation the device promises (VkPhysicalDeviceMaintenance3Properties).
    /// Settable within the module so that tests can give a context the cap below its heap that discrete GPUs
    /// have (lavapipe's cap is not below its heap).
    public internal(set) var maxMemoryAllocationSize: UInt64
    let memoryProperties: VkPhysicalDeviceMemoryProperties
    let commandPool: VkCommandPool
    private var messenger: VkDebugUtilsMessengerEXT?
    /// Host-visible device memory (lavapipe, integrated GPUs): buffers are mapped directly, no staging.
    public var unifiedMemory: Bool { memoryPolicy.layout == .unified }
    /// Which memory each buffer role gets (GALAXY_MEMORY=discrete forces the discrete-GPU layout).
    public let memoryPolicy: MemoryPolicy
    /// Uploads and read-backs through the discrete layout go through one staging buffer of at most
    /// this many bytes, reused chunk after chunk.
    public static let stagingChunk = 64 << 20
    public let validationEnabled: Bool
    /// Opened to compile pipelines and nothing else (`galaxy bench --shader-stats`): buffers get no memory
    /// (writes to them are dropped, reads are an error) and sequences are recorded but never submitted.
    public let compileOnly: Bool
    /// Pipelines are created with VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR (a compile-only context
    /// on a device with VK_KHR_pipeline_executable_properties): `ComputePipeline.statistics()` reads them.
    public let capturesStatistics: Bool
    public let timestampsSupported: Bool
    /// Meaningful low bits of the compute queue's timestamps (differences are taken modulo 2^bits).
    public let timestampValidBits: Int
    var pipelineCache: [String: ComputePipeline] = [:]
    /// Pipelines this machine had not compiled before and that no launch has run yet (CompileAhead.swift).
    var notYetRun: [(PipelineRequest, ComputePipeline)] = []
    /// An extra context that `compileAhead` opened to compile on another core: it announces nothing.
    var isCompileHelper = false
    /// What the last `compileAhead` did: how many pipelines, on how many threads, how many of them other contexts compiled.
    var lastCompileAhead: (pipelines: Int, threads: Int, byOtherContexts: Int)?
    let compileNotice: CompileNotice
    /// Where one-line notices go (the CLI prints them to stderr): e.g. that llvmpipe is about to compile.
    nonisolated(unsafe) public static var notice: ((String) -> Void)?
    /// Guards `pipelineCache` and `notYetRun`. Recursive: under GALAXY_TRACE_PIPELINES, `pipeline(...)` dispatches the
    /// new pipeline while it holds the lock, and that launch's `compileAhead` takes it again on the same thread.
    let cacheLock = NSRecursiveLock()
    /// Set once a wait for the device ran past its limit (see `isAbandoned`).
    let abandonment = Abandonment()
    /// GALAXY_WAIT_TIMEOUT, read when the context is opened; nil: each wait's limit is derived from its work.
    let waitSetting: (text: String, seconds: Double)?
    private let readBackLock = NSLock()
    private var readBackCount = 0

    /// Read-backs so far: `DeviceBuffer.read` calls on this device's buffers, each one after the device's
    /// work on the buffer has finished (a host round trip). Tests count them to hold a pass to its read-backs.
    public var readBacks: Int { readBackLock.withLock { readBackCount } }
    func countReadBack() { readBackLock.withLock { readBackCount += 1 } }

    /// Validation is on when `GALAXY_VALIDATION=1` (and the layer is installed).
    public static var validationRequested: Bool { ProcessInfo.processInfo.environment["GALAXY_VALIDATION"] == "1" }

    /// The device selector from `GALAXY_DEVICE` (index or name substring), used when none is given.
    public static var environmentDeviceSelector: String? { ProcessInfo.processInfo.environment["GALAXY_DEVICE"] }

    /// Opens the device picked by `selector` (index or case-insensitive name substring), or the best one.
    /// `memory`: the memory layout, overriding GALAXY_MEMORY and the heaps (tests compare the two).
    /// `slot`: without a selector, take the (slot mod count)-th device of the best type (a rank of an mpirun job).
    /// `compileOnly`: open the device to compile pipelines only (see `compileOnly`), which a device without
    /// memory (RADV's null device) allows; every other use of such a device is refused with a clear error.
    public convenience init(selector: String? = nil, validation: Bool = VulkanContext.validationRequested, memory: MemoryPolicy.Layout? = nil,
                            slot: Int? = nil, compileOnly: Bool = false) throws {
        try FaultInjection.validate()
        let waitSetting = try WaitLimit.setting(in: ProcessInfo.processInfo.environment)
        let instance = try Self.createInstance(validation: validation)
        var messenger: VkDebugUtilsMessengerEXT?
        do {
            if instance.validation { messenger = try Self.createMessenger(instance.handle) }
            try self.init(instance: instance.handle, messenger: messenger, validation: instance.validation, selector: selector ?? Self.environmentDeviceSelector,
                          memory: memory, slot: slot, waitSetting: waitSetting, compileOnly: compileOnly)
        } catch {
            if let messenger { galaxy_vk_destroy_debug_messenger(instance.handle, messenger) }
            vkDestroyInstance(instance.handle, nil)
            throw error
        }
    }

    private static func createMessenger(_ instance: VkInstance) throws -> VkDebugUtilsMessengerEXT? {
        var ci = VkDebugUtilsMessengerCreateInfoEXT()
        ci.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
        ci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT.rawValue | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT.rawValue
        ci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT.rawValue | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT.rawValue | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT.rawValue
        ci.pfnUserCallback = debugCallback
        var m: VkDebugUtilsMessengerEXT?
        try check(galaxy_vk_create_debug_messenger(instance, &ci, &m), "vkCreateDebugUtilsMessengerEXT")
        return m
    }

    /// Takes ownership of `instance` and `messenger` only when it succeeds.
    private init(instance: VkInstance, messenger: VkDebugUtilsMessengerEXT?, validation: Bool, selector: String?, memory: MemoryPolicy.Layout?, slot: Int?,
                 waitSetting: (text: String, seconds: Double)?, compileOnly: Bool) throws {
        self.instance = instance
        self.validationEnabled = validation
        self.waitSetting = waitSetting
        self.compileOnly = compileOnly
        let devices = try Self.physicalDevices(instance)
        let infos = devices.enumerated().map { Self.describe($0.element, index: $0.offset) }
        let chosen = try Self.choose(infos, selector: selector, slot: slot)
        physicalDevice = devices[chosen.index]
        info = chosen
        var props = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(physicalDevice, &props)
        limits = props.limits
        compileNotice = CompileNotice(device: chosen.name, driver: "\(chosen.name)|\(props.driverVersion)", cpu: props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
        var mem = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(physicalDevice, &mem)
        memoryProperties = mem
        var environment = ProcessInfo.processInfo.environment
        if let memory { environment["GALAXY_MEMORY"] = memory.rawValue }
        memoryPolicy = try MemoryPolicy(props: mem, environment: environment)
        maxMemoryAllocationSize = chosen.supportsVulkan11 ? Self.maxAllocation(physicalDevice) : 0
        try Self.checkRequirements(chosen, limits: props.limits, policy: memoryPolicy, memory: mem, compileOnly: compileOnly)
        capturesStatistics = compileOnly && chosen.pipelineStatistics

        var familyCount: UInt32 = 0
        vkGetPhysicalDeviceQueueFamilyProperties(physicalDevice, &familyCount, nil)
        var families = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(familyCount))
        vkGetPhysicalDeviceQueueFamilyProperties(physicalDevice, &familyCount, &families)
        guard let family = families.firstIndex(where: { $0.queueFlags & VK_QUEUE_COMPUTE_BIT.rawValue != 0 }) else {
            throw VulkanError("device \(chosen.name) has no compute queue (no queue family with VK_QUEUE_COMPUTE_BIT), which galaxy needs")
        }
        queueFamily = UInt32(family)
        timestampsSupported = families[family].timestampValidBits > 0 && props.limits.timestampComputeAndGraphics != 0
        timestampValidBits = Int(families[family].timestampValidBits)

        var priority: Float = 1
        var device: VkDevice?
        let physicalDevice = self.physicalDevice
        // Pipeline statistics: the extension and its feature, only where they are read (compile-only contexts).
        var executableInfo = VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR()
        executableInfo.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR
        executableInfo.pipelineExecutableInfo = VkBool32(VK_TRUE)
        let captures = capturesStatistics
        let extensions = Self.deviceExtensions(available: try Self.extensionNames(of: physicalDevice))
            + (captures ? [VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME] : [])
        try withUnsafePointer(to: &priority) { prio in
            var qci = VkDeviceQueueCreateInfo()
            qci.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
            qci.queueFamilyIndex = UInt32(family)
            qci.queueCount = 1
            qci.pQueuePriorities = prio
            try withUnsafePointer(to: &qci) { q in
                try withUnsafeMutablePointer(to: &executableInfo) { features in
                    try withCStrings(extensions) { names in
                        var dci = VkDeviceCreateInfo()
                        dci.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
                        dci.queueCreateInfoCount = 1
                        dci.pQueueCreateInfos = q
                        dci.enabledExtensionCount = UInt32(extensions.count)
                        dci.ppEnabledExtensionNames = names
                        if captures { dci.pNext = UnsafeRawPointer(features) }
                        try check(vkCreateDevice(physicalDevice, &dci, nil, &device), "vkCreateDevice")
                    }
                }
            }
        }
        self.device = device!
        var queue: VkQueue?
        vkGetDeviceQueue(device, UInt32(family), 0, &queue)
        self.queue = queue!
        var pci = VkCommandPoolCreateInfo()
        pci.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT.rawValue
        pci.queueFamilyIndex = UInt32(family)
        var pool: VkCommandPool?
        let poolResult = vkCreateCommandPool(device, &pci, nil, &pool)
        if poolResult != VK_SUCCESS {
            vkDestroyDevice(device, nil)  // deinit does not run for a failed init
            throw VulkanError("vkCreateCommandPool", poolResult)
        }
        commandPool = pool!
        self.messenger = messenger
    }

    deinit {
        // A device that stopped answering may still run work that uses every object: they are left to the
        // process's end (the pipelines in the cache see the same flag).
        guard !isAbandoned else { return }
        cacheLock.lock()
        pipelineCache.removeAll()
        notYetRun.removeAll()
        cacheLock.unlock()
        vkDestroyCommandPool(device, commandPool, nil)
        vkDestroyDevice(device, nil)
        if let messenger { galaxy_vk_destroy_debug_messenger(instance, messenger) }
        vkDestroyInstance(instance, nil)
    }

    /// Every Vulkan device on this machine, best first is not implied: `index` is Vulkan's order.
    public static func listDevices() throws -> (devices: [DeviceInfo], defaultIndex: Int) {
        let instance = try createInstance(validation: false)
        defer { vkDestroyInstance(instance.handle, nil) }
        let infos = try physicalDevices(instance.handle).enumerated().map { describe($0.element, index: $0.offset) }
        return (infos, try choose(infos, selector: nil).index)
    }

    /// Waits until the queue has run everything submitted to it, within the floor of `WaitLimit` (or
    /// GALAXY_WAIT_TIMEOUT): an empty submission's fence, since vkDeviceWaitIdle has no time limit.
    public func waitIdle() throws {
        if let failure = abandonment.failure {
            throw VulkanError("waiting for the device refused: it stopped answering earlier (\(failure))", failure: failure)
        }
        var fci = VkFenceCreateInfo()
        fci.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var fence: VkFence?
        try check(vkCreateFence(device, &fci, nil, &fence), "vkCreateFence")
        defer { if !isAbandoned { vkDestroyFence(device, fence, nil) } }
        try check(vkQueueSubmit(queue, 0, nil, fence), "vkQueueSubmit")
        try Fence.wait(self, &fence, limit: waitLimit(for: WaitLimit.Work()))
    }

    /// The limit of a wait for `work`: GALAXY_WAIT_TIMEOUT's when set, else derived from the work.
    public func waitLimit(for work: WaitLimit.Work) -> WaitLimit { WaitLimit(work: work, setting: waitSetting) }

    /// Whether a wait for the device ran past its limit: its work may still be running, so no object it
    /// may use is destroyed from then on (the process is about to end, and the driver reclaims them), and
    /// nothing more is submitted.
    public var isAbandoned: Bool { abandonment.failure != nil }

    // MARK: - Instance and device selection

    static let validationLayer = "VK_LAYER_KHRONOS_validation"

    private static func createInstance(validation requested: Bool) throws -> (handle: VkInstance, validation: Bool) {
        let layerName = validationLayer
        var validation = false
        if requested {
            var count: UInt32 = 0
            vkEnumerateInstanceLayerProperties(&count, nil)
            var layers = [VkLayerProperties](repeating: VkLayerProperties(), count: Int(count))
            vkEnumerateInstanceLayerProperties(&count, &layers)
            validation = layers.contains { var l = $0; return withUnsafeBytes(of: &l.layerName) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) } == layerName }
            if !validation {
                throw VulkanError("GALAXY_VALIDATION=1 but \(layerName) is not installed (apt-get install vulkan-validationlayers)")
            }
        }
        let setup = instanceSetup(available: try instanceExtensionNames(), validation: validation)
        var appInfo = VkApplicationInfo()
        appInfo.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO
        appInfo.apiVersion = galaxy_vk_make_api_version(0, 1, 1, 0)
        var instance: VkInstance?
        let result: VkResult = "galaxy".withCString { app in
            appInfo.pApplicationName = app
            return withUnsafePointer(to: &appInfo) { ai in
                var ci = VkInstanceCreateInfo()
                ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
                ci.flags = setup.flags
                ci.pApplicationInfo = ai
                return withCStrings(setup.layers) { layers in
                    withCStrings(setup.extensions) { extensions in
                        ci.enabledLayerCount = UInt32(setup.layers.count)
                        ci.ppEnabledLayerNames = layers
                        ci.enabledExtensionCount = UInt32(setup.extensions.count)
                        ci.ppEnabledExtensionNames = extensions
                        return vkCreateInstance(&ci, nil, &instance)
                    }
                }
            }
        }
        if result == VK_ERROR_INCOMPATIBLE_DRIVER || result == VK_ERROR_INITIALIZATION_FAILED {
            throw VulkanError.noDevice
        }
        try check(result, "vkCreateInstance")
        return (instance!, validation)
    }

    static let portabilityEnumeration = "VK_KHR_portability_enumeration"
    static let portabilitySubset = "VK_KHR_portability_subset"

    /// The layers, extensions and flags of galaxy's instance, given the instance extensions the loader
    /// offers: the validation layer and VK_EXT_debug_utils when validating; and where the loader offers
    /// VK_KHR_portability_enumeration, that extension with VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR,
    /// without which the loader hides portability drivers (MoltenVK, Apple's GPUs through Metal).
    static func instanceSetup(available: [String], validation: Bool) -> (layers: [String], extensions: [String], flags: VkInstanceCreateFlags) {
        var extensions: [String] = validation ? [VK_EXT_DEBUG_UTILS_EXTENSION_NAME] : []
        var flags: VkInstanceCreateFlags = 0
        if available.contains(portabilityEnumeration) {
            extensions.append(portabilityEnumeration)
            flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR.rawValue
        }
        return (validation ? [validationLayer] : [], extensions, flags)
    }

    /// The device extensions galaxy enables, given those the device offers: VK_KHR_portability_subset
    /// where offered, which the specification requires of an application using such a device. (galaxy uses
    /// none of the features that extension may turn off: events, triangle fans, image view reinterpretation,
    /// tessellation modes and the like are graphics; its compute shaders on storage buffers are not among them.)
    static func deviceExtensions(available: [String]) -> [String] {
        available.contains(portabilitySubset) ? [portabilitySubset] : []
    }

    /// The names of the instance extensions the loader (and its implicit layers) offer.
    private static func instanceExtensionNames() throws -> [String] {
        var count: UInt32 = 0
        try check(vkEnumerateInstanceExtensionProperties(nil, &count, nil), "vkEnumerateInstanceExtensionProperties")
        var props = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(count))
        let result = vkEnumerateInstanceExtensionProperties(nil, &count, &props)
        if result != VK_INCOMPLETE { try check(result, "vkEnumerateInstanceExtensionProperties") }
        return props.prefix(Int(count)).map(extensionName)
    }

    /// The names of the extensions `device` offers.
    static func extensionNames(of device: VkPhysicalDevice) throws -> [String] {
        var count: UInt32 = 0
        try check(vkEnumerateDeviceExtensionProperties(device, nil, &count, nil), "vkEnumerateDeviceExtensionProperties")
        var props = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(count))
        let result = vkEnumerateDeviceExtensionProperties(device, nil, &count, &props)
        if result != VK_INCOMPLETE { try check(result, "vkEnumerateDeviceExtensionProperties") }
        return props.prefix(Int(count)).map(extensionName)
    }

    private static func extensionName(_ p: VkExtensionProperties) -> String {
        var p = p
        return withUnsafeBytes(of: &p.extensionName) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }

    private static func physicalDevices(_ instance: VkInstance) throws -> [VkPhysicalDevice] {
        var count: UInt32 = 0
        try check(vkEnumeratePhysicalDevices(instance, &count, nil), "vkEnumeratePhysicalDevices")
        guard count > 0 else { throw VulkanError.noDevice }
        var devices = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        try check(vkEnumeratePhysicalDevices(instance, &count, &devices), "vkEnumeratePhysicalDevices")
        return devices.compactMap { $0 }
    }

    private static func describe(_ device: VkPhysicalDevice, index: Int) -> DeviceInfo {
        var props = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(device, &props)
        let name = withUnsafeBytes(of: &props.deviceName) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        let (type, rank): (String, Int) = switch props.deviceType {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: ("discrete GPU", 0)
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: ("integrated GPU", 1)
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: ("virtual GPU", 2)
        case VK_PHYSICAL_DEVICE_TYPE_CPU: ("CPU", 3)
        default: ("other", 4)
        }
        var mem = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(device, &mem)
        var bytes: UInt64 = 0
        withUnsafeBytes(of: &mem.memoryHeaps) { raw in
            let heaps = raw.bindMemory(to: VkMemoryHeap.self)
            for i in 0..<Int(mem.memoryHeapCount) where heaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue != 0 {
                bytes += heaps[i].size
            }
        }
        // vkGetPhysicalDeviceProperties2 is core in 1.1: a 1.0 device is listed without subgroup properties.
        let v = props.apiVersion
        let vulkan11 = v >= galaxy_vk_make_api_version(0, 1, 1, 0)
        var subgroup = VkPhysicalDeviceSubgroupProperties()
        subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES
        if vulkan11 {
            var props2 = VkPhysicalDeviceProperties2()
            props2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
            withUnsafeMutablePointer(to: &subgroup) { sp in
                props2.pNext = UnsafeMutableRawPointer(sp)
                vkGetPhysicalDeviceProperties2(device, &props2)
            }
        }
        var info = DeviceInfo(index: index, name: name, type: type, typeRank: rank, memoryBytes: bytes,
                              subgroupSize: subgroup.subgroupSize,
                              apiVersion: "\(galaxy_vk_api_version_major(v)).\(galaxy_vk_api_version_minor(v)).\(galaxy_vk_api_version_patch(v))")
        info.supportsVulkan11 = vulkan11
        let extensions = (try? extensionNames(of: device)) ?? []
        info.portabilitySubset = extensions.contains(portabilitySubset)
        info.subgroupOperations = subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT.rawValue != 0 ? subgroup.supportedOperations : 0
        info.subgroupBallot = info.subgroupOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT.rawValue != 0
        info.hasMemory = mem.memoryTypeCount > 0
        info.pipelineStatistics = extensions.contains(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME)
        return info
    }

    /// Picks by index or name substring when given, else discrete > integrated > virtual > CPU, lavapipe before
    /// other CPU drivers (among the
    /// Vulkan 1.1 devices with memory when there are any: a compile-only device is taken only by name); with a
    /// `slot`, the (slot mod count)-th of the devices of that best type, in index order.
    public static func choose(_ infos: [DeviceInfo], selector: String?, slot: Int? = nil) throws -> DeviceInfo {
        if let selector, !selector.isEmpty {
            if let i = Int(selector) {
                guard infos.indices.contains(i) else {
                    throw VulkanError("no Vulkan device with index \(i): \(infos.count) present (see `galaxy devices`)")
                }
                return infos[i]
            }
            guard let match = infos.first(where: { $0.name.localizedCaseInsensitiveContains(selector) }) else {
                throw VulkanError("no Vulkan device whose name contains \"\(selector)\"; present: \(infos.map(\.name).joined(separator: ", "))")
            }
            return match
        }
        // A device galaxy cannot use (Vulkan 1.0) is only taken when it is the only kind present, to name what it lacks.
        let runnable = infos.filter { $0.supportsVulkan11 && $0.hasMemory }
        let usable = !runnable.isEmpty ? runnable : infos.contains(where: \.supportsVulkan11) ? infos.filter(\.supportsVulkan11) : infos
        let best = usable.min { ($0.typeRank, $0.cpuDriverRank, $0.index) < ($1.typeRank, $1.cpuDriverRank, $1.index) }!
        guard let slot else { return best }
        let peers = usable.filter { $0.typeRank == best.typeRank && $0.cpuDriverRank == best.cpuDriverRank }.sorted { $0.index < $1.index }
        return peers[slot % peers.count]
    }

    /// Every binding offset galaxy uses is a multiple of this many bytes (ActivationPlan, DeviceNetwork's
    /// parameters, DeviceDataset's windows, Conv2d's partial sums): the most the Vulkan specification lets
    /// minStorageBufferOffsetAlignment be, so any conforming device accepts them.
    public static let bindingAlignment = 256

    /// maxMemoryAllocationSize from VkPhysicalDeviceMaintenance3Properties (core in Vulkan 1.1).
    private static func maxAllocation(_ device: VkPhysicalDevice) -> UInt64 {
        var maintenance3 = VkPhysicalDeviceMaintenance3Properties()
        maintenance3.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES
        var props2 = VkPhysicalDeviceProperties2()
        props2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
        withUnsafeMutablePointer(to: &maintenance3) { mp in
            props2.pNext = UnsafeMutableRawPointer(mp)
            vkGetPhysicalDeviceProperties2(device, &props2)
        }
        return maintenance3.maxMemoryAllocationSize
    }

    /// What galaxy needs of any device, checked before the logical device is created, so that a driver
    /// lacking one gets an error naming it rather than a validation message or a crash later. (Each
    /// pipeline's own needs, its bindings, workgroup size and subgroup operations, are checked when it
    /// is created; the workgroup count per dispatch when it is recorded.)
    static func checkRequirements(_ info: DeviceInfo, limits: VkPhysicalDeviceLimits, policy: MemoryPolicy,
                                  memory: VkPhysicalDeviceMemoryProperties, compileOnly: Bool = false) throws {
        guard info.supportsVulkan11 else {
            throw VulkanError("device \(info.name) supports Vulkan \(info.apiVersion); galaxy needs Vulkan 1.1 or later "
                              + "(its shaders are SPIR-V 1.3, and it reads subgroup and maintenance3 properties)")
        }
        guard limits.minStorageBufferOffsetAlignment <= VkDeviceSize(bindingAlignment) else {
            throw VulkanError("device \(info.name) has minStorageBufferOffsetAlignment \(limits.minStorageBufferOffsetAlignment) bytes; galaxy binds "
                              + "buffer ranges at multiples of \(bindingAlignment) bytes, the most the Vulkan specification allows that limit to be")
        }
        if compileOnly { return }  // nothing is allocated
        guard memory.memoryTypeCount > 0 else {
            throw VulkanError("device \(info.name) reports no memory types: it can compile pipelines but not run them (RADV's null device, "
                              + "opened by RADV_FORCE_FAMILY, is such a device). `galaxy bench --shader-stats` shows what its compiler makes of galaxy's kernels; "
                              + "to train or predict, pick a device with memory (`galaxy devices`)")
        }
        for role in BufferRole.allCases where policy.memoryTypes(for: role, bits: ~0, in: memory).isEmpty {
            let wanted = policy.preferences[role]!.map(MemoryPolicy.flagNames).joined(separator: "\" or \"")
            let flags = policy.preferences[role]!.map(MemoryPolicy.vulkanFlagNames).joined(separator: ", or ")
            throw VulkanError("device \(info.name) has no memory type that is \"\(wanted)\" (\(flags)), which galaxy's \(role.rawValue) buffers need "
                              + "(memory layout \(policy.layout.rawValue))")
        }
    }

    /// The largest buffer of `role` one allocation can hold: the largest heap among the memory types
    /// the role may use, and at most maxMemoryAllocationSize.
    public func largestAllocation(for role: BufferRole = .device) -> Int {
        if compileOnly { return Int.max }  // nothing is allocated: no buffer is too large
        let heap = memoryTypes(for: role, bits: ~0).map { heapSize(ofType: $0) }.max() ?? 0
        return Int(min(heap, maxMemoryAllocationSize, UInt64(Int.max)))
    }

    /// Bytes of the largest device-local heap (the host's memory on lavapipe).
    public var largestDeviceLocalHeap: Int {
        var mem = memoryProperties
        let heaps = withUnsafeBytes(of: &mem.memoryHeaps) { Array($0.bindMemory(to: VkMemoryHeap.self).prefix(Int(mem.memoryHeapCount))) }
        let local = heaps.filter { $0.flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue != 0 }
        return Int((local.isEmpty ? heaps : local).map(\.size).max() ?? 0)
    }

    func heapIndex(ofType type: UInt32) -> Int {
        withUnsafeBytes(of: memoryProperties.memoryTypes) { Int($0.bindMemory(to: VkMemoryType.self)[Int(type)].heapIndex) }
    }

    func heapSize(ofType type: UInt32) -> UInt64 {
        let heap = heapIndex(ofType: type)
        return withUnsafeBytes(of: memoryProperties.memoryHeaps) { $0.bindMemory(to: VkMemoryHeap.self)[heap].size }
    }
}

/// Whether, and how, the device stopped answering (set once; shared by the context and its pipelines,
/// which outlive the context's own deinit).
final class Abandonment: @unchecked Sendable {
    private let lock = NSLock()
    private var value: DeviceFailure?
    var failure: DeviceFailure? {
        lock.lock(); defer { lock.unlock() }
        return value
    }
    func abandon(_ failure: DeviceFailure) {
        lock.lock(); defer { lock.unlock() }
        if value == nil { value = failure }
    }
}

/// Calls `body` with a C array of the strings (nil when empty), valid for the call.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> R) rethrows -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer<CChar>($0) }
    return try pointers.withUnsafeBufferPointer { try body(strings.isEmpty ? nil : $0.baseAddress) }
}

extension VulkanError {
    /// What a compile-only context (`VulkanContext.compileOnly`) answers to anything but compiling.
    static func compileOnly(_ context: VulkanContext, _ what: String) -> VulkanError {
        VulkanError("device \(context.info.name) is open for compiling only (it has no memory, or galaxy opened it for `bench --shader-stats`): "
                    + "cannot \(what)")
    }
    static let noDevice = VulkanError("no Vulkan device found: install a GPU driver, or mesa-vulkan-drivers for lavapipe (software Vulkan on the CPU)")
}
