// ioredis v5 in plain (non-cluster) mode against seawall in front of a Redis Cluster:
// node cluster_ioredis_v5.mjs PORT TAG,TAG,TAG (one hash tag per shard). Prints, last but one,
// a JSON line with what it left in the cluster, which test_cluster_clients.py reads back with a
// cluster-aware client.
import Redis from 'ioredis';
import { expectEqual, expectReject, port, run } from './check.mjs';

const tags = (process.argv[3] ?? '').split(',').filter(Boolean);

run('ioredis v5 (cluster upstream)', async () => {
  if (tags.length < 3) throw new Error('usage: node cluster_ioredis_v5.mjs PORT TAG,TAG,TAG');
  const redis = new Redis({ host: '127.0.0.1', port: port() });
  const errors = [];
  redis.on('error', (err) => errors.push(err));
  await new Promise((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
  const state = { strings: {}, hashes: {}, lists: {}, sets: {}, zsets: {}, missing: [] };

  expectEqual('PING', await redis.ping(), 'PONG');
  for (const [i, tag] of tags.entries()) {
    const k = (name) => `{${tag}}:io:${name}`;
    // strings, counters, expiry
    expectEqual(`SET ${tag}`, await redis.set(k('s'), `hello-${i}`), 'OK');
    expectEqual(`GET ${tag}`, await redis.get(k('s')), `hello-${i}`);
    expectEqual(`SET NX existing ${tag}`, await redis.set(k('s'), 'x', 'NX'), null);
    expectEqual(`APPEND ${tag}`, await redis.append(k('s'), '!'), 8);
    expectEqual(`GET missing ${tag}`, await redis.get(k('missing')), null);
    expectEqual(`INCRBY ${tag}`, await redis.incrby(k('n'), 40 + i), 40 + i);
    expectEqual(`INCR ${tag}`, await redis.incr(k('n')), 41 + i);
    expectEqual(`SETEX ${tag}`, await redis.setex(k('e'), 1000, 'ex'), 'OK');
    const ttl = await redis.ttl(k('e'));
    expectEqual(`TTL in range ${tag}`, ttl > 990 && ttl <= 1000, true);
    state.strings[k('s')] = `hello-${i}!`;
    state.strings[k('n')] = String(41 + i);
    state.strings[k('e')] = 'ex';
    state.missing.push(k('missing'));
    // hashes
    expectEqual(`HSET ${tag}`, await redis.hset(k('h'), { a: String(i), b: 'x', c: 'gone' }), 3);
    expectEqual(`HINCRBY ${tag}`, await redis.hincrby(k('h'), 'a', 10), 10 + i);
    expectEqual(`HDEL ${tag}`, await redis.hdel(k('h'), 'c'), 1);
    expectEqual(`HGETALL ${tag}`, await redis.hgetall(k('h')), { a: String(10 + i), b: 'x' });
    state.hashes[k('h')] = { a: String(10 + i), b: 'x' };
    // lists
    expectEqual(`RPUSH ${tag}`, await redis.rpush(k('l'), 'a', 'b', 'c'), 3);
    expectEqual(`LPUSH ${tag}`, await redis.lpush(k('l'), 'z'), 4);
    expectEqual(`LPOP ${tag}`, await redis.lpop(k('l')), 'z');
    expectEqual(`LRANGE ${tag}`, await redis.lrange(k('l'), 0, -1), ['a', 'b', 'c']);
    state.lists[k('l')] = ['a', 'b', 'c'];
    // sets
    expectEqual(`SADD ${tag}`, await redis.sadd(k('set'), 'x', 'y', `m${i}`), 3);
    expectEqual(`SISMEMBER ${tag}`, await redis.sismember(k('set'), 'y'), 1);
    expectEqual(`SCARD ${tag}`, await redis.scard(k('set')), 3);
    state.sets[k('set')] = [`m${i}`, 'x', 'y'];
    // sorted sets
    expectEqual(`ZADD ${tag}`, await redis.zadd(k('z'), 1, 'a', i + 0.5, 'b'), 2);
    expectEqual(`ZSCORE ${tag}`, await redis.zscore(k('z'), 'b'), String(i + 0.5));
    expectEqual(`ZRANGE WITHSCORES ${tag}`, await redis.zrange(k('z'), 0, -1, 'WITHSCORES'),
                i + 0.5 < 1 ? ['b', String(i + 0.5), 'a', '1'] : ['a', '1', 'b', String(i + 0.5)]);
    state.zsets[k('z')] = { a: 1, b: i + 0.5 };
    await expectReject(`WRONGTYPE ${tag}`, redis.incr(k('l')), /^WRONGTYPE/);
    // a transaction on keys of one hash tag
    expectEqual(`MULTI/EXEC ${tag}`,
                await redis.multi().set(k('tx1'), `t${i}`).incr(k('tx2')).get(k('tx1')).exec(),
                [[null, 'OK'], [null, 1], [null, `t${i}`]]);
    state.strings[k('tx1')] = `t${i}`;
    state.strings[k('tx2')] = '1';
  }

  // Multi-key commands across slots and shards: split by slot and merged by seawall.
  const plain = Array.from({ length: 30 }, (_, i) => `io:x:${i}`);
  const pairs = Object.fromEntries(plain.map((key, i) => [key, `v${i}`]));
  expectEqual('MSET across slots', await redis.mset(pairs), 'OK');
  expectEqual('MGET across slots', await redis.mget(...plain, 'io:x:missing'),
              [...plain.map((_, i) => `v${i}`), null]);
  expectEqual('EXISTS across slots', await redis.exists(...plain, 'io:x:missing', plain[0]), 31);
  expectEqual('DEL across slots', await redis.del(...plain.slice(0, 10), 'io:x:missing'), 10);
  expectEqual('MGET after DEL', await redis.mget(...plain.slice(0, 12)),
              [...Array(10).fill(null), 'v10', 'v11']);
  plain.slice(10).forEach((key, i) => { state.strings[key] = `v${i + 10}`; });
  state.missing.push(...plain.slice(0, 10));

  // Other multi-key commands across slots: Redis Cluster's own -CROSSSLOT.
  const sets = tags.map((tag) => `{${tag}}:io:set`);
  const union = `{${tags[0]}}:io:union`;
  await expectReject('SUNIONSTORE across slots', redis.sunionstore(union, sets[1], sets[2]),
                     /^CROSSSLOT Keys in request don't hash to the same slot/);
  expectEqual('SUNIONSTORE in one slot',
              await redis.sunionstore(union, sets[0], `{${tags[0]}}:io:none`), 3);
  state.sets[union] = ['m0', 'x', 'y'];
  // A transaction across shards: the key of the other shard is refused, EXEC aborts.
  const bad = [`{${tags[0]}}:io:bad`, `{${tags[1]}}:io:bad`];
  await expectReject('MULTI across shards', redis.multi().set(bad[0], '1').set(bad[1], '2').exec(),
                     /EXECABORT|CROSSSLOT/);
  state.missing.push(...bad);

  // A pipeline (no MULTI) over every shard, then many concurrent commands: replies in order.
  const pipeline = redis.pipeline();
  for (let i = 0; i < 600; i++) pipeline.set(`io:p:${i}`, String(i));
  for (let i = 0; i < 600; i++) pipeline.get(`io:p:${i}`);
  const results = await pipeline.exec();
  expectEqual('pipeline errors', results.filter(([err]) => err).length, 0);
  expectEqual('pipeline GETs', results.slice(600).map(([, v]) => v),
              Array.from({ length: 600 }, (_, i) => String(i)));
  for (let i = 0; i < 600; i += 50) state.strings[`io:p:${i}`] = String(i);
  const counters = tags.map((tag) => `{${tag}}:io:counter`);
  const replies = await Promise.all(Array.from({ length: 600 }, (_, i) =>
    (i % 2 ? redis.get(`{${tags[i % 3]}}:io:s`) : redis.incr(counters[i % 3]))));
  const seen = [0, 0, 0];
  expectEqual('concurrent GET/INCR over the shards, in order', replies,
              Array.from({ length: 600 }, (_, i) => (i % 2 ? `hello-${i % 3}!` : ++seen[i % 3])));
  counters.forEach((key, i) => { state.strings[key] = String(seen[i]); });

  expectEqual('QUIT', await redis.quit(), 'OK');
  expectEqual('no client errors', errors.map(String), []);
  console.log(JSON.stringify(state));
});
