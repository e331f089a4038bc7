"""Run by .venv-clkhash's Python (never imported by the app or its tests): the reference CLKs.

Reads {"secret": str, "schema": dict | "randomnames", "rows": [[str, ...], ...]} as JSON on
stdin; writes {"schema": dict, "clks": [base64 of bitarray.tobytes(), ...]} on stdout, computed
by clkhash itself with its own validation on. "randomnames" is the example schema clkhash ships.
"""

import base64
import json
import pkgutil
import sys

from clkhash import clk, schema


def main() -> None:
    request = json.load(sys.stdin)
    schema_dict = request["schema"]
    if schema_dict == "randomnames":
        schema_dict = json.loads(pkgutil.get_data("clkhash", "data/randomnames-schema.json"))
    loaded = schema.from_json_dict(schema_dict, validate=True)
    clks = clk.generate_clks(
        request["rows"], loaded, request["secret"], validate=True, max_workers=1
    )
    json.dump(
        {
            "schema": schema_dict,
            "clks": [base64.b64encode(bits.tobytes()).decode("ascii") for bits in clks],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
