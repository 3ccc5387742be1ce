import ArgumentParser
import GalaxyKit

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("galaxy eval is not implemented yet") }
}
