"""Traefik's JSON access-log lines -> records (harness/measure/attribution.py), and the old/new series.

The lines are written the way Traefik v3.7 writes them: logrus' JSONFormatter marshals a Go map, so
keys come sorted; ``StartUTC`` is a ``time.Time`` (RFC 3339, nanoseconds, ``Z``); ``Duration`` a
``time.Duration`` (nanoseconds); ``level``/``msg``/``time`` are logrus' own keys; a kept request
header is ``request_<Canonical-Name>`` (pkg/middlewares/accesslog/logger.go ``redactHeaders``)."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from harness.measure.attribution import (
    NEW,
    OLD,
    ServedBucket,
    canonical_header,
    header_field,
    mixed_seconds,
    parse_line,
    parse_lines,
    parse_time,
    served_series,
    served_spans,
    split_host_port,
)

PID = "0a1b2c3d"
T0 = dt.datetime(2026, 11, 30, 8, 50, 52, tzinfo=dt.UTC).timestamp()


def traefik_line(seq: int | str, *, start: str = "2026-11-30T08:50:52.123456789Z", addr: str | None = "10.244.1.7:8080",
                 status: int = 200, origin: int | None = 200, pid: str = PID, retries: int = 0, **extra) -> str:
    """One access-log line as Traefik writes it with the add-on's fields kept."""
    data = {"DownstreamStatus": status, "Duration": 251234567, "RequestHost": "ha-service.test",
            "RequestMethod": "GET", "RequestPath": "/slow?ms=250", "RetryAttempts": retries,
            "RouterName": "upgrade-ha-web-ha-service-test-slow@kubernetesingressnginx",
            "StartUTC": start, "level": "info", "msg": "", "request_X-Harness-Probe": f"{pid}-{seq}",
            "time": "2026-11-30T08:50:52Z"}
    if origin is not None:
        data["OriginStatus"] = origin
    if addr is not None:
        data.update({"ServiceAddr": addr, "ServiceURL": f"http://{addr}",
                     "ServiceName": "upgrade-ha-web-8080@kubernetesingressnginx"})
    data.update(extra)
    return json.dumps(dict(sorted(data.items())), separators=(",", ":"))


def test_the_probe_header_is_kept_under_its_canonical_name():
    assert canonical_header("x-harness-probe") == "X-Harness-Probe"
    assert canonical_header("X-HARNESS-PROBE") == "X-Harness-Probe"
    assert header_field() == "request_X-Harness-Probe"


def test_go_times_are_read_to_the_microsecond():
    assert parse_time("2026-11-30T08:50:52.123456789Z") == pytest.approx(T0 + 0.123456789, abs=1e-6)
    assert parse_time("2026-11-30T08:50:52Z") == T0
    assert parse_time("2026-11-30T09:50:52.5+01:00") == T0 + 0.5
    for bad in ("2026-11-30 08:50:52", "", None, 17, "yesterday"):
        assert parse_time(bad) is None


def test_upstream_addresses_split_for_ipv4_and_ipv6():
    assert split_host_port("10.244.1.7:8080") == ("10.244.1.7", 8080)
    assert split_host_port("[fd00:10:244::7]:8080") == ("fd00:10:244::7", 8080)
    assert split_host_port("10.244.1.7") == ("10.244.1.7", None)


def test_a_line_answered_by_a_pod():
    rec = parse_line(traefik_line(17, retries=1), PID)
    assert rec.seq == 17 and rec.upstream == "10.244.1.7:8080" and rec.upstream_ip == "10.244.1.7"
    assert (rec.status, rec.origin_status, rec.retries, rec.host) == (200, 200, 1, "ha-service.test")
    assert rec.start == pytest.approx(T0 + 0.123456789, abs=1e-6)
    assert rec.duration == pytest.approx(0.251234567)


def test_service_url_stands_in_for_a_missing_service_addr():
    line = json.loads(traefik_line(3))
    del line["ServiceAddr"]
    assert parse_line(json.dumps(line), PID).upstream == "10.244.1.7:8080"


def test_a_request_the_edge_answered_itself_has_no_upstream():
    rec = parse_line(traefik_line(4, addr=None, status=503, origin=None), PID)
    assert rec.upstream is None and rec.upstream_ip is None and rec.status == 503


def test_other_lines_are_not_this_runs():
    own_log = "2026-11-30T08:50:50Z INF Starting provider *ingressnginx.Provider"
    json_own_log = json.dumps({"level": "info", "msg": f"configuration {PID}", "time": "2026-11-30T08:50:50Z"})
    for line in (own_log, json_own_log, traefik_line(5, pid="ffffffff"), "", "{not json " + PID):
        assert parse_line(line, PID) is None


def test_a_line_of_this_run_that_cannot_be_read_is_malformed():
    assert parse_line(traefik_line(6, start="not a time"), PID) is False
    assert parse_line(traefik_line("x"), PID) is False


def test_parse_lines_counts_what_it_skipped():
    lines = [traefik_line(0), traefik_line(1, addr="10.244.2.9:8080"), traefik_line(1),
             "2026-11-30T08:50:50Z INF something", traefik_line(2, start="bad")]
    log = parse_lines(lines, PID)
    assert sorted(log.records) == [0, 1] and log.records[1].upstream == "10.244.2.9:8080"
    assert (log.lines, log.other, log.malformed, log.duplicates) == (5, 1, 1, 1)


def test_served_series_has_a_slot_per_second_gaps_included():
    series = served_series([(0.1, OLD), (0.6, OLD), (1.2, NEW), (1.4, OLD), (3.5, NEW), (3.9, None)])
    assert series == [ServedBucket(0.0, 2, 0, 0), ServedBucket(1.0, 1, 1, 0), ServedBucket(2.0, 0, 0, 0),
                      ServedBucket(3.0, 0, 1, 1)]
    assert series[1].new_share == 0.5 and series[2].new_share is None
    assert mixed_seconds(series) == 1.0
    assert served_series([]) == []


def test_served_spans_say_when_each_side_served():
    assert served_spans([(0.0, OLD), (4.6, NEW), (10.8, OLD), (15.0, NEW), (16.0, None)]) == \
        "old 0.0-10.8 s, new 4.6-15.0 s"
    assert served_spans([(1.0, None)]) == ""
