"""Ingest with no destination, then with three webhook destinations (batch 100) taking every event (or, with
an argument, events of another site only: the feed is read and acknowledged, nothing is sent), against a local
receiver; 5 s of clarm-load per run, two rounds:  python3 Tools/bench/ingest-destinations.py [SITE]"""
import http.server, json, os, pathlib, signal, subprocess, sys, tempfile, threading, urllib.request
CONFIGURATION = os.environ.get("CONFIGURATION", "debug")
ROOT = pathlib.Path(__file__).resolve().parents[2]
CLARM = str(ROOT / ".build" / CONFIGURATION / "clarm")
LOAD = str(ROOT / ".build" / CONFIGURATION / "clarm-load")
SITE = sys.argv[1] if len(sys.argv) > 1 else "load-1.example.com"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=server.serve_forever, daemon=True).start()
def run(destinations):
    with tempfile.TemporaryDirectory() as data:
        p = subprocess.Popen([CLARM, "serve", "--port", "0", "--data", data, "--loops", "1", "--shards", "2",
                              "--allow-private-destinations", "--rate-limit-per-ip", "0", "--keep-bots"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        url = "http://127.0.0.1:" + p.stdout.readline().decode().rsplit(":", 1)[1].strip()
        for _ in range(destinations):
            req = urllib.request.Request(url + "/api/destinations", method="POST", data=json.dumps({
                "type": "webhook", "site": SITE, "events": ["*"],
                "url": "http://127.0.0.1:%d/" % server.server_address[1], "batch": 100}).encode())
            urllib.request.urlopen(req).read()
        out = subprocess.run([LOAD, "--url", url, "--threads", "1", "--connections", "16", "--duration", "5",
                              "--batch", "10", "--json"], capture_output=True, text=True).stdout
        p.send_signal(signal.SIGTERM); p.wait()
        r = json.loads(out)
        return r
for round in range(2):
    for d in (0, 3):
        r = run(d)
        print(d, "destinations:", {k: r[k] for k in r if "per_second" in k or k in ("accepted", "p50_ms", "p99_ms")}, flush=True)
