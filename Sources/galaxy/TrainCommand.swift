import ArgumentParser
import GalaxyKit

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("galaxy train is not implemented yet") }
}
