"""apps.core.outbound: the SSRF guard of every outbound call made for a user.

Real HTTP servers on loopback addresses stand in for the platform's private network. There is no
DNS here, so name resolution is simulated for made-up names only (the fake_dns fixture, tests/fakes/dns.py).
"""

import http.server
import ipaddress
import threading
from collections.abc import Iterator

import httpx
import pytest

from apps.core import outbound
from apps.core.outbound import OutboundBlocked


class _Server:
    """A real HTTP server on ``host``; remembers every request it got."""

    def __init__(self, host: str, port: int = 0, name: str = "server") -> None:
        self.requests: list[dict[str, str]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                owner.requests.append({"path": self.path, "host": self.headers.get("Host", "")})
                if self.path.startswith("/redirect?to="):
                    self.send_response(302)
                    self.send_header("Location", self.path.split("=", 1)[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = f"{name} {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        self.host, self.port = host, self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server("127.0.0.1", name="one")
    yield srv
    srv.close()


@pytest.fixture
def private_server(server: _Server) -> Iterator[_Server]:
    """A second server on another loopback address (same port): the 'internal service'."""
    srv = _Server("127.0.0.2", server.port, name="two")
    yield srv
    srv.close()


def test_it_refuses_loopback_by_default(server: _Server) -> None:
    with outbound.client() as http, pytest.raises(OutboundBlocked) as caught:
        http.get(server.url + "/secret")
    assert "127.0.0.1" in str(caught.value) and "loopback" in str(caught.value)
    assert caught.value.reason == "loopback address"
    assert isinstance(caught.value, httpx.HTTPError)  # existing connection-error handling catches it
    assert server.requests == []


def test_the_operator_allows_one_address_and_port(server: _Server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOWED_NETWORKS = f"127.0.0.1/32:{server.port}"
    with outbound.client() as http:
        response = http.get(server.url + "/ok")
    assert response.status_code == 200 and response.text == "one /ok"
    other = _Server("127.0.0.1", name="other-port")
    try:
        with outbound.client() as http, pytest.raises(OutboundBlocked):
            http.get(other.url + "/")
        assert other.requests == []
    finally:
        other.close()


def test_the_operator_can_allow_every_private_address(server: _Server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOW_PRIVATE = True
    with outbound.client() as http:
        assert http.get(server.url + "/any").text == "one /any"


def test_a_redirect_to_a_forbidden_address_is_refused(  # type: ignore[no-untyped-def]
        server: _Server, private_server: _Server, settings) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = f"127.0.0.1:{server.port}"
    with outbound.client() as http:
        # Control: a redirect that stays on the allowed address is followed.
        assert http.get(server.url + "/redirect?to=/landed").text == "one /landed"
        for target in (private_server.url + "/internal",
                       f"http://2130706434:{private_server.port}/",  # 127.0.0.2 in decimal
                       f"http://[::ffff:127.0.0.2]:{private_server.port}/"):
            with pytest.raises(OutboundBlocked):
                http.get(f"{server.url}/redirect?to={target}")
    assert private_server.requests == []
    assert [r["path"] for r in server.requests if r["path"] == "/landed"] == ["/landed"]


def test_redirects_are_refused_by_the_async_client_too(  # type: ignore[no-untyped-def]
        server: _Server, private_server: _Server, settings) -> None:
    import asyncio

    settings.OUTBOUND_ALLOWED_NETWORKS = f"127.0.0.1:{server.port}"

    async def scenario() -> tuple[str, str]:
        async with outbound.async_client() as http:
            ok = (await http.get(server.url + "/async")).text
            try:
                await http.get(f"{server.url}/redirect?to={private_server.url}/internal")
            except OutboundBlocked as exc:
                return ok, str(exc)
        return ok, ""

    ok, refused = asyncio.run(scenario())
    assert ok == "one /async"
    assert "127.0.0.2" in refused and "loopback" in refused
    assert private_server.requests == []


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost", "localhost.localdomain"])
def test_localhost_names_are_refused(server: _Server, host: str) -> None:
    with outbound.client() as http, pytest.raises(OutboundBlocked) as caught:
        http.get(f"http://{host}:{server.port}/")
    assert "loopback" in str(caught.value)
    assert server.requests == []


@pytest.mark.parametrize("host", [
    "2130706433",            # decimal
    "0x7f000001",            # hexadecimal
    "0x7f.1",                # mixed, short form
    "017700000001",          # octal
    "127.1",                 # short dotted
    "0",                     # 0.0.0.0, which reaches loopback on Linux
    "0.0.0.0",
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",    # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[64:ff9b::7f00:1]",     # NAT64 of 127.0.0.1
])
def test_numeric_encodings_of_loopback_are_refused(server: _Server, host: str) -> None:
    with outbound.client() as http, pytest.raises(OutboundBlocked):
        http.get(f"http://{host}:{server.port}/")
    assert server.requests == []


def test_an_octal_dotted_address_is_not_reached_either(server: _Server) -> None:
    # httpx itself refuses leading-zero octets; either way nothing is sent.
    with outbound.client() as http, pytest.raises((OutboundBlocked, httpx.InvalidURL)):
        http.get(f"http://0177.0.0.1:{server.port}/")
    assert server.requests == []


def test_a_name_that_resolves_to_a_private_address_is_refused(fake_dns: dict) -> None:
    fake_dns["intranet.example"] = [["10.0.0.5"]]
    fake_dns["metadata.example"] = [["169.254.169.254"]]
    with outbound.client() as http:
        with pytest.raises(OutboundBlocked) as caught:
            http.get("http://intranet.example/")
        assert "intranet.example (10.0.0.5)" in str(caught.value) and "private" in str(caught.value)
        with pytest.raises(OutboundBlocked) as caught:
            http.get("http://metadata.example/latest/meta-data/")
        assert "link-local" in str(caught.value)


def test_a_name_is_resolved_once_and_the_connection_pinned_to_the_checked_address(  # type: ignore[no-untyped-def]
        server: _Server, private_server: _Server, fake_dns: dict, settings) -> None:
    """DNS rebinding: the first answer is allowed, the next ones point inside. The connection must
    go to the address that was checked, and a later lookup that turns private must be refused."""
    settings.OUTBOUND_ALLOWED_NETWORKS = f"127.0.0.1:{server.port}"
    fake_dns["rebind.example"] = [["127.0.0.1"], ["127.0.0.2"]]
    with outbound.client() as http:
        response = http.get(f"http://rebind.example:{server.port}/first")
    assert response.text == "one /first"
    assert server.requests[-1]["host"] == f"rebind.example:{server.port}"  # Host header kept
    assert fake_dns["__lookups__"] == ["rebind.example"]  # resolved exactly once
    with outbound.client() as http, pytest.raises(OutboundBlocked) as caught:
        http.get(f"http://rebind.example:{server.port}/second")
    assert "127.0.0.2" in str(caught.value)
    assert private_server.requests == []


def test_only_the_allowed_answers_of_a_name_are_used(  # type: ignore[no-untyped-def]
        server: _Server, private_server: _Server, fake_dns: dict, settings) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = f"127.0.0.1:{server.port}"
    fake_dns["mixed.example"] = [["127.0.0.2", "127.0.0.1"]]
    with outbound.client() as http:
        assert http.get(f"http://mixed.example:{server.port}/m").text == "one /m"
    assert private_server.requests == []


def test_other_schemes_and_bad_settings_are_refused(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OutboundBlocked, match="Only http and https"):
        outbound.check_url("file:///etc/passwd")
    with pytest.raises(TypeError):
        outbound.client(proxy="http://127.0.0.1:3128")
    settings.OUTBOUND_ALLOWED_NETWORKS = "not-a-network"
    with pytest.raises(ValueError, match="OUTBOUND_ALLOWED_NETWORKS"):
        outbound.is_allowed("127.0.0.1")


def test_allow_list_syntax(settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOWED_NETWORKS = "10.0.0.0/8, 192.168.1.10:8080, [fd00::/8]:443, ::1"
    assert outbound.is_allowed("10.9.8.7", 1234)
    assert outbound.is_allowed("192.168.1.10", 8080) and not outbound.is_allowed("192.168.1.10", 80)
    assert outbound.is_allowed("fd12::1", 443) and not outbound.is_allowed("fd12::1", 80)
    assert outbound.is_allowed("::1", 5) and not outbound.is_allowed("127.0.0.1", 5)
    assert outbound.is_allowed("::ffff:10.1.1.1", 80)  # the mapped form of an allowed address


@pytest.mark.parametrize(("address", "reason"), [
    ("8.8.8.8", None),
    ("2001:4860:4860::8888", None),
    ("10.1.2.3", "private address"),
    ("172.16.0.1", "private address"),
    ("192.168.1.1", "private address"),
    ("100.64.0.1", "shared (carrier-grade NAT) address"),
    ("169.254.169.254", "link-local address"),
    ("fe80::1", "link-local address"),
    ("fc00::1", "private address"),
    ("224.0.0.1", "multicast address"),
    ("ff02::1", "multicast address"),
    ("240.0.0.1", "reserved address"),
    ("255.255.255.255", "reserved address"),
    ("0.0.0.0", "unspecified address"),
    ("::", "unspecified address"),
    ("::7f00:1", "reserved address"),
    ("::ffff:10.0.0.1", "IPv6 form of 10.0.0.1 (private address)"),
    ("2002:7f00:1::", "IPv6 form of 127.0.0.1 (loopback address)"),
    ("64:ff9b::a9fe:a9fe", "IPv6 form of 169.254.169.254 (link-local address)"),
    ("198.18.0.1", "private address"),
])
def test_address_classification(address: str, reason: str | None) -> None:
    assert outbound.forbidden_reason(ipaddress.ip_address(address)) == reason


def _self_signed(name: str, directory) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A certificate for ``name`` only (not for 127.0.0.1), and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls_keeps_the_name_for_sni_and_the_certificate_while_connecting_to_the_pinned_address(  # type: ignore[no-untyped-def]
        fake_dns: dict, settings, tmp_path) -> None:
    import ssl

    cert, key = _self_signed("tls.example", tmp_path)
    server = _Server("127.0.0.1", name="tls")
    seen_sni: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)  # type: ignore[func-returns-value]
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    try:
        settings.OUTBOUND_ALLOWED_NETWORKS = f"127.0.0.1:{server.port}"
        fake_dns["tls.example"] = [["127.0.0.1"]]
        trust = ssl.create_default_context(cafile=cert)
        with outbound.client(verify=trust) as http:
            assert http.get(f"https://tls.example:{server.port}/secure").text == "tls /secure"
            assert seen_sni == ["tls.example"]
            # The certificate is still checked: by address, the name does not match.
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|match"):
                http.get(f"https://127.0.0.1:{server.port}/secure")
    finally:
        server.close()
