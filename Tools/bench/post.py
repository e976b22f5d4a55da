#!/usr/bin/env python3
"""Posts an NDJSON file of events to a Clarm gateway in batches over one keep-alive connection.
Usage: post.py FILE [--url http://127.0.0.1:8080/api/track] [--batch 500]. Fails on any non-202."""
import argparse
import http.client
import json
import sys
from urllib.parse import urlparse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--url", default="http://127.0.0.1:8080/api/track")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    target = urlparse(args.url)
    connection = http.client.HTTPConnection(target.hostname, target.port or 80)
    accepted = duplicates = 0

    def send(lines):
        nonlocal accepted, duplicates
        body = ("[" + ",".join(lines) + "]").encode()
        connection.request("POST", target.path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 202 or answer["rejected"]:
            sys.exit("unexpected answer %d: %s" % (response.status, answer))
        accepted += answer["accepted"]
        duplicates += answer["duplicates"]

    batch = []
    with open(args.file) as f:
        for line in f:
            batch.append(line.strip())
            if len(batch) == args.batch:
                send(batch)
                batch = []
    if batch:
        send(batch)
    print("accepted %d duplicates %d" % (accepted, duplicates))


if __name__ == "__main__":
    main()
