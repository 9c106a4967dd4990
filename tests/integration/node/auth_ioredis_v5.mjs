// ioredis v5 against seawall with client authentication and a deny list:
//   SEAWALL_AUTH_PASSWORD=... [SEAWALL_AUTH_USER=...] node auth_ioredis_v5.mjs PORT
// The password (and user) go in the client's own handshake (AUTH, then its INFO ready check).
import Redis from 'ioredis';
import { expectEqual, expectReject, port, run } from './check.mjs';

const username = process.env.SEAWALL_AUTH_USER || undefined;
const password = process.env.SEAWALL_AUTH_PASSWORD;
const base = { host: '127.0.0.1', port: port() };

function ready(redis) {
  return new Promise((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
}

run('ioredis v5 auth', async () => {
  const redis = new Redis({ ...base, username, password });
  const errors = [];
  await ready(redis);
  redis.on('error', (err) => errors.push(err));
  expectEqual('PING', await redis.ping(), 'PONG');
  expectEqual('SET', await redis.set('ioa:s', 'v'), 'OK');
  expectEqual('GET', await redis.get('ioa:s'), 'v');
  await expectReject('KEYS denied', redis.keys('*'), /^ERR seawall: command 'KEYS' is denied by configuration$/);
  await expectReject('FLUSHALL denied', redis.flushall(), /command 'FLUSHALL' is denied/);
  // Pipelined: the refusal takes its place among the other replies.
  const piped = await redis.pipeline().set('ioa:p', '1').keys('*').incr('ioa:p').exec();
  expectEqual('pipeline replies', piped.map(([err, value]) => (err ? String(err.message) : value)),
              ['OK', "ERR seawall: command 'KEYS' is denied by configuration", 2]);
  expectEqual('MULTI/EXEC', await redis.multi().set('ioa:m', '1').incr('ioa:m').exec(),
              [[null, 'OK'], [null, 2]]);
  await expectReject('MULTI with a denied command',
                     redis.multi().set('ioa:m', '5').keys('*').exec(), /EXECABORT/);
  expectEqual('aborted transaction wrote nothing', await redis.get('ioa:m'), '2');
  expectEqual('QUIT', await redis.quit(), 'OK');

  // Database 1: AUTH, then SELECT 1, which pins the session.
  const db1 = new Redis({ ...base, username, password, db: 1 });
  await ready(db1);
  db1.on('error', (err) => errors.push(err));
  expectEqual('SET db1', await db1.set('ioa:db1', 'one'), 'OK');
  await expectReject('KEYS denied on db1', db1.keys('*'), /denied by configuration/);
  expectEqual('GET db1', await db1.get('ioa:db1'), 'one');
  expectEqual('QUIT db1', await db1.quit(), 'OK');
  expectEqual('no client errors', errors.map(String), []);

  // No password: the ready check (INFO) is refused, so is every command.
  const anonymous = new Redis({ ...base, enableReadyCheck: false, maxRetriesPerRequest: 0,
                                retryStrategy: () => null });
  anonymous.on('error', () => {});
  await expectReject('NOAUTH', anonymous.get('ioa:s'), /NOAUTH Authentication required\./);
  anonymous.disconnect();

  // A wrong password: the handshake's AUTH fails with Redis's WRONGPASS error.
  const wrong = new Redis({ ...base, username, password: 'not-the-password',
                            maxRetriesPerRequest: 0, retryStrategy: () => null });
  await expectReject('WRONGPASS', ready(wrong), /WRONGPASS invalid username-password pair/);
  wrong.disconnect();
});
