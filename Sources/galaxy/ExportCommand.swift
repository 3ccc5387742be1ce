import ArgumentParser
import Foundation
import GalaxyKit

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's network as an ONNX model (for ONNX Runtime, OpenCV's DNN module, TensorRT...).",
        discussion: """
        The model takes float32 [N, 3, 69, 69] images in the network's input scale (N free) and gives [N, outputs], \
        with the checkpoint's output layer (the seed's ReLU, or the decision-tree layer in the form the checkpoint \
        records), from standard operators of opset \(OnnxExport.opset). A Dirichlet (vote counts) checkpoint's model \
        gives each answer's expected share of all volunteers, as `galaxy predict` does, and a second output, \
        `concentrations`. Its metadata says how to prepare an image; so does this command.
        """)

    @Argument(help: "Checkpoint (safetensors with PyTorch state_dict names, e.g. RUN/best.safetensors).") var checkpoint: String
    @Option(help: "Where to write the ONNX model.") var onnx: String

    func run() throws {
        try reportingErrors {
            let out = URL(fileURLWithPath: onnx)
            let description = try OnnxExport.export(checkpoint: URL(fileURLWithPath: checkpoint), to: out)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int) ?? 0
            print("wrote \(out.path) (ONNX, opset \(OnnxExport.opset), \(ByteSize.describe(bytes)))")
            for (key, value) in description { print("  \(key): \(value)") }
        }
    }
}
