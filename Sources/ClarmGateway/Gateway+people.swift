import ClarmEvents
import ClarmJSON
import ClarmQuery

/// `GET /api/people` and `GET /api/people/{email}` (docs/QUERIES.md, "People"), answered by `list`.
extension Gateway {
    static func personRoute(_ path: UnsafeRawBufferPointer) -> ListRoute? {
        if path.elementsEqual("/api/people".utf8) { return .people }
        let prefix = "/api/people/".utf8
        guard path.count > prefix.count, path.prefix(prefix.count).elementsEqual(prefix) else { return nil }
        return .person(URLParts.decode(path.dropFirst(prefix.count), plusIsSpace: false))
    }

    static func write(_ people: [Person], total: Int, _ json: inout JSONWriter) {
        json.raw(#"{"people":"#)
        json.array(people) { person, json in
            write(person, &json)
            json.raw("}")
        }
        json.raw(#","meta":{"total":"#)
        json.integer(total)
        json.raw("}}")
    }

    static func write(_ detail: PersonDetail, _ json: inout JSONWriter) {
        write(detail.person, &json)
        json.raw(#","timeline":"#)
        json.array(detail.timeline) { item, json in
            // A timeline event with the device it came from first.
            json.raw(#"{"visitor_id":"#)
            json.string(item.visitorID)
            json.raw(",")
            var event = JSONWriter(capacity: 256)
            write(item.event, &event)
            json.bytes.append(contentsOf: event.bytes.dropFirst())
        }
        json.raw("}")
    }

    /// Writes a person's members after an opening `{`, leaving the object open.
    static func write(_ person: Person, _ json: inout JSONWriter) {
        json.raw(#"{"email":"#)
        json.string(person.email)
        json.raw(#","identity":"#)
        write(person.identity, &json)
        json.raw(#","first_seen":"#)
        json.string(Timestamp.format(person.firstSeen))
        json.raw(#","last_seen":"#)
        json.string(Timestamp.format(person.lastSeen))
        json.raw(#","revenue":"#)
        write(person.revenue, &json)
        json.raw(#","devices":"#)
        json.array(person.devices) { device, json in
            write(device, &json)
            json.raw("}")
        }
    }
}
