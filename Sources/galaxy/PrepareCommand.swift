import ArgumentParser
import GalaxyKit

struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prepare", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("galaxy prepare is not implemented yet") }
}
