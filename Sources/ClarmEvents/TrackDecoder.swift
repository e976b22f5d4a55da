import ClarmJSON

/// Turns a `POST /api/track` body into validated event records, reusing its buffers between bodies.
///
/// The body is one event object or an array of them. A body that is not JSON, or not of that shape, is
/// refused whole; an event that is JSON but breaks a field rule is rejected alone and the rest are kept.
public struct TrackDecoder {
    public static let maxBatch = 1000
    /// Default of `maxEventAgeDays` (`clarm serve --max-event-age`).
    public static let defaultMaxEventAgeDays = 30
    /// The most `maxEventAgeDays` may be: a century, far past any history worth importing.
    public static let maxEventAgeLimit = 36_500
    /// How far ahead of the server clock a timestamp may be.
    public static let maxFuture: Int64 = 3_600_000

    /// How old an event's timestamp may be, in days before the server clock. The window keeps every
    /// segment's time span (its zone maps, its retention) to real traffic: no year 1, no year 9999.
    public let maxEventAgeDays: Int

    private enum Slot {
        case absent
        case null
        case string(JSONString)
        case object(Range<Int>)
        case other
    }

    private var slots = [Slot](repeating: .absent, count: EventField.allCases.count)
    private var scratch: [UInt8] = []
    private var writer = EventRecordWriter()

    /// `maxEventAgeDays` is clamped to `1...maxEventAgeLimit`.
    public init(maxEventAgeDays: Int = Self.defaultMaxEventAgeDays) {
        self.maxEventAgeDays = min(max(maxEventAgeDays, 1), Self.maxEventAgeLimit)
        scratch.reserveCapacity(256)
    }

    /// Decodes `body` into `batch` (which it resets first); throws when the body as a whole is unusable.
    public mutating func decode(_ body: UnsafeRawBufferPointer, context: TrackRequestContext,
                                into batch: inout TrackBatch) throws(TrackBodyError) {
        batch.reset()
        var scanner = JSONScanner(body)
        do {
            switch try scanner.valueKind() {
            case .object:
                try decodeEvent(&scanner, index: 0, context: context, into: &batch)
            case .array:
                try scanner.enterArray()
                var first = true
                var index = 0
                while try scanner.nextElement(first: &first) {
                    if index == Self.maxBatch {
                        // Finish checking the syntax so that a broken body still reads as a JSON error.
                        try scanner.skipValue()
                        while try scanner.nextElement(first: &first) { try scanner.skipValue() }
                        try scanner.expectEnd()
                        throw TrackBodyError.tooManyEvents(limit: Self.maxBatch)
                    }
                    if try scanner.valueKind() == .object {
                        try decodeEvent(&scanner, index: index, context: context, into: &batch)
                    } else {
                        try scanner.skipValue()
                        batch.rejections.append((index, .notAnObject))
                    }
                    index += 1
                }
            default:
                try scanner.skipValue()
                try scanner.expectEnd()
                throw TrackBodyError.notEvents
            }
            try scanner.expectEnd()
        } catch let error as JSONError {
            throw .json(error)
        } catch let error as TrackBodyError {
            throw error
        } catch {
            fatalError("unreachable: \(error)")
        }
    }

    private mutating func decodeEvent(_ scanner: inout JSONScanner, index: Int, context: TrackRequestContext,
                                      into batch: inout TrackBatch) throws(JSONError) {
        for i in slots.indices { slots[i] = .absent }
        try scanner.enterObject()
        var first = true
        while let key = try scanner.nextMember(first: &first) {
            guard let field = fieldNamed(key, in: scanner.bytes) else {
                try scanner.skipValue()
                continue
            }
            // Later duplicates win, as in JavaScript's JSON.parse.
            switch try scanner.valueKind() {
            case .string:
                slots[field.rawValue] = .string(try scanner.string())
            case .null:
                try scanner.literal("null")
                slots[field.rawValue] = .null
            case .object:
                scanner.skipWhitespace()
                let start = scanner.position
                try scanner.skipValue()
                slots[field.rawValue] = .object(start..<scanner.position)
            default:
                try scanner.skipValue()
                slots[field.rawValue] = .other
            }
        }
        if let rejection = encode(scanner.bytes, context: context, into: &batch.records) {
            batch.rejections.append((index, rejection))
        } else {
            batch.acceptedCount += 1
        }
    }

    private mutating func fieldNamed(_ key: JSONString, in body: UnsafeRawBufferPointer) -> EventField? {
        guard key.hasEscapes else { return EventField.named(UnsafeRawBufferPointer(rebasing: body[key.range])) }
        scratch.removeAll(keepingCapacity: true)
        JSONUnescaper.unescape(UnsafeRawBufferPointer(rebasing: body[key.range]), appendingTo: &scratch)
        return scratch.withUnsafeBytes { EventField.named($0) }
    }

