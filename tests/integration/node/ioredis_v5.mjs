// ioredis v5 with default settings against seawall: node ioredis_v5.mjs PORT
import Redis from 'ioredis';
import { binaryBlob, expectEqual, expectReject, port, run } from './check.mjs';

run('ioredis v5', async () => {
  const redis = new Redis({ host: '127.0.0.1', port: port() });
  const errors = [];
  redis.on('error', (err) => errors.push(err));
  await new Promise((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });

  expectEqual('PING', await redis.ping(), 'PONG');

  // strings
  expectEqual('SET', await redis.set('io:s', 'hello'), 'OK');
  expectEqual('GET', await redis.get('io:s'), 'hello');
  expectEqual('GET missing', await redis.get('io:missing'), null);
  expectEqual('SET NX existing', await redis.set('io:s', 'x', 'NX'), null);
  expectEqual('INCRBY', await redis.incrby('io:n', 41), 41);
  expectEqual('INCR', await redis.incr('io:n'), 42);
  expectEqual('MGET', await redis.mget('io:s', 'io:missing', 'io:n'), ['hello', null, '42']);
  expectEqual('SETEX', await redis.setex('io:e', 1000, 'v'), 'OK');
  expectEqual('DEL', await redis.del('io:s', 'io:missing'), 1);
  await redis.rpush('io:list-as-string', 'x');
  await expectReject('WRONGTYPE', redis.incr('io:list-as-string'), /WRONGTYPE/);
  await expectReject('unknown command', redis.call('NOSUCHCOMMAND', 'a'), /unknown command/);

  // hashes
  expectEqual('HSET', await redis.hset('io:h', { a: '1', b: '2', c: 'three' }), 3);
  expectEqual('HGET', await redis.hget('io:h', 'c'), 'three');
  expectEqual('HGETALL', await redis.hgetall('io:h'), { a: '1', b: '2', c: 'three' });
  expectEqual('HINCRBY', await redis.hincrby('io:h', 'a', 9), 10);
  expectEqual('HDEL', await redis.hdel('io:h', 'b', 'nope'), 1);
  expectEqual('HMGET', await redis.hmget('io:h', 'a', 'b'), ['10', null]);

  // lists
  expectEqual('RPUSH', await redis.rpush('io:l', 'a', 'b', 'c', 'd'), 4);
  expectEqual('LRANGE', await redis.lrange('io:l', 0, -1), ['a', 'b', 'c', 'd']);
  expectEqual('LPOP', await redis.lpop('io:l'), 'a');
  expectEqual('RPOP count', await redis.rpop('io:l', 2), ['d', 'c']);
  expectEqual('LLEN', await redis.llen('io:l'), 1);

  // sets
  expectEqual('SADD', await redis.sadd('io:set', 'x', 'y', 'z'), 3);
  expectEqual('SMEMBERS', (await redis.smembers('io:set')).sort(), ['x', 'y', 'z']);
  expectEqual('SISMEMBER', await redis.sismember('io:set', 'q'), 0);
  expectEqual('SREM', await redis.srem('io:set', 'x'), 1);

  // sorted sets
  expectEqual('ZADD', await redis.zadd('io:z', 1, 'a', 2.5, 'b', 3, 'c'), 3);
  expectEqual('ZRANGE WITHSCORES', await redis.zrange('io:z', 0, -1, 'WITHSCORES'),
              ['a', '1', 'b', '2.5', 'c', '3']);
  expectEqual('ZSCORE', await redis.zscore('io:z', 'b'), '2.5');
  expectEqual('ZREVRANK', await redis.zrevrank('io:z', 'a'), 2);
  expectEqual('ZPOPMAX', await redis.zpopmax('io:z'), ['c', '3']);

  // pipeline (no MULTI)
  const pipeline = redis.pipeline();
  for (let i = 0; i < 2000; i++) pipeline.set(`io:p:${i}`, String(i));
  for (let i = 0; i < 2000; i++) pipeline.get(`io:p:${i}`);
  pipeline.incr('io:s-is-gone-so-this-is-1');
  pipeline.hget('io:h', 'a');
  const results = await pipeline.exec();
  expectEqual('pipeline errors', results.filter(([err]) => err).length, 0);
  expectEqual('pipeline SETs', results.slice(0, 2000).map(([, v]) => v), Array(2000).fill('OK'));
  expectEqual('pipeline GETs', results.slice(2000, 4000).map(([, v]) => v),
              Array.from({ length: 2000 }, (_, i) => String(i)));
  expectEqual('pipeline tail', results.slice(4000).map(([, v]) => v), [1, '10']);

  // 1000 concurrent promises
  const sets = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
    redis.set(`io:c:${i}`, `v${i}`.repeat(1 + (i % 5)))));
  expectEqual('concurrent SET', sets, Array(1000).fill('OK'));
  const mixed = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
    i % 2 ? redis.get(`io:c:${i}`) : redis.incr('io:c:counter')));
  let counter = 0;
  expectEqual('concurrent mixed GET/INCR in order', mixed,
              Array.from({ length: 1000 }, (_, i) => (i % 2 ? `v${i}`.repeat(1 + (i % 5)) : ++counter)));

  // binary buffers
  const blob = binaryBlob();
  const keyBlob = Buffer.concat([Buffer.from('io:bin:'), blob]);
  expectEqual('SET buffer', await redis.set(keyBlob, blob), 'OK');
  expectEqual('GET buffer', Buffer.compare(await redis.getBuffer(keyBlob), blob), 0);
  expectEqual('HSET buffer field', await redis.hset('io:hb', blob, blob), 1);
  expectEqual('HGET buffer field', Buffer.compare(await redis.hgetBuffer('io:hb', blob), blob), 0);
  const big = Buffer.alloc(5 * 1024 * 1024, 9);
  big.write('\r\n*3\r\n', 4096);
  expectEqual('SET 5 MB', await redis.set('io:big', big), 'OK');
  expectEqual('GET 5 MB', Buffer.compare(await redis.getBuffer('io:big'), big), 0);

  // Lua with keys
  expectEqual('EVAL', await redis.eval('return {KEYS[1], ARGV[1], {1, 2}}', 1, 'io:k', 'arg'),
              ['io:k', 'arg', [1, 2]]);

  expectEqual('QUIT', await redis.quit(), 'OK');
  expectEqual('no client errors', errors.map(String), []);
});
