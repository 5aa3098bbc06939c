"""``python -m cortexd.routing.price_extract provider/model_id ...``: genai-prices' entries
for those models, as JSON on stdout (see price_table.py). Run as a child process, so that
the daemon that asks never loads genai-prices' whole snapshot itself."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from cortexd.routing.price_table import entry_json


def main(argv: Sequence[str]) -> int:
    """Print the entries of `argv`'s ``provider/model_id`` names."""
    entries = {}
    for name in argv:
        provider, _, model_id = name.partition("/")
        if not provider or not model_id:
            print(f"not provider/model_id: {name!r}", file=sys.stderr)
            return 2
        entries[name] = entry_json(provider, model_id)
    json.dump(entries, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
