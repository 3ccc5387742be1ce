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
#endif
