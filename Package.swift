// swift-tools-version: 6.1
import PackageDescription

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
        // PNG cutouts for `galaxy catalog` (TurboJPEG 2.1, Debian 12's, reads no PNG).
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        // Open MPI for `mpirun -np N galaxy train`, loaded at run time (libmpi.so.40): the build needs no MPI.
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),
        // Compiles every Shaders/*.comp to SPIR-V with glslangValidator at build time.
        .plugin(name: "CompileShaders", capability: .buildTool()),
        .target(
            name: "GalaxyKit",
            dependencies: ["CVulkan", "CTurboJPEG", "CPNG", "CMPI"],
            plugins: ["CompileShaders"]
        ),
        .executableTarget(
            name: "galaxy",
            dependencies: [
                "GalaxyKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Built without optimization: in a release build (make test) the tests then compile in about 18 s instead of 80
        // (docs/performance.md); the code they test, GalaxyKit, is optimized as users get it.
        .testTarget(name: "GalaxyKitTests", dependencies: ["GalaxyKit"], swiftSettings: [.unsafeFlags(["-Onone"])]),
    ],
    swiftLanguageModes: [.v5]
)

