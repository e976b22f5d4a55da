#!/usr/bin/env python3
"""Posts events with 30 KiB properties to a Clarm gateway as fast as it takes them, from several processes
over keep-alive connections, for a given time. Prints counts of 202 and 503 answers and the bytes sent.
Usage: memory.py PORT SECONDS [PROCESSES]"""
import http.client
import multiprocessing
import sys
import time

BATCH = 25  # 25 events of 30 KiB: about 750 KiB per request, under the 1 MiB body limit


def worker(port, seconds, worker_id, results):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    blob = "x" * (30 * 1024 - 20)
    statuses = {}
    sent = 0
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events = []
        for _ in range(BATCH):
            n += 1
            events.append('{"event":"page_view","visitor_id":"v-%d-%d","event_id":"m-%d-%d",'
                          '"url":"https://memory.example.com/p","properties":{"blob":"%s-%d"}}'
                          % (worker_id, n % 997, worker_id, n, blob, n))
        body = ("[" + ",".join(events) + "]").encode()
        connection.request("POST", "/api/track", body, {"Content-Type": "text/plain"})
        response = connection.getresponse()
        response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
        sent += len(body)
        if response.status == 503:
            time.sleep(0.05)
    results.put((statuses, sent))


def main():
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    processes = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=worker, args=(port, seconds, i, results)) for i in range(processes)]
    for w in workers:
        w.start()
    statuses, sent = {}, 0
    for _ in workers:
        s, b = results.get()
        sent += b
        for k, v in s.items():
            statuses[k] = statuses.get(k, 0) + v
    for w in workers:
        w.join()
    print("requests by status %s; %.0f MiB posted" % (dict(sorted(statuses.items())), sent / 2**20))


if __name__ == "__main__":
    main()
