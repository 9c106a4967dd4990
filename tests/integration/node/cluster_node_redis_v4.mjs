// node-redis v4 in plain (non-cluster) mode against seawall in front of a Redis Cluster:
// node cluster_node_redis_v4.mjs PORT TAG,TAG,TAG (one hash tag per shard). Prints, last but one,
// a JSON line with what it left in the cluster, which test_cluster_clients.py reads back with a
// cluster-aware client.
import { createClient } from 'redis';
import { expectEqual, expectReject, port, run } from './check.mjs';

const tags = (process.argv[3] ?? '').split(',').filter(Boolean);

run('node-redis v4 (cluster upstream)', async () => {
  if (tags.length < 3) throw new Error('usage: node cluster_node_redis_v4.mjs PORT TAG,TAG,TAG');
  const client = createClient({ socket: { host: '127.0.0.1', port: port() } });
  const errors = [];
  client.on('error', (err) => errors.push(err));
  await client.connect();
  const state = { strings: {}, hashes: {}, lists: {}, sets: {}, zsets: {}, missing: [] };

  expectEqual('PING', await client.ping(), 'PONG');
  for (const [i, tag] of tags.entries()) {
    const k = (name) => `{${tag}}:nr:${name}`;
    // strings, counters, expiry
    expectEqual(`SET ${tag}`, await client.set(k('s'), `hello-${i}`), 'OK');
    expectEqual(`GET ${tag}`, await client.get(k('s')), `hello-${i}`);
    expectEqual(`SET NX existing ${tag}`, await client.set(k('s'), 'x', { NX: true }), null);
    expectEqual(`APPEND ${tag}`, await client.append(k('s'), '!'), 8);
    expectEqual(`GET missing ${tag}`, await client.get(k('missing')), null);
    expectEqual(`INCRBY ${tag}`, await client.incrBy(k('n'), 40 + i), 40 + i);
    expectEqual(`INCR ${tag}`, await client.incr(k('n')), 41 + i);
    expectEqual(`EXPIRE ${tag}`, await client.expire(k('s'), 1000), true);
    const ttl = await client.ttl(k('s'));
    expectEqual(`TTL in range ${tag}`, ttl > 990 && ttl <= 1000, true);
    state.strings[k('s')] = `hello-${i}!`;
    state.strings[k('n')] = String(41 + i);
    state.missing.push(k('missing'));
    // hashes
    expectEqual(`HSET ${tag}`, await client.hSet(k('h'), { a: String(i), b: 'x', c: 'gone' }), 3);
    expectEqual(`HINCRBY ${tag}`, await client.hIncrBy(k('h'), 'a', 10), 10 + i);
    expectEqual(`HDEL ${tag}`, await client.hDel(k('h'), 'c'), 1);
    expectEqual(`HGETALL ${tag}`, { ...(await client.hGetAll(k('h'))) },
                { a: String(10 + i), b: 'x' });
    state.hashes[k('h')] = { a: String(10 + i), b: 'x' };
    // lists
    expectEqual(`RPUSH ${tag}`, await client.rPush(k('l'), ['a', 'b', 'c']), 3);
    expectEqual(`LPUSH ${tag}`, await client.lPush(k('l'), 'z'), 4);
    expectEqual(`LPOP ${tag}`, await client.lPop(k('l')), 'z');
    expectEqual(`LRANGE ${tag}`, await client.lRange(k('l'), 0, -1), ['a', 'b', 'c']);
    state.lists[k('l')] = ['a', 'b', 'c'];
    // sets
    expectEqual(`SADD ${tag}`, await client.sAdd(k('set'), ['x', 'y', `m${i}`]), 3);
    expectEqual(`SISMEMBER ${tag}`, await client.sIsMember(k('set'), 'y'), true);
    expectEqual(`SCARD ${tag}`, await client.sCard(k('set')), 3);
    state.sets[k('set')] = [`m${i}`, 'x', 'y'];
    // sorted sets
    expectEqual(`ZADD ${tag}`, await client.zAdd(k('z'), [{ score: 1, value: 'a' },
                                                         { score: i + 0.5, value: 'b' }]), 2);
    expectEqual(`ZSCORE ${tag}`, await client.zScore(k('z'), 'b'), i + 0.5);
    expectEqual(`ZRANGE WITHSCORES ${tag}`, await client.zRangeWithScores(k('z'), 0, -1),
                [{ value: i + 0.5 < 1 ? 'b' : 'a', score: Math.min(1, i + 0.5) },
                 { value: i + 0.5 < 1 ? 'a' : 'b', score: Math.max(1, i + 0.5) }]);
    state.zsets[k('z')] = { a: 1, b: i + 0.5 };
    await expectReject(`WRONGTYPE ${tag}`, client.incr(k('l')), /^WRONGTYPE/);
    // a transaction on keys of one hash tag
    expectEqual(`MULTI/EXEC ${tag}`,
                await client.multi().set(k('tx1'), `t${i}`).incr(k('tx2')).get(k('tx1')).exec(),
                ['OK', 1, `t${i}`]);
    state.strings[k('tx1')] = `t${i}`;
    state.strings[k('tx2')] = '1';
  }

  // Multi-key commands across slots and shards: split by slot and merged by seawall.
  const plain = Array.from({ length: 30 }, (_, i) => `nr:x:${i}`);
  expectEqual('MSET across slots', await client.mSet(plain.map((key, i) => [key, `v${i}`])), 'OK');
  expectEqual('MGET across slots', await client.mGet([...plain, 'nr:x:missing']),
              [...plain.map((_, i) => `v${i}`), null]);
  expectEqual('EXISTS across slots', await client.exists([...plain, 'nr:x:missing', plain[0]]), 31);
  expectEqual('DEL across slots', await client.del([...plain.slice(0, 10), 'nr:x:missing']), 10);
  expectEqual('MGET after DEL', await client.mGet(plain.slice(0, 12)),
              [...Array(10).fill(null), 'v10', 'v11']);
  plain.slice(10).forEach((key, i) => { state.strings[key] = `v${i + 10}`; });
  state.missing.push(...plain.slice(0, 10));

  // Other multi-key commands across slots: Redis Cluster's own -CROSSSLOT.
  const sets = tags.map((tag) => `{${tag}}:nr:set`);
  const union = `{${tags[0]}}:nr:union`;
  await expectReject('SUNIONSTORE across slots', client.sUnionStore(union, [sets[1], sets[2]]),
                     /^CROSSSLOT Keys in request don't hash to the same slot/);
  expectEqual('SUNIONSTORE in one slot',
              await client.sUnionStore(union, [sets[0], `{${tags[0]}}:nr:none`]), 3);
  state.sets[union] = ['m0', 'x', 'y'];
  // A transaction across shards: the key of the other shard is refused, EXEC aborts.
  const bad = [`{${tags[0]}}:nr:bad`, `{${tags[1]}}:nr:bad`];
  await expectReject('MULTI across shards', client.multi().set(bad[0], '1').set(bad[1], '2').exec(),
                     /EXECABORT|CROSSSLOT/);
  state.missing.push(...bad);

  // Many concurrent commands on one connection, over every shard: replies in order.
  const counters = tags.map((tag) => `{${tag}}:nr:counter`);
  const replies = await Promise.all(Array.from({ length: 600 }, (_, i) =>
    (i % 2 ? client.get(`{${tags[i % 3]}}:nr:s`) : client.incr(counters[i % 3]))));
  const seen = [0, 0, 0];
  expectEqual('concurrent GET/INCR over the shards, in order', replies,
              Array.from({ length: 600 }, (_, i) => (i % 2 ? `hello-${i % 3}!` : ++seen[i % 3])));
  counters.forEach((key, i) => { state.strings[key] = String(seen[i]); });

  expectEqual('QUIT', await client.quit(), 'OK');
  expectEqual('no client errors', errors.map(String), []);
  console.log(JSON.stringify(state));
});
