import Foundation

// Writes a Swift file embedding the given files as byte arrays: `embed-assets OUTPUT FILE…`.
// The EmbedAssets build plugin runs it for ClarmGateway (the loader, the dashboard), ClarmBots (the crawler list)
// and ClarmQuery (the referrer list), so the binary carries each target's Assets/ folder.
let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: embed-assets OUTPUT FILE…\n".utf8))
    exit(2)
}
var swift = "// Generated at build time from the target's Assets folder.\n\n/// The files of the target's Assets folder, embedded in the binary.\nenum Assets {\n"
for path in arguments.dropFirst().sorted() {
    let url = URL(fileURLWithPath: path)
    // clarm.js → clarmJs, dashboard.html → dashboardHtml
    let parts = url.lastPathComponent.split(whereSeparator: { !$0.isLetter && !$0.isNumber })
    let name = parts.enumerated().map { $0.offset == 0 ? $0.element.lowercased() : $0.element.capitalized }.joined()
    let text = try String(contentsOf: url, encoding: .utf8)
    precondition(!text.contains("\"####"), "\(path) holds a sequence that ends the raw string")
    swift += "    static let \(name): [UInt8] = Array(####\"\"\"\n\(text)\n\"\"\"####.utf8)\n\n"
}
swift += "}\n"
try swift.write(toFile: output, atomically: true, encoding: .utf8)
