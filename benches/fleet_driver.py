#!/usr/bin/env python3
"""Times how a change travels through a fleet and prints one JSON object.

  fleet_driver.py API_URL KEY ZONE CHANGES NAME=PORT...

For CHANGES PATCHes sent one after another to node A's API (API_URL), each
replacing the A record of www.ZONE with a new address: the time from
sending the PATCH to the first answer with the new address from each
server NAME at 127.0.0.1:PORT (another pooldns on the same PostgreSQL
store, a Knot or pooldns secondary of node A). Median, p99 and maximum of
each, in ms.
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
    api, key, zone, changes = sys.argv[1:5]
    changes = int(changes)
    ports = {name: int(port) for name, port in (target.split("=") for target in sys.argv[5:])}
    url = f"{api}/api/v1/servers/localhost/zones/{zone}"
    name = f"www.{zone}"
    # One change first, untimed: Knot may still be settling after its
    # first transfer.
    warm = {"rrsets": [{"name": f"warm.{zone}", "type": "A", "ttl": 60, "changetype": "REPLACE",
                        "records": [{"content": "192.0.2.99", "disabled": False}]}]}
    call("PATCH", url, key, warm)
    t0 = time.monotonic()
    while not all("192.0.2.99" in query_a(port, f"warm.{zone}") for port in ports.values()):
        if time.monotonic() - t0 > 60:
            raise SystemExit("the first change did not reach every server within 60 s")
        time.sleep(0.01)
    times = {name: [] for name in ports}
    for i in range(changes):
        address = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        body = {"rrsets": [{"name": name, "type": "A", "ttl": 60, "changetype": "REPLACE",
                            "records": [{"content": address, "disabled": False}]}]}
        t0 = time.monotonic()
        call("PATCH", url, key, body)
        pending = dict(ports)
        while pending:
            for target, port in list(pending.items()):
                if address in query_a(port, name):
                    del pending[target]
                    times[target].append((time.monotonic() - t0) * 1000)
            if time.monotonic() - t0 > 60:
                raise SystemExit(f"change {i} did not reach every server within 60 s")
            if pending:
                time.sleep(0.0005)
    print(json.dumps({"changes": changes, **{target: summary(samples) for target, samples in times.items()}}))


if __name__ == "__main__":
    main()
