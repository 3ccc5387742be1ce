import ArgumentParser
import GalaxyKit

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "devices", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("galaxy devices is not implemented yet") }
}
