// node-redis v4 with default settings against seawall: node node_redis_v4.mjs PORT
import { createClient, commandOptions } from 'redis';
import { binaryBlob, expectEqual, expectReject, port, run } from './check.mjs';

run('node-redis v4', async () => {
  const client = createClient({ socket: { host: '127.0.0.1', port: port() } });
  const errors = [];
  client.on('error', (err) => errors.push(err));
  await client.connect();

  expectEqual('PING', await client.ping(), 'PONG');

  // strings
  expectEqual('SET', await client.set('nr:s', 'hello'), 'OK');
  expectEqual('GET', await client.get('nr:s'), 'hello');
  expectEqual('GET missing', await client.get('nr:missing'), null);
  expectEqual('SET NX existing', await client.set('nr:s', 'x', { NX: true }), null);
  expectEqual('INCRBY', await client.incrBy('nr:n', 41), 41);
  expectEqual('INCR', await client.incr('nr:n'), 42);
  expectEqual('APPEND', await client.append('nr:s', ' world'), 11);
  expectEqual('MGET', await client.mGet(['nr:s', 'nr:missing', 'nr:n']), ['hello world', null, '42']);
  expectEqual('EXPIRE', await client.expire('nr:s', 1000), true);
  const ttl = await client.ttl('nr:s');
  expectEqual('TTL in range', ttl > 990 && ttl <= 1000, true);
  expectEqual('DEL', await client.del(['nr:s', 'nr:missing']), 1);
  await expectReject('WRONGTYPE', (async () => {
    await client.rPush('nr:list-as-string', 'x');
    return client.incr('nr:list-as-string');
  })(), /WRONGTYPE/);

  // hashes
  expectEqual('HSET', await client.hSet('nr:h', { a: '1', b: '2', c: 'three' }), 3);
  expectEqual('HGET', await client.hGet('nr:h', 'c'), 'three');
  expectEqual('HGETALL', await client.hGetAll('nr:h'), Object.assign(Object.create(null), { a: '1', b: '2', c: 'three' }));
  expectEqual('HINCRBY', await client.hIncrBy('nr:h', 'a', 9), 10);
  expectEqual('HDEL', await client.hDel('nr:h', ['b', 'nope']), 1);
  expectEqual('HLEN', await client.hLen('nr:h'), 2);
  expectEqual('HMGET', await client.hmGet('nr:h', ['a', 'b']), ['10', null]);

  // lists
  expectEqual('RPUSH', await client.rPush('nr:l', ['a', 'b', 'c', 'd']), 4);
  expectEqual('LPUSH', await client.lPush('nr:l', 'z'), 5);
  expectEqual('LRANGE', await client.lRange('nr:l', 0, -1), ['z', 'a', 'b', 'c', 'd']);
  expectEqual('LPOP', await client.lPop('nr:l'), 'z');
  expectEqual('RPOP', await client.rPop('nr:l'), 'd');
  expectEqual('LLEN', await client.lLen('nr:l'), 3);
  expectEqual('LINDEX', await client.lIndex('nr:l', 1), 'b');

  // sets
  expectEqual('SADD', await client.sAdd('nr:set', ['x', 'y', 'z']), 3);
  expectEqual('SMEMBERS', (await client.sMembers('nr:set')).sort(), ['x', 'y', 'z']);
  expectEqual('SISMEMBER', await client.sIsMember('nr:set', 'y'), true);
  expectEqual('SCARD', await client.sCard('nr:set'), 3);
  await client.sAdd('nr:set2', ['y', 'w']);
  expectEqual('SINTER', await client.sInter(['nr:set', 'nr:set2']), ['y']);

  // sorted sets
  expectEqual('ZADD', await client.zAdd('nr:z', [{ score: 1, value: 'a' }, { score: 2.5, value: 'b' }]), 2);
  expectEqual('ZRANGE WITHSCORES', await client.zRangeWithScores('nr:z', 0, -1),
              [{ value: 'a', score: 1 }, { value: 'b', score: 2.5 }]);
  expectEqual('ZSCORE', await client.zScore('nr:z', 'b'), 2.5);
  expectEqual('ZINCRBY', await client.zIncrBy('nr:z', 2, 'a'), 3);
  expectEqual('ZRANK', await client.zRank('nr:z', 'a'), 1);

  // batching without MULTI
  const batch = client.multi();
  for (let i = 0; i < 1000; i++) batch.set(`nr:b:${i}`, String(i));
  for (let i = 0; i < 1000; i++) batch.get(`nr:b:${i}`);
  const batchReplies = await batch.execAsPipeline();
  expectEqual('pipeline SET replies', batchReplies.slice(0, 1000), Array(1000).fill('OK'));
  expectEqual('pipeline GET replies', batchReplies.slice(1000), Array.from({ length: 1000 }, (_, i) => String(i)));

  // 1000 concurrent promises on one connection (node-redis pipelines them itself)
  const sets = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
    client.set(`nr:c:${i}`, `v${i}`.repeat(1 + (i % 7)))));
  expectEqual('concurrent SET', sets, Array(1000).fill('OK'));
  const mixed = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
    i % 2 ? client.get(`nr:c:${i}`) : client.incr('nr:c:counter')));
  let counter = 0;
  const expected = Array.from({ length: 1000 }, (_, i) => (i % 2 ? `v${i}`.repeat(1 + (i % 7)) : ++counter));
  expectEqual('concurrent mixed GET/INCR in order', mixed, expected);

  // binary buffers
  const blob = binaryBlob();
  const keyBlob = Buffer.concat([Buffer.from('nr:bin:'), blob]);
  expectEqual('SET buffer', await client.set(keyBlob, blob), 'OK');
  const back = await client.get(commandOptions({ returnBuffers: true }), keyBlob);
  expectEqual('GET buffer', Buffer.compare(back, blob), 0);
  const big = Buffer.alloc(5 * 1024 * 1024, 7);
  big.write('\r\n', 1000);
  expectEqual('SET 5 MB', await client.set('nr:big', big), 'OK');
  const bigBack = await client.get(commandOptions({ returnBuffers: true }), 'nr:big');
  expectEqual('GET 5 MB', Buffer.compare(bigBack, big), 0);

  // Lua with keys
  expectEqual('EVAL', await client.eval("return {KEYS[1], ARGV[1], {1, 2}}", { keys: ['nr:k'], arguments: ['arg'] }),
              ['nr:k', 'arg', [1, 2]]);

  expectEqual('QUIT', await client.quit(), 'OK');
  expectEqual('no client errors', errors.map(String), []);
});
