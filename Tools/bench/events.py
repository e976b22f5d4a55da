#!/usr/bin/env python3
"""Deterministic, realistic tracking traffic as NDJSON: visitors with sessions of page views over typical
URLs (some with UTM parameters), referrers and user agents; widget opens and messages, CTA clicks,
identify, purchases in several currencies and goals, in plausible proportions, over a span of days.

With --geo, every event also carries `client_ip` (an address of Tools/bench/geoip-networks.json, whose test
database locates it) and the `country` that database gives it: post.py --forwarded-for sends each from its
address, and the query benchmark checks Clarm's countries against DuckDB's reading of `country`. Visitors come in
blocks of 100 from one address (a country drawn by the networks' weights), so posting stays a few requests per
batch; a separate random stream picks them, so the events are otherwise the same with or without --geo.

Usage: events.py --events N [--seed S] [--days D] [--site shop.example.com] [--geo] > events.ndjson
"""
import argparse
import json
import pathlib
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone

PAGES = ["/", "/pricing", "/features", "/blog", "/blog/how-we-scaled-ingest", "/blog/ten-tips-for-onboarding",
         "/docs", "/docs/getting-started", "/docs/api/track", "/about", "/contact", "/careers", "/integrations",
         "/integrations/hubspot", "/integrations/slack", "/customers", "/security", "/changelog", "/login", "/signup",
         "/checkout", "/checkout/payment", "/billing", "/thank-you", "/products/starter", "/products/pro",
         "/products/enterprise", "/compare/clarm-vs-ga4", "/webinars/ingest-at-scale", "/legal/privacy"]
REFERRERS = ["", "", "", "https://www.google.com/", "https://www.google.com/", "https://www.bing.com/",
             "https://duckduckgo.com/", "https://news.ycombinator.com/", "https://www.linkedin.com/feed/",
             "https://t.co/abc123", "https://www.reddit.com/r/analytics/", "https://github.com/"]
UTM = [None, None, None, None, ("newsletter", "email", "nov-launch"), ("google", "cpc", "brand"),
       ("linkedin", "social", "webinar"), ("partner", "referral", "hubspot-app")]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
]
MESSAGES = ["Hi, do you have a free trial?", "How does pricing work for teams?", "Can I export my data?",
            "Is there a HubSpot integration?", "I need help with the install snippet", "Talk to sales"]
CTAS = ["hero-start-trial", "pricing-pro", "book-demo", "footer-signup", "widget-book-call"]
CURRENCIES = [("USD", [29.0, 99.0, 499.0]), ("EUR", [27.0, 89.0, 449.0]), ("GBP", [24.0, 79.0, 399.0])]


NETWORKS = pathlib.Path(__file__).resolve().parent / "geoip-networks.json"
VISITORS_PER_ADDRESS = 100


def places(seed):
    """Per block of visitors: (client address, country), drawn by the networks' weights."""
    networks = json.loads(NETWORKS.read_text(encoding="utf-8"))["networks"]
    rng = random.Random(seed * 7919 + 1)
    while True:
        network = rng.choices(networks, weights=[n["weight"] for n in networks])[0]
        prefix = network["network"].split(".")[:2]
        yield "%s.%s.%d.%d" % (prefix[0], prefix[1], rng.randrange(256), rng.randrange(1, 255)), network["country"]


def generate(count, seed, days, site, start, geo=False):
    rng = random.Random(seed)
    located = places(seed) if geo else None
    place = None
    emitted = 0
    visitors = 0
    span = days * 86400
    while emitted < count:
        if located and visitors % VISITORS_PER_ADDRESS == 0:
            place = next(located)
        visitors += 1
        visitor = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        agent = rng.choice(AGENTS)
        t = start + timedelta(seconds=rng.uniform(0, span))
        identified = False
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 5])):
            session = "%016x" % rng.getrandbits(64)
            utm = rng.choice(UTM)
            referrer = rng.choice(REFERRERS)
            for step in range(rng.choice([1, 1, 2, 3, 4, 6, 8])):
                page = rng.choice(PAGES)
                url = "https://%s%s" % (site, page)
                if step == 0 and utm:
                    url += "?utm_source=%s&utm_medium=%s&utm_campaign=%s" % utm
                events = [("page_view", {})]
                roll = rng.random()
                if roll < 0.06:
                    events.append(("widget_open", {}))
                    events.append(("widget_message", {"text": rng.choice(MESSAGES)}))
                elif roll < 0.10:
                    events.append(("click", {"element": rng.choice(CTAS), "page": page}))
                elif roll < 0.12 and not identified:
                    identified = True
                    n = rng.getrandbits(20)
                    events.append(("identify", {"email": "user%d@example.com" % n, "name": "User %d" % n,
                                                "company": rng.choice(["Acme", "Globex", "Initech", "Umbrella"]),
                                                "plan": rng.choice(["starter", "pro", "enterprise"])}))
                elif roll < 0.135:
                    currency, prices = rng.choice(CURRENCIES)
                    plan = rng.randrange(3)
                    events.append(("purchase", {"amount": prices[plan], "currency": currency,
                                                "plan": ["starter", "pro", "enterprise"][plan],
                                                "orderId": "ord_%010d" % rng.getrandbits(32)}))
                elif roll < 0.15:
                    events.append(("goal_achieved", {"goal": rng.choice(["signup", "demo_booked", "newsletter"]),
                                                      "value": rng.choice([1, 5, 10])}))
                for name, props in events:
                    event = {"event": name, "visitor_id": visitor, "session_id": session,
                             "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000),
                             "url": url, "referrer": referrer if step == 0 else "https://%s/" % site,
                             "user_agent": agent, "event_id": "%016x" % rng.getrandbits(64), "site": site}
                    if props:
                        event["properties"] = props
                    if place:
                        event["client_ip"], event["country"] = place
                    yield event
                    emitted += 1
                    if emitted >= count:
                        return
                    t += timedelta(seconds=rng.uniform(1, 90))
            t += timedelta(hours=rng.uniform(1, 72))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--site", default="shop.example.com")
    parser.add_argument("--geo", action="store_true", help="give each event a client address and its country")
    args = parser.parse_args()
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    out = sys.stdout
    for event in generate(args.events, args.seed, args.days, args.site, start, args.geo):
        out.write(json.dumps(event, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
