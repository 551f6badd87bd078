"""Connect to the address the outbound policy checked, for clients with an HTTP stack of their own.

`outbound.check_host` resolves a name and checks every address; a client that then resolves the name again itself
connects wherever the second answer points (DNS rebinding: a name that answers a public address to the check and
the metadata service to the client). These adapters make the client connect to the checked address while the
name stays in the Host header, in TLS SNI and in certificate verification:

- `opener` — urllib (slack-sdk): connections made for a pinned name go to its checked address; any other name
  (a redirect) is checked when it is connected to;
- `GuardedAdapter` / `session` — requests (google-cloud-bigquery and its OAuth token refresh): every request is
  checked and sent to the checked address, as `outbound.GuardedTransport` does for httpx;
- `smtp` — smtplib: the socket goes to the checked address, STARTTLS / SSL verify the configured name.

clickhouse-connect takes the address as `host` and the name as `server_host_name` (warehouse/clickhouse.py);
psycopg takes it as libpq `hostaddr` (warehouse/postgres.py).
"""

from __future__ import annotations

import functools
import http.client
import smtplib
import socket
import ssl
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from tripl_core import outbound
from tripl_core.settings import Settings

Pins = dict[str, str]  # name → the checked address to connect to


def checked_address(host: str, port: int | None, policy: outbound.Policy) -> str:
    """The address to connect to for `host` (checked now). Raises OutboundRefused or OSError."""
    return str(outbound.check_host(host, port, policy=policy)[0])


def _netloc(ip: str, port: int | None) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{port}" if port else host


# --- urllib (slack-sdk) ------------------------------------------------------------------------------------
def _pinned_create_connection(pins: Pins, policy: outbound.Policy) -> Any:
    def create(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address
        ip = pins.get(host) or checked_address(host, port, policy)
        return socket.create_connection((ip, port), *args, **kwargs)

    return create


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, pins: Pins, policy: outbound.Policy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _pinned_create_connection(pins, policy)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS is wrapped around the pinned socket with `server_hostname=self.host`: the name is verified."""

    def __init__(self, *args: Any, pins: Pins, policy: outbound.Policy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _pinned_create_connection(pins, policy)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, pins: Pins, policy: outbound.Policy) -> None:
        super().__init__()
        self._conn = functools.partial(_PinnedHTTPConnection, pins=pins, policy=policy)

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(self._conn, req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, pins: Pins, policy: outbound.Policy, context: ssl.SSLContext | None = None) -> None:
        super().__init__(context=context)
        self._conn = functools.partial(_PinnedHTTPSConnection, pins=pins, policy=policy)

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(self._conn, req, context=self._context)


def opener(pins: Pins, settings: Settings | Any | None = None,
           context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    """A urllib opener whose connections go to checked addresses (no environment proxies: the policy is about
    where tripl connects)."""
    policy = outbound.Policy.from_settings(settings)
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _PinnedHTTPHandler(pins, policy),
                                       _PinnedHTTPSHandler(pins, policy, context))


# --- requests (google-cloud-bigquery, google-auth) --------------------------------------------------------
class GuardedAdapter(HTTPAdapter):
    """requests' counterpart of `outbound.GuardedTransport`: checks the policy before every request and sends it
    to the checked address; Host, SNI and certificate verification keep the name. A refusal raises
    `outbound.OutboundRefused`; a name that does not resolve, `requests.ConnectionError`."""

    def __init__(self, settings: Settings | Any | None = None, **kwargs: Any) -> None:
        self.policy = outbound.Policy.from_settings(settings)
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        host, port = parts.hostname or "", parts.port or outbound.DEFAULT_PORTS.get(parts.scheme)
        try:
            ip = checked_address(host, port, self.policy)
        except outbound.OutboundRefused as exc:
            # not a requests error: google-api-core and google-auth retry those for minutes; this one is final
            raise outbound.OutboundRefused(str(exc)) from None
        except (OSError, UnicodeError) as exc:
            raise requests.ConnectionError(f"cannot resolve {host}: {exc}", request=request) from None
        if outbound._literal(host) is not None:
            return super().send(request, *args, **kwargs)
        pinned = request.copy()
        pinned.url = urlunsplit(parts._replace(netloc=_netloc(ip, parts.port)))
        pinned.headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
        pinned._tripl_name = host  # type: ignore[attr-defined]  # read by build_connection_pool_key_attributes
        response = super().send(pinned, *args, **kwargs)
        response.request, response.url = request, request.url or ""
        return response

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any,
                                             cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        name = getattr(request, "_tripl_name", None)
        if name and host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = name  # SNI
            if verify is not False:
                pool_kwargs["assert_hostname"] = name  # the certificate must name the host, not the address
        return host_params, pool_kwargs


def session(settings: Settings | Any | None = None, base: type[requests.Session] = requests.Session,
            **kwargs: Any) -> requests.Session:
    """A requests session (or `base`, e.g. google-auth's AuthorizedSession) whose every request is guarded, with
    no environment proxies."""
    s = base(**kwargs)
    s.trust_env = False
    adapter = GuardedAdapter(settings)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


# --- smtplib --------------------------------------------------------------------------------------------
class _PinnedSMTPMixin:
    """`address`: the checked address to connect to (None: smtplib resolves `host` itself). smtplib keeps `host`
    in `_host`, which STARTTLS and SMTP_SSL verify the certificate against."""

    def __init__(self, host: str, port: int, *, address: str | None = None, **kwargs: Any) -> None:
        self.pinned = address
        super().__init__(host, port, **kwargs)  # type: ignore[call-arg]  # connects

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(self.pinned or host, port, timeout)  # type: ignore[misc]


class SMTP(_PinnedSMTPMixin, smtplib.SMTP):
    pass


class SMTP_SSL(_PinnedSMTPMixin, smtplib.SMTP_SSL):  # noqa: N801 - smtplib's name
    pass
