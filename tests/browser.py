"""A headless Chromium driven over the Chrome DevTools Protocol (``websockets``, a Streamlit dependency).

Only what the dashboard test and the README screenshot need: open a page, wait until its text
holds a string, collect console errors and uncaught exceptions, and take a screenshot.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request

from websockets.sync.client import connect


def _devtools_url(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as response:
                pages = [t for t in json.load(response) if t["type"] == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("Chromium's DevTools endpoint did not come up")
        time.sleep(0.2)


def visit(browser: str, url: str, wait_for: str, port: int, timeout: float = 60, screenshot: str | None = None) -> dict:
    """Load ``url`` in headless Chromium until its text contains ``wait_for``.

    Returns ``{"text": str, "errors": [console errors and uncaught exceptions]}``; with
    ``screenshot``, a PNG of the full 1400 px wide page is written there.

    Raises:
        TimeoutError: ``wait_for`` did not appear within ``timeout`` seconds.
    """
    process = subprocess.Popen(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--remote-debugging-port={port}",
            "--window-size=1400,1800",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return _drive(_devtools_url(port), url, wait_for, timeout, screenshot)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _drive(devtools: str, url: str, wait_for: str, timeout: float, screenshot: str | None) -> dict:
    connection = connect(devtools, max_size=1 << 28)
    errors, counter = [], iter(range(1, 1 << 30))

    def call(method: str, **params) -> dict:
        ident = next(counter)
        connection.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(connection.recv(timeout=timeout))
            if message.get("method") == "Runtime.exceptionThrown":
                errors.append(message["params"]["exceptionDetails"].get("text", "exception"))
            if message.get("method") == "Runtime.consoleAPICalled" and message["params"]["type"] == "error":
                errors.append(
                    " ".join(str(a.get("value", a.get("description", ""))) for a in message["params"]["args"])
                )
            if message.get("id") == ident:
                return message.get("result", {})

    call("Runtime.enable")
    call("Page.enable")
    call("Page.navigate", url=url)
    deadline, text = time.monotonic() + timeout, ""
    while wait_for not in text:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: {wait_for!r} did not appear within {timeout} s; page text: {text[:500]!r}")
        time.sleep(0.5)
        result = call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''")
        text = result.get("result", {}).get("value", "")
    if screenshot:
        time.sleep(2)  # images and charts finish drawing
        image = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(screenshot, "wb") as handle:
            handle.write(base64.b64decode(image["data"]))
    connection.close()
    return {"text": text, "errors": errors}
