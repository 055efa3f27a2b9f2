#!/usr/bin/env python3
"""Times how a change travels through a fleet and prints one JSON object.

  fleet_driver.py API_URL KEY ZONE NODE_B_PORT KNOT_PORT CHANGES

For CHANGES PATCHes sent one after another to node A's API (API_URL), each
replacing the A record of www.ZONE with a new address: the time from
sending the PATCH to the first answer with the new address from node B
(another pooldns on the same PostgreSQL store) and from a Knot secondary
of node A (NOTIFY, then IXFR). Median, p99 and maximum of each, in ms.
"""

import json
import statistics
import sys
import time
import urllib.request

from dns_query import query_a


def call(method, url, key, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method)
    request.add_header("X-API-Key", key)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


def summary(samples):
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main():
    api, key, zone, port_b, port_knot, changes = sys.argv[1:7]
    port_b, port_knot, changes = int(port_b), int(port_knot), int(changes)
    url = f"{api}/api/v1/servers/localhost/zones/{zone}"
    name = f"www.{zone}"
    # One change first, untimed: Knot may still be settling after its
    # first transfer.
    warm = {"rrsets": [{"name": f"warm.{zone}", "type": "A", "ttl": 60, "changetype": "REPLACE",
                        "records": [{"content": "192.0.2.99", "disabled": False}]}]}
    call("PATCH", url, key, warm)
    t0 = time.monotonic()
    while not all("192.0.2.99" in query_a(port, f"warm.{zone}") for port in (port_b, port_knot)):
        if time.monotonic() - t0 > 60:
            raise SystemExit("the first change did not reach every server within 60 s")
        time.sleep(0.01)
    to_b, to_knot = [], []
    for i in range(changes):
        address = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        body = {"rrsets": [{"name": name, "type": "A", "ttl": 60, "changetype": "REPLACE",
                            "records": [{"content": address, "disabled": False}]}]}
        t0 = time.monotonic()
        call("PATCH", url, key, body)
        pending = {port_b: to_b, port_knot: to_knot}
        while pending:
            for port in list(pending):
                if address in query_a(port, name):
                    pending.pop(port).append((time.monotonic() - t0) * 1000)
            if time.monotonic() - t0 > 60:
                raise SystemExit(f"change {i} did not reach every server within 60 s")
            if pending:
                time.sleep(0.0005)
    print(json.dumps({"changes": changes, "node_b": summary(to_b), "knot_secondary": summary(to_knot)}))


if __name__ == "__main__":
    main()
