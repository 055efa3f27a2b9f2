"""Drives certbot's dns-rfc2136 authenticator client as certbot's perform
and cleanup steps do: add, then delete, the TXT record of a challenge.

  certbot_rfc2136.py SERVER PORT KEY_NAME SECRET perform|cleanup NAME CONTENT
"""
import sys
import dns.tsig
from certbot_dns_rfc2136._internal.dns_rfc2136 import _RFC2136Client
server, port, key, secret, action, name, content = sys.argv[1:8]
client = _RFC2136Client(server, int(port), key, secret, dns.tsig.HMAC_SHA256, False, 10)
if action == "perform":
    client.add_txt_record(name, content, 60)
else:
    client.del_txt_record(name, content)
print("ok")
