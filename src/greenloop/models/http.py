"""One pooled HTTP client for a model endpoint, with bounded retries.

Retried: 408, 409, 429 and 5xx answers, timeouts, refused or reset connections, and a 2xx answer
whose body is not JSON (a proxy's error page). The wait doubles from `backoff` up to `max_backoff`,
with full jitter so that parallel calls rate-limited together do not come back together; a
`Retry-After` header (seconds or an HTTP date) replaces the computed wait. When the retries are
spent the call raises `ModelCallFailed` with one line saying what happened and how often.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from greenloop.models import ModelCallFailed, ModelError

RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5  # after the first try
    backoff: float = 1.0  # seconds before the first retry, doubling after each
    max_backoff: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After ends the call instead of stalling the run

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return rng.uniform(0, min(self.max_backoff, self.backoff * 2 ** retry))


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class Reply:
    data: dict[str, Any]
    seconds: float  # the successful request's own time
    retries: int


class Endpoint:
    """A base URL with its headers, a connection pool sized for `parallel` calls, and the retry policy."""

    def __init__(self, base_url: str, headers: dict[str, str], *, parallel: int = 4, timeout: float = 120.0,
                 policy: RetryPolicy | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=max(parallel, 1) * 2, max_keepalive_connections=max(parallel, 1)),
        )
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def reachable(self) -> None:
        try:
            self.client.get(f"{self.base_url}/models", timeout=10.0)
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach the model endpoint {self.base_url} ({type(exc).__name__}); "
                             "start the server or set --base-url") from None

    def post(self, path: str, body: dict[str, Any]) -> Reply:
        url = f"{self.base_url}{path}"
        retries = 0
        while True:
            wait_hint: float | None = None
            started = time.perf_counter()
            try:
                response = self.client.post(url, json=body)
            except httpx.TimeoutException:
                problem = "timed out"
            except httpx.TransportError as exc:  # refused, reset, closed mid-answer
                problem = f"connection failed ({type(exc).__name__})"
            else:
                status = response.status_code
                if status < 300:
                    try:
                        data = response.json()
                    except ValueError:
                        problem = "answered with a body that is not JSON"
                    else:
                        if isinstance(data, dict):
                            return Reply(data, time.perf_counter() - started, retries)
                        problem = "answered with JSON that is not an object"
                elif status in (401, 403):
                    raise ModelCallFailed(f"the model endpoint {self.base_url} refused the key ({status}); "
                                          "check the API key", retries)
                elif status in RETRYABLE_STATUS or status >= 500:
                    problem = f"answered {status}"
                    wait_hint = retry_after(response.headers.get("retry-after"))
                else:
                    raise ModelCallFailed(f"the model endpoint {self.base_url} answered {status}: "
                                          f"{' '.join(response.text[:200].split())}", retries)
            if retries >= self.policy.retries:
                raise ModelCallFailed(f"the model endpoint {self.base_url} {problem}, and still did after "
                                      f"{retries} retries; try again later or lower --parallel", retries)
            if wait_hint is not None and wait_hint > self.policy.max_retry_after:
                raise ModelCallFailed(f"the model endpoint {self.base_url} {problem} and asks to wait "
                                      f"{wait_hint:.0f}s; try again later", retries)
            with self._rng_lock:
                delay = self.policy.delay(retries, wait_hint, self._rng)
            time.sleep(delay)
            retries += 1
