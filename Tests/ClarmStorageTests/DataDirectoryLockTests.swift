import Testing
@testable import ClarmStorage
import ClarmTestSupport
import Glibc

@Suite struct DataDirectoryLockTests {
    @Test func aSecondStoreFailsNamingTheHolderUntilTheFirstCloses() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        let first = try Store(directory: directory.path, options: options)
        _ = first.appendAndWait([makeEvent(1)])
        let files = try PosixFileSystem().list(directory.path + "/shard-000")
        #expect(throws: StoreError.self) { try Store(directory: directory.path, options: options) }
        do {
            _ = try Store(directory: directory.path, options: options)
        } catch {
            #expect(error.description == "data directory \(directory.path) is in use by process \(getpid())")
        }
        #expect(try PosixFileSystem().list(directory.path + "/shard-000") == files)
        #expect(Store.holder(of: directory.path) == getpid())
        first.close()
        #expect(Store.holder(of: directory.path) == nil)
        let second = try Store(directory: directory.path, options: options)
        defer { second.close() }
        #expect(try second.allEvents().compactMap(eventNumber) == [1])
    }
}
