import ClarmEvents
import ClarmFuzzSupport
import ClarmJSON

/// libFuzzer entry: the `/api/track` body decoder over arbitrary bodies, checked against `JSONValue`.
///
/// - the body is refused as JSON exactly when `JSONScanner.validate` refuses it, with the same error;
/// - otherwise every element is either accepted or rejected (in order), the records are well formed, each
///   round-trips through `EventRecordView` and `EventRecord.append`, keeps every field rule, and holds the
///   last value of each field that `JSONValue.parse` reads from the same element.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrack(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    var decoder = TrackDecoder()
    var batch = TrackBatch()
    var refused: TrackBodyError? = nil
    FuzzTrack.userAgent.withUnsafeBytes { userAgent in
        let context = TrackRequestContext(receivedAt: FuzzTrack.receivedAt, userAgent: userAgent)
        do throws(TrackBodyError) { try decoder.decode(input, context: context, into: &batch) } catch { refused = error }
    }
    let document: JSONValue
    do throws(JSONError) {
        document = try JSONValue.parse(input)
    } catch {
        fuzzCheck(refused == .json(error), "JSONValue says \(error), the decoder \(String(describing: refused))")
        return 0
    }
    let elements: [JSONValue]
    switch document {
    case .object: elements = [document]
    case .array(let array): elements = array
    default:
        fuzzCheck(refused == .notEvents, "a \(document) body gave \(String(describing: refused))")
        return 0
    }
    if elements.count > TrackDecoder.maxBatch {
        fuzzCheck(refused == .tooManyEvents(limit: TrackDecoder.maxBatch), "\(elements.count) events gave \(String(describing: refused))")
        return 0
    }
    fuzzCheck(refused == nil, "a valid body refused: \(String(describing: refused))")

    var records: [EventRecord] = []
    let complete = batch.records.withUnsafeBytes { raw in
        EventRecordView.forEach(in: raw) { view in
            var again: [UInt8] = []
            view.record.append(to: &again)
            fuzzCheck(again.elementsEqual(view.bytes), "a record does not round-trip")
            records.append(view.record)
        }
    }
    fuzzCheck(complete && records.count == batch.acceptedCount, "records malformed or miscounted")
    fuzzCheck(batch.acceptedCount + batch.rejections.count == elements.count, "elements lost")
    let rejected = batch.rejections.map(\.index)
    fuzzCheck(rejected == rejected.sorted() && Set(rejected).count == rejected.count, "rejections out of order: \(rejected)")
    var next = records.makeIterator()
    for (index, element) in elements.enumerated() where !rejected.contains(index) {
        FuzzTrack.check(next.next()!, against: element)
    }
    return 0
}

enum FuzzTrack {
    static let receivedAt: Int64 = 1_764_000_000_000
    static let userAgent: [UInt8] = Array("FuzzAgent/1.0".utf8)

    static func check(_ record: EventRecord, against element: JSONValue) {
        fuzzCheck(record.receivedAt == receivedAt, "received_at \(record.receivedAt)")
        let fields: [(EventField, String)] = [
            (.event, record.event), (.visitorID, record.visitorID), (.sessionID, record.sessionID),
            (.eventID, record.eventID), (.url, record.url), (.referrer, record.referrer),
            (.userAgent, record.userAgent), (.site, record.site),
        ]
        for (field, value) in fields {
            fuzzCheck(value.utf8.count <= field.maxLength, "\(field.name) of \(value.utf8.count) bytes")
            switch element["\(field.name)"] {
            case .string(let sent)?:
                if field == .url || field == .referrer {
                    // Sensitive query and fragment parameters are scrubbed (URLScrubber): what comes before the
                    // first `?` or `#` stays byte for byte, and nothing is added.
                    let base = { (text: String) in text.utf8.prefix { $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") } }
                    fuzzCheck(value == sent || (value.utf8.count <= sent.utf8.count && base(value).elementsEqual(base(sent))),
                              "\(field.name) is \(value.debugDescription), sent \(sent.debugDescription)")
                    continue
                }
                let expected = field == .site ? String(decoding: sent.utf8.map { $0 &- 0x41 < 26 ? $0 | 0x20 : $0 }, as: UTF8.self) : sent
                fuzzCheck(value == expected, "\(field.name) is \(value.debugDescription), sent \(sent.debugDescription)")
            case nil, .null?:
                switch field {
                case .event, .visitorID: fuzzCheck(false, "\(field.name) accepted although absent")
                case .userAgent: fuzzCheck(value.utf8.elementsEqual(userAgent), "default user_agent \(value.debugDescription)")
                case .site: fuzzCheck(!value.isEmpty && !value.utf8.contains { $0 &- 0x41 < 26 }, "default site \(value.debugDescription)")
                default: fuzzCheck(value.isEmpty, "absent \(field.name) is \(value.debugDescription)")
                }
            default:
                fuzzCheck(false, "\(field.name) accepted although not a string")
            }
        }
        fuzzCheck(!record.event.isEmpty && !record.visitorID.isEmpty && !record.site.isEmpty, "an empty required field")
        let properties = element["properties"]
        if case .object? = properties {
            let stored = Array(record.properties.utf8).withUnsafeBytes { try? JSONValue.parse($0) }
            fuzzCheck(stored == properties && record.properties.utf8.count <= EventField.properties.maxLength,
                      "properties stored as \(record.properties.debugDescription)")
        } else {
            fuzzCheck(record.properties.isEmpty && (properties == nil || properties == .null), "properties \(String(describing: properties))")
        }
    }
}
