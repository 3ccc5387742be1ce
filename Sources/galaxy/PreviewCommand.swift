import ArgumentParser
import Foundation
import GalaxyKit

struct PreviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "Write a picture of originals beside their cropped, resized, randomly flipped and rotated versions.")

    @Option(help: "Output JPEG.") var out = "preview.jpg"
    @Option(help: "Seed of the random flips and rotations.") var seed: UInt32 = 42
    @Argument(help: "JPEG images.") var images: [String]

    func run() throws {
        try reportingErrors {
            guard !images.isEmpty else { throw ValidationError("give at least one image") }
            let picture = try Preview.render(files: images.map { URL(fileURLWithPath: $0) }, seed: seed)
            try AtomicFile.write(Data(try JPEG.encode(picture, quality: 92)), to: URL(fileURLWithPath: out))
            print("wrote \(out) (\(picture.width)x\(picture.height))")
        }
    }
}
