"""Open a built report in headless Chromium, as a reader would, and check it: no console errors, every
image decoded, every <audio> source found with a finite duration, no sideways scrolling on a phone.
Saves a screenshot of the first screen beside the report.

Talks to Chromium over its DevTools pipe (--remote-debugging-pipe: JSON messages on fds 3 and 4), so it
needs nothing but the browser: Debian's `chromium` (make setup installs it).

    python -m compare.browser [reports/compare]
"""

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from safeio import UserError, cli_main

DESKTOP = (1280, 800)
PHONE = (390, 844)  # a common phone's CSS viewport
CHECK = """(async () => {
  const images = [...document.images].map(i => ({src: i.getAttribute('src'), width: i.naturalWidth}));
  const audio = await Promise.all([...document.querySelectorAll('audio')].map(a => new Promise(done => {
    const report = () => done({src: a.getAttribute('src'), duration: a.duration, error: a.error ? a.error.code : null});
    if (a.readyState >= 1 || a.error) return report();
    a.addEventListener('loadedmetadata', report); a.addEventListener('error', report);
    setTimeout(report, 20000);
  })));
  return {images, audio, scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth};
})()"""


def chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


class DevTools:
    """The smallest client of Chromium's DevTools protocol over a pipe: send a command, collect events."""

    def __init__(self, exe: str, profile: Path):
        # bash hands our stdin/stdout to Chromium as fds 3/4, the pipe it speaks on
        cmd = (
            f'exec 3<&0 4>&1; exec "{exe}" --headless=new --remote-debugging-pipe --no-sandbox --disable-gpu '
            f'--no-first-run --mute-audio --allow-file-access-from-files --user-data-dir="{profile}" </dev/null '
            f">/dev/null"
        )
        self.proc = subprocess.Popen(
            ["bash", "-c", cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.next_id, self.events, self.buffer, self.session = 0, [], b"", None

    def send(self, method: str, timeout: float = 60, **params) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        self.proc.stdin.write(json.dumps(msg).encode() + b"\0")
        self.proc.stdin.flush()
        deadline = time.time() + timeout
        while time.time() < deadline:
            reply = self.read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"Chromium: {method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)
        raise RuntimeError(f"Chromium did not answer {method} in {timeout} s")

    def read(self) -> dict:
        while b"\0" not in self.buffer:
            chunk = self.proc.stdout.read1(1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe (did it start?)")
            self.buffer += chunk
        msg, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(msg)

    def wait_for(self, event: str, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(e.get("method") == event for e in self.events):
                self.events = [e for e in self.events if e.get("method") != event]
                return
            self.events.append(self.read())
        raise RuntimeError(f"Chromium: no {event} in {timeout} s")

    def close(self) -> None:
        try:
            self.session = None
            self.send("Browser.close", timeout=10)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def errors_in(events: list) -> list[str]:
    """Console errors, uncaught exceptions and failed loads among the events Chromium sent."""
    out = []
    for e in events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif e.get("method") == "Runtime.exceptionThrown":
            out.append(p.get("exceptionDetails", {}).get("exception", {}).get("description", "exception"))
        elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"{p['entry'].get('text')} {p['entry'].get('url', '')}".strip())
    return out


def check(report_dir: Path, screenshot: str = "screenshot.png") -> dict:
    """-> {"errors": [...], "images": [...], "audio": [...], "phone_overflow_px": int, "screenshot": path}."""
    page = (report_dir / "index.html").resolve()
    if not page.exists():
        raise UserError(f"{page} does not exist: build it first (make compare)")
    exe = chromium()
    if exe is None:
        raise UserError("no Chromium here: make setup installs Debian's chromium (or apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        dt = DevTools(exe, Path(profile))
        try:
            target = dt.send("Target.createTarget", url="about:blank")["targetId"]
            dt.session = dt.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                dt.send(f"{domain}.enable")
            result = {}
            for name, (w, h) in (("desktop", DESKTOP), ("phone", PHONE)):
                dt.send(
                    "Emulation.setDeviceMetricsOverride", width=w, height=h, deviceScaleFactor=1, mobile=name == "phone"
                )
                dt.send("Page.navigate", url=page.as_uri())
                dt.wait_for("Page.loadEventFired")
                seen = dt.send("Runtime.evaluate", timeout=120, expression=CHECK, awaitPromise=True, returnByValue=True)
                value = seen["result"]["value"]
                if name == "desktop":
                    shot = dt.send("Page.captureScreenshot", format="png")["data"]
                    (report_dir / screenshot).write_bytes(base64.b64decode(shot))
                    result.update({"images": value["images"], "audio": value["audio"]})
                else:
                    result["phone_overflow_px"] = max(0, value["scrollWidth"] - value["innerWidth"])
            result["errors"] = errors_in(dt.events)
        except (RuntimeError, OSError, KeyError) as e:  # the browser died, hung or answered oddly
            raise UserError(f"Chromium could not open {page} ({e}); the report itself is written, open it by hand")
        finally:
            dt.close()
    result["screenshot"] = str(report_dir / screenshot)
    return result


def problems(result: dict) -> list[str]:
    """What a reader would meet: one line per problem."""
    out = [f"console: {e}" for e in result["errors"]]
    out += [f"image not decoded: {i['src']}" for i in result["images"] if not i["width"]]
    out += [
        f"audio without a duration: {a['src']} (error {a['error']})"
        for a in result["audio"]
        if not (isinstance(a["duration"], (int, float)) and 0 < a["duration"] < float("inf"))
    ]
    if result["phone_overflow_px"]:
        out.append(f"on a phone-width screen the page scrolls sideways by {result['phone_overflow_px']} px")
    return out


@cli_main
def main(argv=None):
    report_dir = Path((argv if argv is not None else sys.argv[1:] or ["reports/compare"])[0])
    result = check(report_dir)
    found = problems(result)
    print(
        f"checked {report_dir / 'index.html'} in Chromium: {len(result['images'])} images, "
        f"{len(result['audio'])} audio "
        f"players, {len(result['errors'])} console errors; screenshot {result['screenshot']}"
    )
    for line in found:
        print(f"  {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
