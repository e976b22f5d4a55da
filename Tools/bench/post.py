#!/usr/bin/env python3
"""Posts an NDJSON file of events to a Clarm gateway in batches over one keep-alive connection.
With --forwarded-for, events that carry `client_ip` (events.py --geo) are sent from that address: a batch is cut
where the address changes and each part carries it in X-Forwarded-For (the gateway trusts its loopback peer).
Usage: post.py FILE [--url http://127.0.0.1:8080/api/track] [--batch 500] [--forwarded-for]. A 503 with Retry-After is sent again after it; fails on any other non-202."""
import argparse
import http.client
import json
import re
import sys
import time
from urllib.parse import urlparse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--url", default="http://127.0.0.1:8080/api/track")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--forwarded-for", action="store_true", help="send each event from its client_ip")
    args = parser.parse_args()
    address = re.compile(r'"client_ip":"([^"]*)"')
    target = urlparse(args.url)
    connection = http.client.HTTPConnection(target.hostname, target.port or 80)
    accepted = duplicates = 0

    def send(lines, client=None):
        nonlocal accepted, duplicates
        body = ("[" + ",".join(lines) + "]").encode()
        headers = {"Content-Type": "application/json"}
        if client:
            headers["X-Forwarded-For"] = client
        while True:
            connection.request("POST", target.path, body, headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            # The gateway's backpressure (seals behind, memory limit): nothing of the request was taken, so it is
            # sent again once the gateway says to.
            if response.status != 503 or "Retry-After" not in response.headers:
                break
            time.sleep(int(response.headers["Retry-After"]))
        if response.status != 202 or answer["rejected"]:
            sys.exit("unexpected answer %d: %s" % (response.status, answer))
        accepted += answer["accepted"]
        duplicates += answer["duplicates"]

    batch, client = [], None
    with open(args.file) as f:
        for line in f:
            line = line.strip()
            if args.forwarded_for:
                found = address.search(line)
                this = found.group(1) if found else None
                if batch and this != client:
                    send(batch, client)
                    batch = []
                client = this
            batch.append(line)
            if len(batch) == args.batch:
                send(batch, client)
                batch = []
    if batch:
        send(batch, client)
    print("accepted %d duplicates %d" % (accepted, duplicates))


if __name__ == "__main__":
    main()
