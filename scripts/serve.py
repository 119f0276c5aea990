"""`make run`: the background worker (when the project has one) beside the web server.

Both stop together on Ctrl-C. The web server is Django's runserver with Daphne (ASGI), so
WebSockets work; static files and vendor assets are served by the app.
"""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def has_command(name: str) -> bool:
    return any((ROOT / app / "management" / "commands" / f"{name}.py").exists() for app in os.listdir(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    args = parser.parse_args()
    children: list[subprocess.Popen] = []
    if has_command("run_worker"):
        children.append(subprocess.Popen([PY, "manage.py", "run_worker"], cwd=ROOT))
    web = subprocess.Popen([PY, "manage.py", "runserver", "--noreload", f"{args.host}:{args.port}"], cwd=ROOT)
    children.append(web)

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = web.wait()
    stop()
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
