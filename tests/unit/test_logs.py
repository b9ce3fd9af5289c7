from __future__ import annotations

import json
import logging

import pytest

from kitsync.logs import configure


def test_secrets_are_scrubbed_in_plain_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("plain", "json"):
        configure("INFO", fmt, secrets=["s3cret-api-key", "hunter2"])  # type: ignore[arg-type]
        log = logging.getLogger("kitsync.test")
        log.info("calling with key %s", "s3cret-api-key")
        try:
            raise RuntimeError("connect failed for postgresql://u:hunter2@db/x")
        except RuntimeError:
            log.exception("boom")
        err = capsys.readouterr().err
        assert "s3cret-api-key" not in err and "hunter2" not in err
        assert "***" in err
        if fmt == "json":
            lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
            assert lines[0]["message"] == "calling with key ***"
            assert "RuntimeError" in lines[1]["exception"]
    logging.getLogger().handlers.clear()


def test_a_secret_quoted_as_a_repr_is_scrubbed_too(capsys: pytest.CaptureFixture[str]) -> None:
    """httpx/h11 quote a refused header value as bytes: a backslash in the secret is doubled."""
    secret = "key\\with-backslash"
    configure("INFO", "plain", secrets=[secret])
    logging.getLogger("kitsync.test").error("Illegal header value %r", secret.encode())
    err = capsys.readouterr().err
    assert "with-backslash" not in err and "***" in err
    logging.getLogger().handlers.clear()
