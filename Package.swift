// swift-tools-version: 6.1
import Foundation
import PackageDescription

// GALAXY_NO_MPI=1 builds without MPI (the GPU kit: no libmpi on the machine it is carried to).
let withMPI = ProcessInfo.processInfo.environment["GALAXY_NO_MPI"] != "1"

let package = Package(
    name: "galaxy",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "GalaxyKit", targets: ["GalaxyKit"]),
        .executable(name: "galaxy", targets: ["galaxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CVulkan", pkgConfig: "vulkan",
                       providers: [.apt(["libvulkan-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        // Compiles every Shaders/*.comp to SPIR-V with glslangValidator at build time.
        .plugin(name: "CompileShaders", capability: .buildTool()),
        .target(
            name: "GalaxyKit",
            dependencies: ["CVulkan", "CTurboJPEG"] + (withMPI ? ["CMPI"] : []),
            plugins: ["CompileShaders"]
        ),
        .executableTarget(
            name: "galaxy",
            dependencies: [
                "GalaxyKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "GalaxyKitTests", dependencies: ["GalaxyKit"]),
    ],
    swiftLanguageModes: [.v5]
)

if withMPI {
    // MPI for `mpirun -np N galaxy train` (Open MPI from Debian; pkg-config finds its mpi.h).
    package.targets.append(.systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]))
}
