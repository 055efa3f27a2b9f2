#!/usr/bin/env python3
"""Measures the PowerDNS API of one server (pooldns or PowerDNS) and prints
one JSON object.

  api_driver.py API_URL KEY DNS_PORT ZONE PATCHES BIG_RECORDS TSIG

- patch_per_s: PATCHes per second, each replacing one A RRset of ZONE, on
  four concurrent clients (PATCHES in all; a 5xx is retried as PDM's client
  retried, and PATCHes still failing are counted in "failed", not in the
  rate);
- answer_ms_median: time from sending a PATCH to the first query answering
  the new address (20 samples);
- update_ms_median: time from sending an RFC 2136 UPDATE (nsupdate, one
  long-running process, signed with TSIG = "hmac-sha256:name:secret") to
  the first query answering the new address (20 samples); with
  TSIG_METADATA=1 in the environment (PowerDNS) the key is allowed to
  update ZONE through its TSIG-ALLOW-DNSUPDATE metadata;
- big_patch_s: one PATCH of 1,000 records into a zone of BIG_RECORDS
  records (created first through the API, in PATCHes of 10,000), and
  big_answer_s, the time until the last of them answers.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from dns_query import query_a


def call(method, url, key, body=None):
    """One call; a 5xx is retried twice (after 250 ms and 1 s), as the
    pool-domain-manager's client did."""
    data = None if body is None else json.dumps(body).encode()
    for delay in (0, 0.25, 1.0):
        time.sleep(delay)
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("X-API-Key", key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            if error.code < 500:
                raise
            last = error
    raise last


def update_samples(port, zone, tsig):
    """Milliseconds from each UPDATE sent by nsupdate to its answer."""
    nsupdate = subprocess.Popen(["nsupdate", "-y", tsig], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    nsupdate.stdin.write(f"server 127.0.0.1 {port}\nzone {zone}\n")
    samples = []
    for i in range(20):
        address = f"198.51.100.{10 + i}"
        t0 = time.monotonic()
        nsupdate.stdin.write(f"update delete uprobe.{zone} A\nupdate add uprobe.{zone} 300 A {address}\nsend\n")
        nsupdate.stdin.flush()
        while address not in query_a(port, f"uprobe.{zone}"):
            if time.monotonic() - t0 > 60:
                raise SystemExit("the UPDATE did not show within 60 s")
            time.sleep(0.002)
        samples.append((time.monotonic() - t0) * 1000)
    nsupdate.stdin.close()
    nsupdate.wait()
    return samples


def rrset(name, addresses):
    return {"name": name, "type": "A", "ttl": 300, "changetype": "REPLACE",
            "records": [{"content": a, "disabled": False} for a in addresses]}


def main():
    api, key, port, zone, patches, big, tsig = sys.argv[1:8]
    port, patches, big = int(port), int(patches), int(big)
    zones = f"{api}/api/v1/servers/localhost/zones"

    def create(name):
        call("POST", zones, key, {"name": name, "kind": "Native", "nameservers": [f"ns1.{name}"],
                                   "rrsets": [rrset(f"ns1.{name}", ["192.0.2.53"])]})

    create(zone)
    if os.environ.get("TSIG_METADATA"):
        # PowerDNS: the key that may update the zone is zone metadata.
        call("POST", f"{zones}/{zone}/metadata", key,
             {"kind": "TSIG-ALLOW-DNSUPDATE", "metadata": [tsig.split(":")[1]]})
    counter = iter(range(patches))
    lock = threading.Lock()
    failed = []

    def worker():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                call("PATCH", f"{zones}/{zone}", key,
                     {"rrsets": [rrset(f"h{i % 50}.{zone}", [f"10.0.{i // 250 % 250}.{i % 250}"])]})
            except urllib.error.HTTPError:
                failed.append(i)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    patch_per_s = (patches - len(failed)) / (time.monotonic() - started)

    samples = []
    for i in range(20):
        address = f"192.0.2.{100 + i}"
        t0 = time.monotonic()
        call("PATCH", f"{zones}/{zone}", key, {"rrsets": [rrset(f"probe.{zone}", [address])]})
        while address not in query_a(port, f"probe.{zone}"):
            if time.monotonic() - t0 > 60:
                raise SystemExit("the PATCH did not show within 60 s")
            time.sleep(0.002)
        samples.append((time.monotonic() - t0) * 1000)

    updates = update_samples(port, zone, tsig)

    big_zone = f"big.{zone}"
    create(big_zone)
    for start in range(0, big, 10000):
        sets = [rrset(f"r{i}.{big_zone}", [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"])
                for i in range(start, min(start + 10000, big))]
        call("PATCH", f"{zones}/{big_zone}", key, {"rrsets": sets})
    sets = [rrset(f"new{i}.{big_zone}", [f"172.16.{i // 256}.{i % 256}"]) for i in range(1000)]
    t0 = time.monotonic()
    call("PATCH", f"{zones}/{big_zone}", key, {"rrsets": sets})
    big_patch_s = time.monotonic() - t0
    while "172.16.3.231" not in query_a(port, f"new999.{big_zone}"):
        if time.monotonic() - t0 > 600:
            raise SystemExit("the big PATCH did not show within 600 s")
        time.sleep(0.01)
    big_answer_s = time.monotonic() - t0

    print(json.dumps({
        "patches": patches,
        "patch_per_s": round(patch_per_s, 1),
        "failed": len(failed),
        "answer_ms_median": round(statistics.median(samples), 1),
        "answer_ms_max": round(max(samples), 1),
        "update_ms_median": round(statistics.median(updates), 1),
        "update_ms_max": round(max(updates), 1),
        "big_zone_records": big,
        "big_patch_s": round(big_patch_s, 2),
        "big_answer_s": round(big_answer_s, 2),
    }))


if __name__ == "__main__":
    main()
