#!/usr/bin/env python3
"""Writes the seed corpora of the text targets (http, json, track) into Fuzz/Corpus/<target>/.

Real requests and event batches as the loader and curl send them, plus edge cases the parsers treat
specially. Run from the repository root; the files it writes are committed.
"""
import json
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "Corpus")

EVENT = {
    "event": "page_view", "visitor_id": "v-123", "session_id": "s-1",
    "timestamp": "2026-11-05T08:19:19.685Z", "url": "https://shop.example.com/pricing?plan=pro#top",
    "referrer": "https://www.google.com/", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "properties": {"plan": "pro"}, "event_id": "e-1", "sent_at": "2026-11-05T08:19:20Z",
}
PURCHASE = {"event": "purchase", "visitor_id": "v-9", "url": "https://Shop.Example.com/checkout/success",
            "properties": {"amount": 49.5, "currency": "EUR", "orderId": "o-1", "nested": {"a": [1, 2.5e3, None, True]}}}

TRACK = {
    "single": json.dumps(EVENT),
    "batch": json.dumps([EVENT, PURCHASE, {"event": "click", "visitor_id": "v-1", "site": "Example.ORG",
                                            "properties": {"element": "cta"}}]),
    "rejections": json.dumps([{"event": "x"}, 7, {"event": "", "visitor_id": "v"},
                              {"event": "e", "visitor_id": "v", "url": "/relative"},
                              {"event": "e", "visitor_id": "v", "properties": "text", "site": "s"},
                              {"event": "e", "visitor_id": "v", "site": "s", "timestamp": "2026-13-01T00:00:00Z"}]),
    "escapes": '{"ev\\u0065nt":"caf\\u00e9 \\ud83d\\ude00","visitor_id":"v\\n1","site":"\\u0053ITE","event":null,"event":"last wins"}',
    "offsets": '{"event":"e","visitor_id":"v","site":"s","timestamp":"2026-11-05T10:19:19.685+02:00","sent_at":"2026-11-05T08:19:19Z"}',
    "not-events": '"just a string"',
    "empty-array": "[]",
}

JSON = {
    "object": '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}',
    "numbers": '[0, -0, 1.5, -12.25e+3, 1E-7, 123456789, 0.000001]',
    "strings": '["", "plain", "\\"\\\\\\/\\b\\f\\n\\r\\t", "\\u0041\\u00e9\\u20ac", "\\ud83d\\ude00", "caf\u00e9 \u20ac \U0001F600"]',
    "whitespace": ' \t\r\n{ "k" : [ 1 , 2 ] } \n',
    "deep": "[" * 64 + "]" * 64,
    "too-deep": "[" * 65 + "]" * 65,
    "scalar": "42",
    "event": json.dumps(EVENT),
}

TRACK_BODY = b'{"event":"a","visitor_id":"v","url":"https://a.example/"}'

def request(head, body=b""):
    return head.replace("\n", "\r\n").encode() + body

HTTP = {
    "track": request("POST /api/track HTTP/1.1\nHost: gateway.example.com\nContent-Type: text/plain\n"
                     f"Origin: https://shop.example.com\nUser-Agent: Mozilla/5.0\nContent-Length: {len(TRACK_BODY)}\n\n",
                     TRACK_BODY),
    "get": request("GET /api/visitors?site=shop.example.com&date_range=30d HTTP/1.1\nHost: a\n"
                   "Authorization: Bearer k\nConnection: keep-alive\nAccept: */*\n\n"),
    "chunked": request("POST /api/track HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n",
                       b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"),
    "http10": request("GET / HTTP/1.0\nConnection: keep-alive\n\n"),
    "options": request("OPTIONS * HTTP/1.1\nHost: a\nAccess-Control-Request-Method: POST\n\n"),
    "absolute": request("GET http://user@example.com:8080/p?q HTTP/1.1\nHost: example.com\nExpect: 100-continue\n\n"),
    "leading-lines": request("\n\nHEAD /healthz HTTP/1.1\nHost: a\nX-Empty:\nX-Spaces: \t v \t \n\n"),
    "pipelined": request("GET /a HTTP/1.1\nHost: a\n\nGET /b HTTP/1.1\nHost: a\n\n"),
}

def write(target, seeds):
    directory = os.path.join(ROOT, target)
    os.makedirs(directory, exist_ok=True)
    for name, content in seeds.items():
        data = content if isinstance(content, bytes) else content.encode()
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)

write("track", TRACK)
write("json", JSON)
write("http", HTTP)
