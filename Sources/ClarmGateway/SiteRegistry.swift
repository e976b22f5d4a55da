import ClarmJSON
import ClarmStorage
import ClarmSystem
import Synchronization

/// Why a change to the registered sites was refused or could not be saved.
public enum SiteRegistryError: Error, Sendable, CustomStringConvertible {
    case exists(String)
    case notFound(String)
    case full(Int)
    case notSaved(StorageIOError)
    /// The file of a data directory cannot be trusted; the gateway does not start on it.
    case damaged(path: String, problem: String)

    public var description: String {
        switch self {
        case .exists(let site): "site \(site) is already registered; change it with PUT /api/sites/\(site)"
        case .notFound(let site): "site \(site) is not registered"
        case .full(let limit): "at most \(limit) sites can be registered"
        case .notSaved(let error): "the change could not be saved, nothing changed: \(error)"
        case .damaged(let path, let problem):
            "\(path) is damaged (\(problem)); repair it from a backup, or move it away to start with no registered sites (which accepts events of every site)"
        }
    }
}

/// The registered sites, shared by every event loop, kept in `DATA/sites.json` (docs/FORMAT.md).
///
/// Changes are made one at a time and saved (temp file, fsync, rename, directory fsync) before they are
/// published. Readers never wait on a save: each change publishes a new immutable `SiteSnapshot` and
/// bumps `version`, so a gateway checks one atomic per request and takes the lock only after a change.
public final class SiteRegistry: Sendable {
    public static let fileName = "sites.json"
    public static let defaultMaxSites = 10_000

    /// nil: kept in memory only.
    public let path: String?
    public let maxSites: Int
    let zones: TimeZoneNames
    private let fileSystem: FileSystem
    private let directory: String?
    /// Held for a whole change, save included, so changes apply in order.
    private let changing = Mutex<Void>(())
    private let published: Mutex<(snapshot: SiteSnapshot, version: Int)>
    private let latestVersion = Atomic<Int>(0)

    /// Kept in memory only, starting with no sites.
    public convenience init(zones: TimeZoneNames = TimeZoneNames(), maxSites: Int = SiteRegistry.defaultMaxSites) {
        self.init(directory: nil, fileSystem: PosixFileSystem(), zones: zones, maxSites: maxSites, registrations: [])
    }

    /// Loads `directory/sites.json` (none yet: no sites); throws `.damaged` when it cannot be trusted.
    public static func open(directory: String, fileSystem: FileSystem = PosixFileSystem(), zones: TimeZoneNames = TimeZoneNames(),
                            maxSites: Int = SiteRegistry.defaultMaxSites) throws(SiteRegistryError) -> SiteRegistry {
        let path = "\(directory)/\(fileName)"
        let registrations = fileSystem.exists(path)
            ? try load(path, fileSystem: fileSystem, zones: zones, maxSites: maxSites) : []
        return SiteRegistry(directory: directory, fileSystem: fileSystem, zones: zones, maxSites: maxSites,
                            registrations: registrations)
    }

    private init(directory: String?, fileSystem: FileSystem, zones: TimeZoneNames, maxSites: Int,
                 registrations: [SiteRegistration]) {
        self.directory = directory
        self.path = directory.map { "\($0)/\(Self.fileName)" }
        self.fileSystem = fileSystem
        self.zones = zones
        self.maxSites = maxSites
        let now = monotonicMilliseconds()
        published = Mutex((SiteSnapshot(registrations.map { SiteEntry($0, now: now) }), 0))
    }

    /// Changes since start; a reader whose copy has another version takes `snapshot()` again.
    public var version: Int { latestVersion.load(ordering: .acquiring) }

    public func snapshot() -> (snapshot: SiteSnapshot, version: Int) {
        published.withLock { $0 }
    }

    public func add(_ registration: SiteRegistration) throws(SiteRegistryError) {
        try change { entries throws(SiteRegistryError) in
            guard !entries.contains(where: { $0.registration.site == registration.site }) else { throw .exists(registration.site) }
            guard entries.count < maxSites else { throw .full(maxSites) }
            entries.append(SiteEntry(registration, now: monotonicMilliseconds()))
        }
    }

