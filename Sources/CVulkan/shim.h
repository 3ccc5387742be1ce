#ifndef GALAXY_CVULKAN_SHIM_H
#define GALAXY_CVULKAN_SHIM_H
#include <vulkan/vulkan.h>

// Function-like macros Swift cannot import.
static inline uint32_t galaxy_vk_make_api_version(uint32_t variant, uint32_t major, uint32_t minor, uint32_t patch) {
    return VK_MAKE_API_VERSION(variant, major, minor, patch);
}
static inline uint32_t galaxy_vk_api_version_major(uint32_t v) { return VK_API_VERSION_MAJOR(v); }
static inline uint32_t galaxy_vk_api_version_minor(uint32_t v) { return VK_API_VERSION_MINOR(v); }
static inline uint32_t galaxy_vk_api_version_patch(uint32_t v) { return VK_API_VERSION_PATCH(v); }

// Extension entry points are not exported by the loader: look them up through the instance.
static inline VkResult galaxy_vk_create_debug_messenger(VkInstance instance, const VkDebugUtilsMessengerCreateInfoEXT *info, VkDebugUtilsMessengerEXT *out) {
    PFN_vkCreateDebugUtilsMessengerEXT f = (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT");
    return f ? f(instance, info, NULL, out) : VK_ERROR_EXTENSION_NOT_PRESENT;
}
static inline void galaxy_vk_destroy_debug_messenger(VkInstance instance, VkDebugUtilsMessengerEXT messenger) {
    PFN_vkDestroyDebugUtilsMessengerEXT f = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT");
    if (f) f(instance, messenger, NULL);
}
// VK_KHR_pipeline_executable_properties: what the device's compiler made of a pipeline (registers, spills,
// shared memory, occupancy, ...), looked up through the device.
static inline VkResult galaxy_vk_pipeline_executables(VkDevice device, VkPipeline pipeline, uint32_t *count, VkPipelineExecutablePropertiesKHR *out) {
    PFN_vkGetPipelineExecutablePropertiesKHR f = (PFN_vkGetPipelineExecutablePropertiesKHR)vkGetDeviceProcAddr(device, "vkGetPipelineExecutablePropertiesKHR");
    if (!f) return VK_ERROR_EXTENSION_NOT_PRESENT;
    VkPipelineInfoKHR info = {VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, NULL, pipeline};
    return f(device, &info, count, out);
}
static inline VkResult galaxy_vk_pipeline_executable_statistics(VkDevice device, VkPipeline pipeline, uint32_t executable, uint32_t *count,
                                                                 VkPipelineExecutableStatisticKHR *out) {
    PFN_vkGetPipelineExecutableStatisticsKHR f = (PFN_vkGetPipelineExecutableStatisticsKHR)vkGetDeviceProcAddr(device, "vkGetPipelineExecutableStatisticsKHR");
    if (!f) return VK_ERROR_EXTENSION_NOT_PRESENT;
    VkPipelineExecutableInfoKHR info = {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, NULL, pipeline, executable};
    return f(device, &info, count, out);
}
#endif
