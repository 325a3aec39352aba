"""PodLogFollower (harness/k8s/logs.py) over fake log streams: no cluster."""
from __future__ import annotations

import threading

from harness.k8s.logs import PodLogFollower


class Stream:
    """A followed log: yields ``chunks``, then blocks (a quiet log) until shut down when ``hold``."""

    def __init__(self, chunks, hold=True):
        self.chunks = list(chunks)
        self.hold = hold
        self.shut = threading.Event()

    def stream(self, amt):
        yield from self.chunks
        if self.hold:
            self.shut.wait(10)  # a blocked read: returns when stop() shuts the socket

    def shutdown(self):
        self.shut.set()


def follower(streams, pods=("traefik-a",), **kw):
    opened = []

    def opener(name, since):
        opened.append((name, since))
        return streams[name].pop(0)

    f = PodLogFollower(None, "harness-traefik", "app=traefik", opener=opener, lister=lambda: list(pods), **kw)
    return f, opened


def test_lines_split_across_chunks_are_joined_and_filtered():
    f, opened = follower({"traefik-a": [Stream([b'{"a": "run1-0"}\n{"a": "ru', b'n1-1"}\nINF other\n', b'{"a":"run1-2"}'])]},
                         keep=lambda line: "run1" in line, clock=lambda: 1000.0)
    f.start()
    assert f.wait_until(lambda lines: len(lines) == 2, timeout=5)
    assert not f.wait_until(lambda lines: len(lines) == 3, timeout=0.3)  # a line without its newline yet
    cap = f.stop()  # ... is kept when the stream ends
    assert cap.lines == ['{"a": "run1-0"}', '{"a": "run1-1"}', '{"a":"run1-2"}']
    assert cap.pods == ["traefik-a"] and cap.errors == [] and opened == [("traefik-a", 5)]  # 5 s before start()


def test_every_replica_is_followed():
    f, _ = follower({"traefik-a": [Stream([b"a1\n"])], "traefik-b": [Stream([b"b1\nb2\n"])]},
                    pods=("traefik-a", "traefik-b"))
    f.start()
    assert f.wait_until(lambda lines: len(lines) == 3, timeout=5)
    assert sorted(f.stop().lines) == ["a1", "b1", "b2"]


def test_a_stream_that_ends_is_opened_again_and_repeated_lines_kept_once():
    f, opened = follower({"traefik-a": [Stream([b"one\ntwo\n"], hold=False), Stream([b"two\nthree\n"])]})
    f.start()
    assert f.wait_until(lambda lines: len(lines) == 3, timeout=5)
    assert f.stop().lines == ["one", "two", "three"]
    assert len(opened) == 2 and opened[1][1] >= 1


def test_lines_beyond_the_bound_are_counted_not_kept():
    f, _ = follower({"traefik-a": [Stream([b"1\n2\n3\n4\n"])]}, max_lines=2)
    f.start()
    f.wait_until(lambda lines: False, timeout=0.5)
    cap = f.stop()
    assert cap.lines == ["1", "2"] and cap.dropped == 2


def test_no_pod_or_a_stream_that_cannot_open_is_an_error_line_not_an_exception():
    f = PodLogFollower(None, "harness-traefik", "app=traefik", opener=lambda n, s: None, lister=lambda: [])
    assert f.start().stop().errors == ["no running pod matches app=traefik in harness-traefik"]

    def boom(name, since):
        raise RuntimeError("pods \"traefik-a\" is forbidden\nmore")

    f = PodLogFollower(None, "harness-traefik", "app=traefik", opener=boom, lister=lambda: ["traefik-a"])
    f.start()
    f.wait_until(lambda lines: False, timeout=2)
    assert f.stop().errors == ['log of traefik-a: RuntimeError: pods "traefik-a" is forbidden']

    def no_list():
        raise OSError("connection refused")

    f = PodLogFollower(None, "ns", "app=x", opener=boom, lister=no_list)
    assert f.start().stop().errors == ["listing pods app=x in ns: OSError: connection refused"]


def test_stop_returns_while_a_read_blocks():
    s = Stream([b"x\n"])
    f, _ = follower({"traefik-a": [s]})
    f.start()
    assert f.wait_until(lambda lines: lines == ["x"], timeout=5)
    f.stop()
    assert s.shut.is_set()
    assert not any(t.is_alive() for t in f._threads)



def test_a_stream_opened_late_still_reaches_back_before_start():
    clock = iter([1000.0] + [1012.0] * 50)  # start() at 1000; the stream opens 12 s later
    f, opened = follower({"traefik-a": [Stream([b"x\n"])]}, clock=lambda: next(clock))
    f.start()
    assert f.wait_until(lambda lines: lines == ["x"], timeout=5)
    f.stop()
    assert opened == [("traefik-a", 17)]  # 12 s late + the 5 s it reaches back


def test_a_stream_without_chunked_encoding_is_read_as_bytes_arrive():
    class Plain:
        chunked = False

        def __init__(self):
            self.parts = [b"a\nb", b"\n", b""]

        def read1(self, amt):
            return self.parts.pop(0)

        def stream(self, amt):  # would wait for amt bytes: must not be used
            raise AssertionError("stream() used on a response without chunked encoding")

    f, _ = follower({"traefik-a": [Plain()]}, reopen=0)
    f.start()
    assert f.wait_until(lambda lines: lines == ["a", "b"], timeout=5)
    assert f.stop().errors == []


def test_the_real_client_accepts_the_follow_arguments(monkeypatch):
    """kubernetes>=35 validates every argument (pydantic, strict): a None read timeout or a float
    since_seconds is a ValidationError before any request. The call reaches call_api here."""
    from kubernetes import client

    class Reached(Exception):
        pass

    api = client.ApiClient(client.Configuration(host="http://127.0.0.1:9"))

    def call_api(*args, **kwargs):
        raise Reached(kwargs.get("_request_timeout") or args)

    monkeypatch.setattr(api, "call_api", call_api)
    f = PodLogFollower(api, "harness-traefik", "app=traefik")
    try:
        f._api_open("traefik-abc", 7.0)
    except Reached:
        pass
    f2 = PodLogFollower(api, "harness-traefik", "app=traefik", container="traefik")
    try:
        f2._api_open("traefik-abc", 3)
    except Reached:
        pass
    api.close()