    /// Replaces a registration; the site's event bucket starts full when its limits change.
    public func replace(_ registration: SiteRegistration) throws(SiteRegistryError) {
        try change { entries throws(SiteRegistryError) in
            guard let index = entries.firstIndex(where: { $0.registration.site == registration.site }) else {
                throw .notFound(registration.site)
            }
            if entries[index].registration != registration { entries[index] = SiteEntry(registration, now: monotonicMilliseconds()) }
        }
    }

    public func remove(_ site: String) throws(SiteRegistryError) {
        try change { entries throws(SiteRegistryError) in
            guard let index = entries.firstIndex(where: { $0.registration.site == site }) else { throw .notFound(site) }
            entries.remove(at: index)
        }
    }

    private func change(_ edit: (inout [SiteEntry]) throws(SiteRegistryError) -> Void) throws(SiteRegistryError) {
        // The closure cannot throw typed errors through withLock, so the outcome is carried out as a Result.
        let outcome: Result<Void, SiteRegistryError> = changing.withLock { _ in
            var entries = published.withLock { $0.snapshot.entries }
            do throws(SiteRegistryError) {
                try edit(&entries)
                try save(entries.map(\.registration))
            } catch {
                return .failure(error)
            }
            let snapshot = SiteSnapshot(entries)
            published.withLock { state in
                state = (snapshot, state.version + 1)
                latestVersion.store(state.version, ordering: .releasing)
            }
            return .success(())
        }
        try outcome.get()
    }

    // MARK: The file

    private func save(_ registrations: [SiteRegistration]) throws(SiteRegistryError) {
        guard let path, let directory else { return }
        var json = JSONWriter(capacity: 4096)
        json.raw(#"{"clarm_sites":1,"sites":["#)
        for (i, registration) in registrations.sorted(by: { $0.site < $1.site }).enumerated() {
            json.raw(i == 0 ? "\n" : ",\n")
            registration.write(into: &json)
            json.raw("}")
        }
        json.raw("\n]}\n")
        do throws(StorageIOError) {
            let file = try fileSystem.create(path + ".tmp")
            defer { file.close() }
            try json.bytes.withUnsafeBytes { raw in Result { () throws(StorageIOError) in try file.append(raw) } }.get()
            try file.sync()
            try fileSystem.rename(path + ".tmp", path)
            try fileSystem.syncDirectory(directory)
        } catch {
            try? fileSystem.remove(path + ".tmp")
            throw .notSaved(error)
        }
    }

    private static func load(_ path: String, fileSystem: FileSystem, zones: TimeZoneNames,
                             maxSites: Int) throws(SiteRegistryError) -> [SiteRegistration] {
        let bytes: [UInt8]
        do throws(StorageIOError) {
            bytes = try fileSystem.readAll(path)
        } catch {
            throw .damaged(path: path, problem: error.description)
        }
        let document: JSONValue
        do throws(JSONError) {
            document = try bytes.withUnsafeBytes { raw in Result { () throws(JSONError) in try JSONValue.parse(raw) } }.get()
        } catch {
            throw .damaged(path: path, problem: error.description)
        }
        guard document["clarm_sites"] == .number("1"), let items = document["sites"]?.array else {
            throw .damaged(path: path, problem: #"not a sites file: expected {"clarm_sites":1,"sites":[…]}"#)
        }
        guard items.count <= maxSites else { throw .damaged(path: path, problem: "\(items.count) sites, more than \(maxSites)") }
        var registrations: [SiteRegistration] = []
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            do throws(SiteRegistrationError) {
                let registration = try SiteRegistration.parse(item, zones: zones)
                guard seen.insert(registration.site).inserted else {
                    throw SiteRegistrationError("site \(registration.site) appears twice")
                }
                registrations.append(registration)
            } catch {
                throw .damaged(path: path, problem: "site \(index): \(error)")
            }
        }
        return registrations
    }
}
