"""The live page: ``asicdrv run --web [HOST:]PORT`` (off by default).

``/`` is one self-contained page (no external assets) that fetches ``/status.json`` once a
second and draws one card per module: hash rate, temperatures, fan, errors, pool state and
the module's chip map.  The standard library's threaded HTTP server is enough: the page is
small and every request reads one cached controller snapshot (at most 0.5 s old), so five
open browsers cost five snapshot reads a second at most.

The title and heading name the machine as an AvalonMiner (farm scanners read the page).
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .._version import VERSION
from ..device.findings import module_findings
from ..mining.controller import mining_modules
from ..models import MODELS
from .api.access import Access
from .listen import bind_in_background, close_server
from ..bench.chipmap import chip_map_svg

log = logging.getLogger("asicdrv.web")
SNAPSHOT_MAX_AGE_S = 0.5

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TITLE</title><style>
body{font-family:sans-serif;margin:0;background:#f4f5f7;color:#222}
header{background:#1f2937;color:#fff;padding:10px 16px}header h1{margin:0;font-size:1.2em}
#summary{padding:8px 16px}.cards{display:flex;flex-wrap:wrap;gap:12px;padding:0 12px 16px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;padding:10px 12px;
max-width:100%;overflow-x:auto}.card h2{font-size:1em;margin:0 0 6px}
.kv{display:grid;grid-template-columns:auto auto;gap:2px 12px;font-size:.9em;margin-bottom:6px}
.bad{color:#b3261e;font-weight:bold}
.alarm{background:#b3261e;color:#fff;padding:8px 16px}</style></head><body>
<header><h1>HEADING</h1></header><div id="alarm" class="alarm" hidden></div>
<div id="summary">loading...</div>
<div class="cards" id="cards"></div><script>
function fmt(h){const u=[["TH/s",1e12],["GH/s",1e9],["MH/s",1e6],["kH/s",1e3]];
for(const [n,s] of u){if(h>=s)return (h/s).toFixed(2)+" "+n}return h.toFixed(0)+" H/s"}
function esc(t){return String(t).replace(/[&<>]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;"}[c]))}
async function tick(){try{const r=await fetch("status.json",{cache:"no-store"});
const s=await r.json();
document.getElementById("summary").innerHTML="shares accepted <b id='accepted'>"+s.accepted+
"</b>, rejected <b>"+s.rejected+"</b>, stale <b>"+s.stale+"</b> | pool: <b id='pool'>"+
esc(s.pool)+"</b> | "+fmt(s.hashrate_hs)+" (1 min, verified shares) | up "+
Math.round(s.uptime_s)+" s";
const cards=document.getElementById("cards");
cards.innerHTML=s.modules.map(m=>"<div class='card' id='module-"+m.key+"'><h2>"+esc(m.title)+
"</h2><div class='kv'><span>hash rate</span><span>"+fmt(m.reported_hs)+" reported, "+
fmt(m.shares_hs)+" verified</span><span>hottest chip</span><span"+(m.hot?" class='bad'":"")+
">"+m.hottest+"</span><span>board</span><span>"+m.board+"</span><span>fan</span><span"+
(m.fan_failed?" class='bad'":"")+">"+m.fan+"</span><span>errors</span><span>"+m.errors+
"</span><span>state</span><span"+(m.findings.length?" class='bad'":"")+">"+esc(m.findings.length?
m.findings.join("; "):m.state)+"</span></div>"+m.svg+"</div>").join("");
const alarm=document.getElementById("alarm");alarm.hidden=!s.alarms.length;
alarm.innerHTML=s.alarms.length?"<b>ATTENTION</b> "+s.alarms.map(esc).join("<br>"):"";}catch(e){
document.getElementById("summary").textContent="controller not answering: "+e}}
tick();setInterval(tick,1000);</script></body></html>"""


def chip_health(module, shares: dict) -> list[list]:
    """(state, text) per chip for the live map: a silent sensor or no shares while its
    miner's chips have them is failed, under half the miner's median weak, over its model's
    warning temperature hot."""
    warn_c = MODELS[module.model].warn_c
    out = []
    for mi, row in enumerate(module.chip_temperatures_c):
        counts = [shares.get((mi, c), 0) for c in range(len(row))]
        median = statistics.median(counts) if counts else 0
        reading = sum(t is not None for t in row)
        cells = []
        for c, temp in enumerate(row):
            n = counts[c]
            text = f"{'-' if temp is None else f'{temp:.1f} degC'}, {n} shares"
            if temp is None and reading > len(row) / 2:
                cells.append(("failed", "sensor silent (dead chip?), " + text))
            elif temp is not None and temp <= 1.0:
                cells.append(("failed", "sensor reads 0, " + text))
            elif median >= 10 and n == 0:
                cells.append(("failed", "no shares, " + text))
            elif median >= 10 and n < median / 2:
                cells.append(("weak", "under half the miner's median, " + text))
            elif temp is not None and temp >= warn_c:
                cells.append(("hot", text))
            elif temp is None:
                cells.append(("unknown", text))
            else:
                cells.append(("ok", text))
        out.append(cells)
    return out


