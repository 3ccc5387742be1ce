import ArgumentParser
import Foundation
import GalaxyKit

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "List the Vulkan devices; pick one with --device INDEX|NAME or GALAXY_DEVICE.")

    @Flag(name: .shortAndLong, help: "Also the chosen device's memory heaps and types, and the type each buffer role uses.") var verbose = false

    func run() throws {
        try reportingErrors {
            let (devices, chosen) = try VulkanContext.listDevices()
            for d in devices {
                print(String(format: "%@ %d  %@  (%@, %.1f GiB, subgroup %d, Vulkan %@)", d.index == chosen ? "*" : " ", d.index, d.name,
                             d.type, Double(d.memoryBytes) / 1073741824, d.subgroupSize, d.apiVersion))
            }
            print("* default (discrete > integrated > virtual > CPU)")
            if verbose {
                let context = try VulkanContext()
                print("\n\(context.info.name):")
                for line in context.memoryReport() { print("  " + line) }
                let budget = try ByteSize.deviceMemory(nil) ?? DeviceDataset.defaultBudget(context)
                print("  a data set's images stay on the device up to \(ByteSize.describe(budget)) and stream beyond "
                      + "(--device-memory or GALAXY_DEVICE_MEMORY; default: half the largest device-local heap)")
            }
        }
    }
}
