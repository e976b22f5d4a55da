import ClarmEvents
import ClarmHTTP
import ClarmJSON
import ClarmQuery
import ClarmServer
import ClarmSystem

/// `GET /api/visitors`, `GET /api/visitors/{id}` and `GET /api/conversions` (docs/QUERIES.md).
extension Gateway {
    enum ListRoute { case visitors, visitor(String), conversions, people, person(String) }

    func list(_ route: ListRoute, _ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard authorized(request, &response) else { return }
        let parameters = Self.parameters(request.query)
        guard let site = parameters["site"]?.lowercased(), !site.isEmpty else {
            sendError(.badRequest, "site: required, as ?site=shop.example.com", request, &response)
            return
        }
        let range: (Int64, Int64)
        let limit: Int, offset: Int
        do throws(QueryError) {
            let text = parameters["date_range"] ?? "30d"
            let value: JSONValue = text.contains(",")
                ? .array(text.split(separator: ",", omittingEmptySubsequences: false).map { .string(String($0)) })
                : .string(text)
            range = try Query.parseRange(value, now: wallClockMilliseconds(), zone: listZone(parameters, site: site))
            limit = try Self.integer(parameters["limit"], field: "limit", default: 50, range: 1...1000)
            offset = try Self.integer(parameters["offset"], field: "offset", default: 0, range: 0...Int(Int32.max))
        } catch {
            sendError(.badRequest, error.description, request, &response)
            return
        }
        respondLater(request, &response) { engine, _ throws(QueryError) in
            var json = JSONWriter(capacity: 8192)
            switch route {
            case .visitors:
                let (rows, total) = try engine.visitors(site: site, from: range.0, to: range.1, search: parameters["search"],
                                                        limit: limit, offset: offset)
                json.raw(#"{"visitors":"#)
                json.array(rows) { row, json in
                    Self.write(row, &json)
                    json.raw("}")
                }
                json.raw(#","meta":{"total":"#)
                json.integer(total)
                json.raw("}}")
            case .visitor(let id):
                guard let detail = try engine.visitor(site: site, id: id) else {
                    return (.notFound, Self.errorBody("no events of this visitor on this site"))
                }
                Self.write(detail.summary, &json)
                json.raw(#","timeline":"#)
                json.array(detail.timeline) { event, json in Self.write(event, &json) }
                json.raw("}")
            case .conversions:
                let (rows, total) = try engine.conversions(site: site, from: range.0, to: range.1, limit: limit, offset: offset)
                json.raw(#"{"conversions":"#)
                json.array(rows) { row, json in Self.write(row, &json) }
                json.raw(#","meta":{"total":"#)
                json.integer(total)
                json.raw("}}")
            case .people:
                let (rows, total) = try engine.people(site: site, from: range.0, to: range.1, search: parameters["search"],
                                                      limit: limit, offset: offset)
                Self.write(rows, total: total, &json)
            case .person(let email):
                guard let detail = try engine.person(site: site, email: email) else {
                    return (.notFound, Self.errorBody("no visitor of this site identified with this email"))
                }
                Self.write(detail, &json)
            }
            return (.ok, json.bytes)
        }
    }

    /// Decoded `name=value` pairs of a query string; a repeated name keeps its last value.
    static func parameters(_ query: UnsafeRawBufferPointer?) -> [String: String] {
        guard let query else { return [:] }
        var result: [String: String] = [:]
        for pair in query.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            result[URLParts.decode(parts[0])] = parts.count > 1 ? URLParts.decode(parts[1]) : ""
        }
        return result
    }

    static func integer(_ text: String?, field: String, default fallback: Int, range: ClosedRange<Int>) throws(QueryError) -> Int {
        guard let text else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw QueryError(field: field, problem: "must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// Writes a visitor summary's members after an opening `{`, leaving the object open.
    static func write(_ visitor: VisitorSummary, _ json: inout JSONWriter) {
        json.raw(#"{"visitor_id":"#)
        json.string(visitor.visitorID)
        json.raw(#","identity":"#)
        write(visitor.identity, &json)
        json.raw(#","first_seen":"#)
        json.string(Timestamp.format(visitor.firstSeen))
        json.raw(#","last_seen":"#)
        json.string(Timestamp.format(visitor.lastSeen))
        json.raw(#","visits":"#)
        json.integer(visitor.visits)
        json.raw(#","events":"#)
        json.integer(visitor.events)
        json.raw(#","revenue":"#)
        write(visitor.revenue, &json)
    }

    static func write(_ traits: [String: String], _ json: inout JSONWriter) {
        writeObject(traits, &json) { value, json in json.string(value) }
    }

    /// Money per currency, rounded to cents.
    static func write(_ sums: [String: Double], _ json: inout JSONWriter) {
        writeObject(sums, &json) { value, json in json.number((value * 100).rounded() / 100) }
    }

    /// An object with the dictionary's keys in order, so answers are stable.
    static func writeObject<Value>(_ members: [String: Value], _ json: inout JSONWriter,
                                   _ value: (Value, inout JSONWriter) -> Void) {
        json.raw("{")
        for (i, key) in members.keys.sorted().enumerated() {
            if i > 0 { json.raw(",") }
            json.string(key)
            json.raw(":")
            value(members[key]!, &json)
        }
        json.raw("}")
    }

    static func write(_ event: TimelineEvent, _ json: inout JSONWriter) {
        json.raw(#"{"time":"#)
        json.string(Timestamp.format(event.time))
        json.raw(#","event":"#)
        json.string(event.event)
        json.raw(#","session_id":"#)
        json.string(event.sessionID)
        json.raw(#","page":"#)
        json.string(event.page)
        json.raw(#","url":"#)
        json.string(event.url)
        json.raw(#","referrer":"#)
        json.string(event.referrer)
        json.raw(#","user_agent":"#)
        json.string(event.userAgent)
        json.raw(#","country":"#)
        json.string(event.country)
        json.raw(#","region":"#)
        json.string(event.region)
        json.raw(#","city":"#)
        json.string(event.city)
        // Stored properties are a validated JSON object: they go out as they came in.
        json.raw(#","properties":"#)
        json.bytes.append(contentsOf: event.properties.utf8)
        json.raw("}")
    }

    static func write(_ touch: Touch, _ json: inout JSONWriter) {
        json.raw(#"{"source":"#)
        json.string(touch.source)
        json.raw(#","landing_page":"#)
        json.string(touch.landingPage)
        json.raw(#","time":"#)
        json.string(Timestamp.format(touch.time))
        json.raw(#","channel":"#)
        json.string(touch.channel)
        json.raw("}")
    }

    static func write(_ conversion: Conversion, _ json: inout JSONWriter) {
        json.raw(#"{"time":"#)
        json.string(Timestamp.format(conversion.time))
        json.raw(#","kind":"#)
        json.string(conversion.kind)
        json.raw(#","visitor_id":"#)
        json.string(conversion.visitorID)
        json.raw(#","identity":"#)
        write(conversion.identity, &json)
        json.raw(#","properties":"#)
        json.bytes.append(contentsOf: conversion.properties.utf8)
        if let amount = conversion.amount, let value = Double(amount) {
            json.raw(#","amount":"#)
            json.number(value)
            json.raw(#","currency":"#)
            json.string(conversion.currency ?? "unknown")
        }
        json.raw(#","first_touch":"#)
        write(conversion.firstTouch, &json)
        json.raw(#","last_touch":"#)
        write(conversion.lastTouch, &json)
        json.raw(#","preceding":{"pages_viewed":"#)
        json.integer(conversion.pagesViewed)
        json.raw(#","widget_opens":"#)
        json.integer(conversion.widgetOpens)
        json.raw(#","widget_messages":"#)
        json.integer(conversion.widgetMessages)
        json.raw(#","cta_clicks":"#)
        json.integer(conversion.ctaClicks)
        json.raw(#","last_events":"#)
        json.array(conversion.preceding) { event, json in write(event, &json) }
        json.raw(#"},"seconds_to_convert":"#)
        json.number(Double(conversion.millisecondsToConvert) / 1000)
        json.raw("}")
    }
}
