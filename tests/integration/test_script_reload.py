"""Scripts after a Redis restart: EVALSHA works through seawall as it does direct.

A restarted Redis has forgotten every script. Direct, the restart also closes the client's
connection, and ioredis sends its scripts again (as EVAL) on the new one. Through seawall the
client's connection stays up, so seawall loads the scripts it saw on each new upstream connection.
"""
from __future__ import annotations

import pytest
import redis

from harness import node_across_restart, wait_until


def test_ioredis_scripts_after_a_restart_as_direct(make_seawall, redis_server, direct_server,
                                                    node_modules):
    sw = make_seawall()
    direct = node_across_restart(node_modules, direct_server.port, direct_server,
                                 "evalsha_after_restart", tell_restarted=True)
    through = node_across_restart(node_modules, sw.port, redis_server, "evalsha_after_restart",
                                  tell_restarted=True)
    assert direct == {"before": ["OK", "b"], "multi": [1, "1"], "pipeline": [1, "1"],
                      "single": "1"}
    assert through == direct


def test_evalsha_of_a_script_loaded_before_a_restart(make_seawall, redis_server):
    sw = make_seawall()
    client = redis.Redis(port=sw.port)
    sha = client.script_load("return 'v1'")
    assert client.evalsha(sha, 0) == b"v1"
    redis_server.restart()
    # The pooled connections reconnect and load the script before anything else.
    wait_until(lambda: _evalsha_or_none(client, sha) == b"v1", 10, "EVALSHA after the restart")
    # Inside MULTI too (a dedicated connection, opened after the restart).
    pipe = client.pipeline(transaction=True)
    pipe.evalsha(sha, 0)
    assert pipe.execute() == [b"v1"]


def test_script_flush_is_forgotten_as_redis_forgets_it(make_seawall, redis_server):
    sw = make_seawall()
    client = redis.Redis(port=sw.port)
    sha = client.script_load("return 'v2'")
    client.script_flush()
    redis_server.restart()
    wait_until(lambda: _reachable(client), 10, "seawall to reach Redis again")
    with pytest.raises(redis.exceptions.NoScriptError):
        client.evalsha(sha, 0)


def _evalsha_or_none(client: redis.Redis, sha: str):
    try:
        return client.evalsha(sha, 0)
    except redis.exceptions.ResponseError:
        return None


def _reachable(client: redis.Redis) -> bool:
    try:
        return client.set("reach", "1") is True
    except redis.exceptions.RedisError:
        return False
