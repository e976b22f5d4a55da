import ArgumentParser
import Foundation

/// `clarm erase`: erases a visitor's events on a site through a running gateway's HTTP API
/// (`DELETE /api/visitors/{id}?site=S`).
struct Erase: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erase a visitor's events on a site (GDPR Art. 17) through a running gateway."
    )

    @OptionGroup var connection: Sites.Connection

    @Option(help: "The site, as registered (shop.example.com).")
    var site: String

    @Option(help: "The visitor id to erase.")
    var visitor: String

    func run() throws {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-_~"))
        let id = visitor.addingPercentEncoding(withAllowedCharacters: allowed) ?? visitor
        let query = site.addingPercentEncoding(withAllowedCharacters: allowed) ?? site
        let answer = try connection.request("DELETE", "/api/visitors/\(id)?site=\(query)")
        let pending = answer["pending_physical"] as? Bool ?? true
        print("erased visitor \(visitor) on \(site)" + (pending ? "; its events leave the data files within seconds" : ""))
    }
}
