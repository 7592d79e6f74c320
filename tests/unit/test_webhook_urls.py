"""Which webhook URLs may be registered and which addresses a delivery may reach: https to
public addresses only, unless an operator allow-listed the host or its network."""

import ipaddress

import pytest

from relatoria_shared.domain.webhook_urls import (
    MAX_URL_LENGTH,
    AllowList,
    WebhookUrlRefused,
    address_allowed,
    checked_url,
)

pytestmark = pytest.mark.unit

NONE = AllowList()
LOOPBACK = AllowList.parse(["127.0.0.0/8", "receiver.internal"])


@pytest.mark.parametrize(
    ("url", "allow", "expected"),
    [
        ("https://hooks.example.com/in", NONE, "https://hooks.example.com/in"),
        ("  https://hooks.example.com/in?a=1&b=2\n", NONE, "https://hooks.example.com/in?a=1&b=2"),
        ("https://hooks.example.com:8443/in", NONE, "https://hooks.example.com:8443/in"),
        ("HTTPS://Hooks.Example.COM/In", NONE, "HTTPS://Hooks.Example.COM/In"),
        ("https://xn--bcher-kva.example/", NONE, "https://xn--bcher-kva.example/"),
        ("https://8.8.8.8/hook", NONE, "https://8.8.8.8/hook"),
        ("https://[2001:4860:4860::8888]/", NONE, "https://[2001:4860:4860::8888]/"),
        # Allow-listed networks and names: reachable, over plain http too.
        ("http://127.0.0.1:8080/hook", LOOPBACK, "http://127.0.0.1:8080/hook"),
        ("https://127.0.0.1:8080/hook", LOOPBACK, "https://127.0.0.1:8080/hook"),
        ("http://[::ffff:127.0.0.1]/", LOOPBACK, "http://[::ffff:127.0.0.1]/"),
        ("http://receiver.internal/hook", LOOPBACK, "http://receiver.internal/hook"),
        ("http://Receiver.Internal./hook", LOOPBACK, "http://Receiver.Internal./hook"),
    ],
)
def test_acceptable_urls_are_returned_trimmed(url: str, allow: AllowList, expected: str) -> None:
    assert checked_url(url, allow) == expected


@pytest.mark.parametrize(
    ("url", "allow", "reason"),
    [
        ("http://hooks.example.com/in", NONE, "only https URLs are accepted"),
        ("ftp://hooks.example.com/in", NONE, "only https URLs are accepted"),
        ("hooks.example.com/in", NONE, "only https URLs are accepted"),
        ("http://localhost/in", LOOPBACK, "only https URLs are accepted"),
        ("http://10.0.0.1/in", LOOPBACK, "only https URLs are accepted"),
        ("https://user:secret@hooks.example.com/", NONE, "user:password@"),
        ("https://hooks.example.com@10.0.0.1/", NONE, "user:password@"),
        ("https://hooks.example.com/in#top", NONE, "fragment"),
        ("https://hooks.example.com/in#", NONE, "fragment"),
        ("https:///in", NONE, "no host"),
        ("https://hooks.example.com:0/", NONE, "port"),
        ("https://hooks.example.com:65536/", NONE, "port"),
        ("https://hooks.example.com:https/", NONE, "port"),
        ("https://hooks.example.com/" + "a" * MAX_URL_LENGTH, NONE, "longer than 2048"),
        ("", NONE, "empty"),
        ("https://hooks.example.com/a b", NONE, "ASCII without spaces"),
        ("https://hooks.example.com/\tin", NONE, "ASCII without spaces"),
        ("https://bücher.example/", NONE, "ASCII without spaces"),
        ("https://bad!name.example/", NONE, "not a valid host name"),
        ("https://[hooks.example.com]/", NONE, "not valid"),
        ("https://10.1.2.3/x", NONE, "the address 10.1.2.3 is private"),
        ("https://192.168.0.10/x", NONE, "the address 192.168.0.10 is private"),
        ("https://169.254.169.254/latest", NONE, "the address 169.254.169.254 is link-local"),
        ("https://[::1]/", NONE, "the address ::1 is loopback"),
        ("https://[::ffff:127.0.0.1]/", NONE, "the address ::ffff:127.0.0.1 is loopback"),
        ("https://[64:ff9b::a9fe:a9fe]/", NONE, "is link-local"),  # NAT64 to the metadata
        ("https://100.64.0.1/", NONE, "the address 100.64.0.1 is shared (CGNAT)"),
        ("https://[fd00:ec2::254]/", NONE, "the address fd00:ec2::254 is private"),
        ("https://0.0.0.0/", NONE, "is unspecified"),
        ("https://224.0.0.1/", NONE, "is multicast"),
        ("https://[fe80::1%25eth0]/", NONE, "zone identifiers"),
        ("https://10.0.0.1/in", LOOPBACK, "the address 10.0.0.1 is private"),
        # Forms resolvers read as 127.0.0.1, though ipaddress does not.
        ("https://127.1/", NONE, "non-standard form"),
        ("https://2130706433/", NONE, "non-standard form"),
        ("https://0x7f.0.0.1/", NONE, "non-standard form"),
        ("https://0177.0.0.1/", NONE, "non-standard form"),
    ],
)
def test_unacceptable_urls_are_refused_with_a_reason(
    url: str, allow: AllowList, reason: str
) -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        checked_url(url, allow)
    assert reason in refused.value.reason
    assert str(refused.value) == refused.value.reason
    assert isinstance(refused.value, ValueError)


