import ArgumentParser
import GalaxyKit

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("galaxy predict is not implemented yet") }
}