class _PageServer(ThreadingHTTPServer):
    """At most ``MAX_CLIENTS`` connections at once (more are closed at once), each
    dropped after ``IDLE_TIMEOUT_S`` without a request; only addresses ``allow`` admits."""

    daemon_threads = True
    request_queue_size = 64  # accepted, then refused by count: not left in the backlog
    page: "LivePage"

    def verify_request(self, request, client_address) -> bool:
        page = self.page
        if page.access.level(str(client_address[0])) is None:
            page.refused += 1
            return False
        if not page.slots.acquire(blocking=False):
            page.refused += 1
            return False
        return True

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.page.slots.release()


MAX_CLIENTS = 16
IDLE_TIMEOUT_S = 10.0


class LivePage:
    def __init__(
        self, controller, host: str = "127.0.0.1", port: int = 8080, allow: str = "127.0.0.1"
    ):
        self.controller = controller
        self._snapshot: tuple[float, bytes] | None = None
        self._lock = threading.Lock()
        self.requests = 0
        self.refused = 0
        self.access = Access(allow)
        self.slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._server, self._thread = bind_in_background(
            _PageServer, host, port, _Handler, "web page", "asicdrv-web"
        )
        self._server.page = self
        self.host, self.port = self._server.server_address[:2]

    def start(self) -> "LivePage":
        self._thread.start()
        log.info("live page on http://%s:%d/", self.host, self.port)
        return self

    def close(self) -> None:
        close_server(self._server, self._thread)

    def page(self) -> bytes:
        model = self._model()
        title = f"AvalonMiner {model} - asicdrv {VERSION}"
        return (
            PAGE.replace("TITLE", title)
            .replace("HEADING", f"AvalonMiner {model} (asicdrv {VERSION})")
            .encode()
        )

    def _model(self) -> str:
        for slot in self.controller.slots:
            if slot.chain is not None and slot.chain.modules:
                return slot.chain.modules[0].model
        return "851"

    def status_json(self) -> bytes:
        with self._lock:
            now = time.monotonic()
            if self._snapshot is None or now - self._snapshot[0] > SNAPSHOT_MAX_AGE_S:
                self._snapshot = (now, json.dumps(self._status()).encode())
            return self._snapshot[1]

    def _status(self) -> dict:
        state = self.controller.snapshot(SNAPSHOT_MAX_AGE_S)
        active = next((p for p in state["pools"] if p["active"]), None)
        modules = []
        for chain, m in mining_modules(state):
            account = state["modules"].get((chain["index"], m.id), {})
            shares = account.get("chip_shares", {})
            errors = f"{m.hw_errors} hardware, {m.crc_errors} CRC"
            modules.append(
                {
                    "key": f"{chain['index']}-{m.id}",
                    "title": f"chain {chain['index']} module {m.id}: AvalonMiner {m.model} {m.dna}",
                    "reported_hs": m.hashrate_ghs * 1e9,
                    "shares_hs": account.get("hashrate_ghs", {}).get("1m", 0.0) * 1e9,
                    "hottest": "-" if m.hottest_chip_c is None else f"{m.hottest_chip_c:.1f} degC",
                    "hot": m.hottest_chip_c is not None
                    and m.hottest_chip_c >= MODELS[m.model].warn_c,
                    "board": "-" if m.temperature_c is None else f"{m.temperature_c} degC",
                    "fan": f"{m.fan_rpm} RPM"
                    + ("" if m.fan_sent is None else f" at {m.fan_sent} %"),
                    "fan_failed": m.fan_failed,
                    "errors": errors,
                    "state": "idle" if m.idle else m.state,
                    "findings": module_findings(m),
                    "svg": chip_map_svg(chip_health(m, shares), "health"),
                }
            )
        alarms = [f"module {m['key']}: {f}" for m in modules for f in m["findings"]]
        return {
            "alarms": alarms,
            "uptime_s": state["uptime_s"],
            **state["totals"],
            "pool": f"{active['index']} {active['url']}" if active else "none",
            "hashrate_hs": state["hashrate_ghs"]["1m"] * 1e9,
            "modules": modules,
        }


class _Handler(BaseHTTPRequestHandler):
    server_version = f"asicdrv/{VERSION}"
    timeout = IDLE_TIMEOUT_S  # an idle connection is closed, not held

    def do_GET(self):  # noqa: N802 - the http.server name
        page: LivePage = self.server.page
        page.requests += 1
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", page.page())
        elif path == "/status.json":
            self._send(200, "application/json", page.status_json())
        else:
            self._send(404, "text/plain", b"not found\n")

    def _send(self, code: int, kind: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # the controller's log is for the boards
        pass
