import ArgumentParser
import Foundation
import GalaxyKit

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "List the Vulkan devices; pick one with --device INDEX|NAME or GALAXY_DEVICE.")

    @Flag(name: .shortAndLong, help: "Also the chosen device's memory heaps and types, its limits, and the type each buffer role uses.") var verbose = false
    @Option(help: "Show which device this index or name substring picks (as --device does for every command; default: GALAXY_DEVICE).")
    var device: String?

    /// Vulkan drivers some Debian packages install without registering them with the loader: listed when
    /// present and not in use, with the setting that adds them.
    static let unregisteredDrivers = [
        (file: "/usr/lib/chromium/vk_swiftshader_icd.json", name: "SwiftShader", package: "chromium-common"),
    ]

    func run() throws {
        try reportingErrors {
            let (devices, chosen) = try VulkanContext.listDevices()
            for d in devices {
                print(String(format: "%@ %d  %@  (%@, %.1f GiB, subgroup %d, Vulkan %@)%@", d.index == chosen ? "*" : " ", d.index, d.name,
                             d.type, Double(d.memoryBytes) / 1073741824, d.subgroupSize, d.apiVersion,
                             d.hasMemory ? "" : ": compile only, no memory (bench --shader-stats)"))
            }
            print("* default (discrete > integrated > virtual > CPU, lavapipe before other CPU drivers, among the devices with memory)")
            let selector = device ?? VulkanContext.environmentDeviceSelector
            if let selector, !selector.isEmpty {
                let picked = try VulkanContext.choose(devices, selector: selector)
                print("\(device != nil ? "--device \(selector)" : "GALAXY_DEVICE=\(selector)") picks \(picked.index)  \(picked.name)")
            }
            let environment = ProcessInfo.processInfo.environment
            let named = ["VK_DRIVER_FILES", "VK_ADD_DRIVER_FILES", "VK_ICD_FILENAMES"].compactMap { environment[$0] }.joined(separator: ":")
            for driver in Self.unregisteredDrivers where FileManager.default.fileExists(atPath: driver.file) && !named.contains(driver.file)
                && !devices.contains(where: { $0.name.localizedCaseInsensitiveContains(driver.name) }) {
                print("also installed, not registered with the Vulkan loader: \(driver.name) (\(driver.package)); "
                      + "VK_ADD_DRIVER_FILES=\(driver.file) adds it, VK_DRIVER_FILES=\(driver.file) makes it the only one")
            }
            if verbose {
                let context = try VulkanContext(selector: selector)
                print("\n\(context.info.name):")
                if context.info.portabilitySubset {
                    print("  a portability driver such as MoltenVK (VK_KHR_portability_subset, enabled); galaxy is untested on one")
                }
                for line in context.memoryReport() { print("  " + line) }
                let budget = try ByteSize.deviceMemory(nil) ?? DeviceDataset.defaultBudget(context)
                print("  a data set's images stay on the device up to \(ByteSize.describe(budget)) and stream beyond "
                      + "(--device-memory or GALAXY_DEVICE_MEMORY; default: half the largest device-local heap)")
            }
        }
    }
}
