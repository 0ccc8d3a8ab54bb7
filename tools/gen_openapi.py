"""Write (or check) docs/openapi.json, the REST gateway's OpenAPI document, from the protos' http rules.

    python tools/gen_openapi.py          # regenerate docs/openapi.json
    python tools/gen_openapi.py --check  # exit 1 if the committed file is stale

The gateway serves the same document at /v1/openapi.json (jem.gateway.openapi makes both).
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "openapi.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is stale")
    args = parser.parse_args()
    from jem.gateway import openapi
    from jem.gateway.server import api_routes

    text = json.dumps(openapi.document(api_routes()), indent=2) + "\n"
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"gen_openapi: {OUT.relative_to(ROOT)} is stale: run python tools/gen_openapi.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