    /// Validates the collected fields and appends the record; on a rule broken, appends nothing and says why.
    private mutating func encode(_ body: UnsafeRawBufferPointer, context: TrackRequestContext,
                                 into out: inout [UInt8]) -> EventRejection? {
        // Times first: they are checked before any bytes are written.
        var timestamp = context.receivedAt
        switch timeValue(.timestamp, body) {
        case .failure(let rejection): return rejection
        case .success(let value): if let value { timestamp = value }
        }
        switch timeValue(.sentAt, body) {
        case .failure(let rejection): return rejection
        case .success(let sentAt):
            // The client's clock is off by (receivedAt − sentAt); shift its timestamp by as much. A skew
            // larger than the event-age window is no clock error: it is ignored, and the window (below)
            // judges the timestamp as sent, so no correction can carry an instant out of years 0000–9999.
            if let sentAt, case .string = slots[EventField.timestamp.rawValue],
               abs(context.receivedAt - sentAt) <= Int64(maxEventAgeDays) * 86_400_000 {
                timestamp += context.receivedAt - sentAt
            }
        }
        if timestamp < context.receivedAt - Int64(maxEventAgeDays) * 86_400_000 {
            return .timestampTooOld(maxAgeDays: maxEventAgeDays)
        }
        if timestamp > context.receivedAt + Self.maxFuture { return .timestampInFuture }

        writer.begin(&out)
        var urlBytes = 0..<0
        for field in EventRecord.stringFields {
            let start = writer.beginString(&out)
            switch slots[field.rawValue] {
            case .absent, .null:
                if field == .event || field == .visitorID {
                    writer.abort(&out)
                    return .missing(field)
                }
                if field == .userAgent {
                    out.append(contentsOf: context.userAgent.prefix(field.maxLength))
                } else if field == .site {
                    // Default: the host of the URL written just before.
                    let host = out.withUnsafeBytes { URLHost.find(in: UnsafeRawBufferPointer(rebasing: $0[urlBytes])) }
                    guard let host else {
                        writer.abort(&out)
                        return .noSite
                    }
                    guard host.count <= field.maxLength else {
                        writer.abort(&out)
                        return .tooLong(field)
                    }
                    for i in host { out.append(out[urlBytes.lowerBound + i]) }
                    Self.lowercaseASCII(&out, from: start)
                }
            case .string(let string):
                guard field != .properties else {
                    writer.abort(&out)
                    return .notAnObjectField(field)
                }
                let raw = UnsafeRawBufferPointer(rebasing: body[string.range])
                if string.hasEscapes {
                    JSONUnescaper.unescape(raw, appendingTo: &out)
                } else {
                    out.append(contentsOf: raw)
                }
                let count = out.count - start
                if count > field.maxLength {
                    writer.abort(&out)
                    return .tooLong(field)
                }
                if count == 0 && (field == .event || field == .visitorID || field == .site) {
                    writer.abort(&out)
                    return .empty(field)
                }
                if field == .site { Self.lowercaseASCII(&out, from: start) }
            case .object(let range):
                guard field == .properties else {
                    writer.abort(&out)
                    return .notAString(field)
                }
                guard range.count <= field.maxLength else {
                    writer.abort(&out)
                    return .tooLong(field)
                }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[range]))
            case .other:
                writer.abort(&out)
                return field == .properties ? .notAnObjectField(field) : .notAString(field)
            }
            writer.endString(&out, bytesStart: start)
            if field == .url { urlBytes = start..<out.count }
        }
        URLScrubber.scrubRecord(&out, from: writer.start, keeping: context.keptParameters)
        writer.appendStrings(&out, [context.location.country, context.location.region, context.location.city])
        writer.finish(&out, timestamp: timestamp, receivedAt: context.receivedAt)
        return nil
    }

    private mutating func timeValue(_ field: EventField, _ body: UnsafeRawBufferPointer) -> Result<Int64?, EventRejection> {
        switch slots[field.rawValue] {
        case .absent, .null:
            return .success(nil)
        case .string(let string):
            let raw = UnsafeRawBufferPointer(rebasing: body[string.range])
            let parsed: Int64?
            if string.hasEscapes {
                scratch.removeAll(keepingCapacity: true)
                JSONUnescaper.unescape(raw, appendingTo: &scratch)
                parsed = scratch.withUnsafeBytes { Timestamp.parse($0) }
            } else {
                parsed = Timestamp.parse(raw)
            }
            guard let parsed else { return .failure(.badTimestamp(field)) }
            return .success(parsed)
        case .object, .other:
            return .failure(.badTimestamp(field))
        }
    }

    private static func lowercaseASCII(_ out: inout [UInt8], from start: Int) {
        for i in start..<out.count where out[i] &- 0x41 < 26 { out[i] |= 0x20 }
    }
}
