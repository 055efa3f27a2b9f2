#!/usr/bin/env python3
"""Drives pool allocations against pooldns's pool API or, as upstream did,
PowerDNS's HTTP API, and prints one JSON object of measurements.

  pool_driver.py pooldns API_URL KEY POOL DNS_PORT ANCHORS COUNT CLIENTS SAMPLES
  pool_driver.py pdns    API_URL KEY POOL DNS_PORT ANCHORS COUNT CLIENTS SAMPLES

An allocation is what a Sovereign needs: its zone created, signed and
delegated with NS and DS, and six A records committed. pooldns does it with
reserve + commit. On PowerDNS it is PDM's sequence, plus the DS that PDM
never wrote: create the zone with DNSSEC, read its DS, PATCH the parent with
NS and DS, PATCH the child with the A records, rectify.

COUNT allocations run on CLIENTS concurrent clients (allocations per second,
counting those that succeeded; a 5xx is retried as PDM did, and allocations
still failing are counted in "failed");
then SAMPLES allocations run one at a time, each timed from the first request
until delv validates console.<sub>.<pool> from the pool's trust anchor.
"""

import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

NAMES = ["@", "*", "console", "api", "gitea", "harbor"]


class Failed(Exception):
    pass


def call(method, url, key, body=None):
    """One API call, retried on 5xx as PDM's client did: at once, after
    250 ms, after 1 s."""
    data = None if body is None else json.dumps(body).encode()
    for delay in (0, 0.25, 1.0):
        time.sleep(delay)
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("X-API-Key", key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as error:
            detail = f"{method} {url}: {error.code} {error.read()[:300]!r}"
            if error.code < 500:
                raise Failed(detail)
    raise Failed(detail)


def pooldns_allocate(api, key, pool, sub, ip):
    status, body = call("POST", f"{api}/api/v1/pool/{pool}/reserve", key, {"subdomain": sub})
    token = body["reservationToken"]
    call("POST", f"{api}/api/v1/pool/{pool}/commit", key,
         {"subdomain": sub, "reservationToken": token, "loadBalancerIP": ip})


def pdns_allocate(api, key, pool, sub, ip):
    zones = f"{api}/api/v1/servers/localhost/zones"
    child = f"{sub}.{pool}."
    ns = [f"ns1.{pool}.", f"ns2.{pool}."]
    call("POST", zones, key, {"name": child, "kind": "Native", "nameservers": ns, "dnssec": True})
    _, keys = call("GET", f"{zones}/{child}/cryptokeys", key)
    ds = [d for k in keys if k.get("active") for d in k.get("ds", []) if d.split()[2] == "2"]
    call("PATCH", f"{zones}/{pool}.", key, {"rrsets": [
        {"name": child, "type": "NS", "ttl": 3600, "changetype": "REPLACE",
         "records": [{"content": n, "disabled": False} for n in ns]},
        {"name": child, "type": "DS", "ttl": 3600, "changetype": "REPLACE",
         "records": [{"content": d, "disabled": False} for d in ds]},
    ]})
    rrsets = []
    for name in NAMES:
        owner = child if name == "@" else f"{name}.{child}"
        rrsets.append({"name": owner, "type": "A", "ttl": 300, "changetype": "REPLACE",
                       "records": [{"content": ip, "disabled": False}]})
    call("PATCH", f"{zones}/{child}", key, {"rrsets": rrsets})
    call("PUT", f"{zones}/{child}/rectify", key)


def validated(port, anchors, pool, name, ip):
    out = subprocess.run(
        ["delv", "@127.0.0.1", "-p", str(port), "-a", anchors, f"+root={pool}", name, "A"],
        capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    return "; fully validated" in text and ip in text


def main():
    target, api, key, pool, port, anchors, count, clients, samples = sys.argv[1:10]
    count, clients, samples, port = int(count), int(clients), int(samples), int(port)
    allocate = pooldns_allocate if target == "pooldns" else pdns_allocate
    tag = f"{int(time.time()) % 100000}"

    labels = [f"t{tag}n{i}" for i in range(count)]
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                if not labels:
                    return
                sub = labels.pop()
            try:
                allocate(api, key, pool, sub, "192.0.2.10")
            except Failed as error:
                errors.append(f"{sub}: {error}")

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if errors:
        print(f"{len(errors)} allocations failed after retries, first: {errors[0]}", file=sys.stderr)

    times = []
    for i in range(samples):
        sub = f"v{tag}n{i}"
        t0 = time.monotonic()
        allocate(api, key, pool, sub, "192.0.2.20")
        while not validated(port, anchors, pool, f"console.{sub}.{pool}", "192.0.2.20"):
            if time.monotonic() - t0 > 120:
                raise SystemExit(f"console.{sub}.{pool} did not validate within 120 s")
            time.sleep(0.02)
        times.append((time.monotonic() - t0) * 1000)

    print(json.dumps({
        "allocations": count,
        "clients": clients,
        "alloc_per_s": round((count - len(errors)) / elapsed, 1),
        "failed": len(errors),
        "validate_ms_median": round(statistics.median(times), 1),
        "validate_ms_max": round(max(times), 1),
        "validate_samples": samples,
    }))


if __name__ == "__main__":
    main()
