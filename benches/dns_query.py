"""One UDP A query, as the benchmark drivers ask: no recursion, the
addresses of the answer section."""

import socket
import struct


def query_a(port, name):
    """The addresses of one A query over UDP (no recursion)."""
    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", 0x1234, 0, 1, 0, 0, 0) + wire + struct.pack(">HH", 1, 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1)
    try:
        sock.sendto(packet, ("127.0.0.1", port))
        reply, _ = sock.recvfrom(4096)
    except socket.timeout:
        return []
    finally:
        sock.close()
    answers = struct.unpack(">H", reply[6:8])[0]
    pos = 12 + len(wire) + 4
    found = []
    for _ in range(answers):
        while reply[pos] != 0 and reply[pos] & 0xC0 != 0xC0:
            pos += reply[pos] + 1
        pos += 2 if reply[pos] & 0xC0 == 0xC0 else 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", reply[pos:pos + 10])
        pos += 10
        if rtype == 1:
            found.append(socket.inet_ntoa(reply[pos:pos + 4]))
        pos += rdlen
    return found