def test_the_length_limit_counts_the_trimmed_url() -> None:
    url = "https://hooks.example.com/" + "a" * (MAX_URL_LENGTH - len("https://hooks.example.com/"))
    assert len(url) == MAX_URL_LENGTH
    assert checked_url(f"  {url}  ", NONE) == url
    with pytest.raises(WebhookUrlRefused):
        checked_url(url + "a", NONE)


ip = ipaddress.ip_address


@pytest.mark.parametrize(
    ("address", "host", "allow", "allowed"),
    [
        ("8.8.8.8", "dns.google", NONE, True),
        ("2001:4860:4860::8888", "dns.google", NONE, True),
        ("::ffff:8.8.8.8", "dns.google", NONE, True),
        ("64:ff9b::808:808", "dns.google", NONE, True),  # NAT64 to a public address
        ("127.0.0.1", "localhost", NONE, False),
        ("::1", "localhost", NONE, False),
        ("::ffff:127.0.0.1", "evil.example", NONE, False),
        ("::127.0.0.1", "evil.example", NONE, False),  # IPv4-compatible: reserved
        ("10.0.0.1", "evil.example", NONE, False),
        ("172.16.0.1", "evil.example", NONE, False),
        ("192.168.1.1", "evil.example", NONE, False),
        ("169.254.169.254", "metadata.example", NONE, False),
        ("fd00:ec2::254", "metadata.example", NONE, False),
        ("fe80::1", "evil.example", NONE, False),
        ("fec0::1", "evil.example", NONE, False),
        ("100.64.0.1", "evil.example", NONE, False),
        ("0.0.0.0", "evil.example", NONE, False),
        ("::", "evil.example", NONE, False),
        ("240.0.0.1", "evil.example", NONE, False),
        ("255.255.255.255", "evil.example", NONE, False),
        ("224.0.0.1", "evil.example", NONE, False),
        ("ff02::1", "evil.example", NONE, False),
        ("64:ff9b::a00:1", "evil.example", NONE, False),  # NAT64 to 10.0.0.1
        ("2002:a00:1::1", "evil.example", NONE, False),  # 6to4 of 10.0.0.1
        ("2002:808:808::1", "six.example", NONE, True),  # 6to4 of a public address
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "evil.example", NONE, False),  # Teredo, 10.0.0.1
        # An allow-listed network admits its addresses whatever the name...
        ("127.0.0.1", "evil.example", LOOPBACK, True),
        ("::ffff:127.0.0.1", "evil.example", LOOPBACK, True),
        ("10.0.0.1", "evil.example", LOOPBACK, False),
        # ... and an allow-listed name whatever its addresses.
        ("10.0.0.1", "receiver.internal", LOOPBACK, True),
        ("10.0.0.1", "RECEIVER.internal.", LOOPBACK, True),
        ("10.0.0.1", "other.internal", LOOPBACK, False),
    ],
)
def test_address_allowed(address: str, host: str, allow: AllowList, allowed: bool) -> None:
    assert address_allowed(ip(address), host, allow) is allowed


def test_allow_list_entries_are_names_addresses_or_networks() -> None:
    allow = AllowList.parse(
        ["localhost", " Receiver.Internal. ", "127.0.0.0/8", "::1", "[fd00::1]", "192.168.1.10/24"]
    )
    assert allow.hosts == frozenset({"localhost", "receiver.internal"})
    assert allow.networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("fd00::1/128"),
        ipaddress.ip_network("192.168.1.0/24"),
    )
    assert allow.allows_host("LOCALHOST")
    assert allow.allows_host("localhost.")
    assert allow.allows_host("127.3.2.1")
    assert allow.allows_host("[::1]")
    assert allow.allows_host("192.168.1.77")
    assert not allow.allows_host("10.0.0.1")
    assert not allow.allows_host("example.com")
    assert not allow.allows_host("sub.localhost")
    assert allow.allows_address(ip("::ffff:127.0.0.1"))
    assert not allow.allows_address(ip("::2"))
    assert AllowList.parse([]) == AllowList()


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "not a host",
        "10.0.0.0/33",
        "*.example.com",
        "localhost:8080",
        "http://localhost",
        "127.1",
        "-bad.example",
        "a" * 64 + ".example",
        "fe80::1%eth0",
    ],
)
def test_allow_list_rejects_garbage(entry: str) -> None:
    with pytest.raises(ValueError, match="invalid webhook allow-list entry"):
        AllowList.parse(["localhost", entry])
