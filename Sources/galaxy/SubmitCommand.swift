import ArgumentParser
import GalaxyKit

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submit", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("galaxy submit is not implemented yet") }
}
