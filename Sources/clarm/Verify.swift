import ArgumentParser
import ClarmStorage

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every WAL record and segment block checksum of a data directory (read-only, also beside a live server); exit 1 on damage."
    )

    @Option(help: "Data directory.")
    var data = "./data"

    @Flag(help: "Print damaged files only.")
    var quiet = false

    func run() throws {
        if let holder = Store.holder(of: data) {
            print("note: process \(holder) is serving \(data); checking read-only beside it (files it removes meanwhile are skipped)")
        }
        let findings = StoreVerifier.verify(directory: data)
        for finding in findings where !quiet || finding.isDamage { print(finding) }
        let damaged = findings.filter(\.isDamage).count
        print("\(findings.count) files checked, \(damaged) damaged")
        if damaged > 0 { throw ExitCode(1) }
    }
}
