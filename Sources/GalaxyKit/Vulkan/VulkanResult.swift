import CVulkan

/// The names of VkResult values, so that an error says `VK_ERROR_OUT_OF_DEVICE_MEMORY` rather than
/// `VkResult -2`. Keyed by the raw value rather than by the header's constants, so that values newer than
/// the installed vulkan_core.h still get their names (and a newer header does not change them). A value
/// promoted to core has its core name (`VK_ERROR_NOT_PERMITTED`, once `VK_ERROR_NOT_PERMITTED_KHR`).
enum VulkanResult {
    static let names: [Int32: String] = [
        // Vulkan 1.0 to 1.4
        0: "VK_SUCCESS",
        1: "VK_NOT_READY",
        2: "VK_TIMEOUT",
        3: "VK_EVENT_SET",
        4: "VK_EVENT_RESET",
        5: "VK_INCOMPLETE",
        -1: "VK_ERROR_OUT_OF_HOST_MEMORY",
        -2: "VK_ERROR_OUT_OF_DEVICE_MEMORY",
        -3: "VK_ERROR_INITIALIZATION_FAILED",
        -4: "VK_ERROR_DEVICE_LOST",
        -5: "VK_ERROR_MEMORY_MAP_FAILED",
        -6: "VK_ERROR_LAYER_NOT_PRESENT",
        -7: "VK_ERROR_EXTENSION_NOT_PRESENT",
        -8: "VK_ERROR_FEATURE_NOT_PRESENT",
        -9: "VK_ERROR_INCOMPATIBLE_DRIVER",
        -10: "VK_ERROR_TOO_MANY_OBJECTS",
        -11: "VK_ERROR_FORMAT_NOT_SUPPORTED",
        -12: "VK_ERROR_FRAGMENTED_POOL",
        -13: "VK_ERROR_UNKNOWN",
        -1_000_011_001: "VK_ERROR_VALIDATION_FAILED",
        -1_000_069_000: "VK_ERROR_OUT_OF_POOL_MEMORY",
        -1_000_072_003: "VK_ERROR_INVALID_EXTERNAL_HANDLE",
        -1_000_161_000: "VK_ERROR_FRAGMENTATION",
        -1_000_257_000: "VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS",
        1_000_297_000: "VK_PIPELINE_COMPILE_REQUIRED",
        -1_000_174_001: "VK_ERROR_NOT_PERMITTED",
        // Extensions
        -1_000_000_000: "VK_ERROR_SURFACE_LOST_KHR",
        -1_000_000_001: "VK_ERROR_NATIVE_WINDOW_IN_USE_KHR",
        1_000_001_003: "VK_SUBOPTIMAL_KHR",
        -1_000_001_004: "VK_ERROR_OUT_OF_DATE_KHR",
        -1_000_003_001: "VK_ERROR_INCOMPATIBLE_DISPLAY_KHR",
        -1_000_012_000: "VK_ERROR_INVALID_SHADER_NV",
        -1_000_023_000: "VK_ERROR_IMAGE_USAGE_NOT_SUPPORTED_KHR",
        -1_000_023_001: "VK_ERROR_VIDEO_PICTURE_LAYOUT_NOT_SUPPORTED_KHR",
        -1_000_023_002: "VK_ERROR_VIDEO_PROFILE_OPERATION_NOT_SUPPORTED_KHR",
        -1_000_023_003: "VK_ERROR_VIDEO_PROFILE_FORMAT_NOT_SUPPORTED_KHR",
        -1_000_023_004: "VK_ERROR_VIDEO_PROFILE_CODEC_NOT_SUPPORTED_KHR",
        -1_000_023_005: "VK_ERROR_VIDEO_STD_VERSION_NOT_SUPPORTED_KHR",
        -1_000_158_000: "VK_ERROR_INVALID_DRM_FORMAT_MODIFIER_PLANE_LAYOUT_EXT",
        -1_000_208_000: "VK_ERROR_PRESENT_TIMING_QUEUE_FULL_EXT",
        -1_000_255_000: "VK_ERROR_FULL_SCREEN_EXCLUSIVE_MODE_LOST_EXT",
        1_000_268_000: "VK_THREAD_IDLE_KHR",
        1_000_268_001: "VK_THREAD_DONE_KHR",
        1_000_268_002: "VK_OPERATION_DEFERRED_KHR",
        1_000_268_003: "VK_OPERATION_NOT_DEFERRED_KHR",
        -1_000_299_000: "VK_ERROR_INVALID_VIDEO_STD_PARAMETERS_KHR",
        -1_000_338_000: "VK_ERROR_COMPRESSION_EXHAUSTED_EXT",
        1_000_482_000: "VK_INCOMPATIBLE_SHADER_BINARY_EXT",
        1_000_483_000: "VK_PIPELINE_BINARY_MISSING_KHR",
        -1_000_483_000: "VK_ERROR_NOT_ENOUGH_SPACE_KHR",
    ]

    /// The value's name, or the number with a note for one this table does not know.
    static func name(_ raw: Int32) -> String {
        names[raw] ?? "VkResult \(raw) (a value this build of galaxy has no name for)"
    }

    static func name(_ result: VkResult) -> String { name(result.rawValue) }
}
