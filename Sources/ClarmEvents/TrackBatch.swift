import ClarmJSON

/// Why a tracking body was refused as a whole (answered 400 or 413).
public enum TrackBodyError: Error, Sendable, Equatable, CustomStringConvertible {
    case json(JSONError)
    case notEvents
    case tooManyEvents(limit: Int)

    public var description: String {
        switch self {
        case .json(let error): error.description
        case .notEvents: "body must be an event object or an array of event objects"
        case .tooManyEvents(let limit): "a batch holds at most \(limit) events"
        }
    }
}

/// The outcome of decoding one tracking body: the accepted events as encoded records, and the rejected ones.
public struct TrackBatch: Sendable {
    /// Accepted events in `EventRecord`'s layout, back to back, in request order.
    public internal(set) var records: [UInt8] = []
    public internal(set) var acceptedCount = 0
    public internal(set) var rejections: [(index: Int, reason: EventRejection)] = []

    public init() {
        records.reserveCapacity(4096)
    }

    public mutating func reset() {
        records.removeAll(keepingCapacity: true)
        acceptedCount = 0
        rejections.removeAll(keepingCapacity: true)
    }
}

/// What the decoder needs to know about the request that carried a body.
public struct TrackRequestContext {
    /// Server clock when the request arrived, in UTC milliseconds.
    public var receivedAt: Int64
    /// The request's User-Agent, used for events without `user_agent`.
    public var userAgent: UnsafeRawBufferPointer
    /// The sensitive URL parameters each site keeps; nil: none kept.
    public var keptParameters: (any KeptParameterLookup)?
    /// Where the request's client was located; every event of the request gets it.
    public var location: EventLocation

    public init(receivedAt: Int64, userAgent: UnsafeRawBufferPointer, keptParameters: (any KeptParameterLookup)? = nil,
                location: EventLocation = .unknown) {
        self.receivedAt = receivedAt
        self.userAgent = userAgent
        self.keptParameters = keptParameters
        self.location = location
    }
}
