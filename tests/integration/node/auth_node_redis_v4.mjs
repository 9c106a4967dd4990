// node-redis v4 against seawall with client authentication and a deny list:
//   SEAWALL_AUTH_PASSWORD=... [SEAWALL_AUTH_USER=...] node auth_node_redis_v4.mjs PORT
// The password (and user) go in the client's own handshake (AUTH before the first command).
import { createClient } from 'redis';
import { expectEqual, expectReject, port, run } from './check.mjs';

const user = process.env.SEAWALL_AUTH_USER || undefined;
const password = process.env.SEAWALL_AUTH_PASSWORD;
const socket = { host: '127.0.0.1', port: port() };

run('node-redis v4 auth', async () => {
  const client = createClient({ socket, username: user, password });
  const errors = [];
  client.on('error', (err) => errors.push(err));
  await client.connect();
  expectEqual('PING', await client.ping(), 'PONG');
  expectEqual('SET', await client.set('nra:s', 'v'), 'OK');
  expectEqual('GET', await client.get('nra:s'), 'v');
  await expectReject('KEYS denied', client.keys('*'), /^ERR seawall: command 'KEYS' is denied by configuration$/);
  await expectReject('CONFIG SET denied', client.configSet('maxmemory-policy', 'noeviction'),
                     /command 'CONFIG\|SET' is denied/);
  expectEqual('CONFIG GET allowed', Object.keys(await client.configGet('maxmemory')), ['maxmemory']);
  // A transaction: pinned to a dedicated connection, the denied command aborts it.
  expectEqual('MULTI/EXEC', await client.multi().set('nra:m', '1').incr('nra:m').exec(), ['OK', 2]);
  await expectReject('MULTI with a denied command', client.multi().set('nra:m', '5').keys('*').exec(),
                     /EXECABORT|denied/);
  expectEqual('aborted transaction wrote nothing', await client.get('nra:m'), '2');
  expectEqual('QUIT', await client.quit(), 'OK');

  // Database 1: the handshake is AUTH, then SELECT 1, which pins the session.
  const db1 = createClient({ socket, username: user, password, database: 1 });
  db1.on('error', (err) => errors.push(err));
  await db1.connect();
  expectEqual('SET db1', await db1.set('nra:db1', 'one'), 'OK');
  await expectReject('KEYS denied on db1', db1.keys('*'), /denied by configuration/);
  expectEqual('GET db1', await db1.get('nra:db1'), 'one');
  expectEqual('QUIT db1', await db1.quit(), 'OK');
  expectEqual('no client errors', errors.map(String), []);

  // No password: connected, but every command is refused.
  const anonymous = createClient({ socket });
  anonymous.on('error', () => {});
  await anonymous.connect();
  await expectReject('NOAUTH', anonymous.get('nra:s'), /^NOAUTH Authentication required\.$/);
  await anonymous.disconnect();

  // A wrong password fails the handshake (no reconnecting, so that connect() settles).
  const wrong = createClient({ socket: { ...socket, reconnectStrategy: false }, username: user,
                               password: 'not-the-password' });
  wrong.on('error', () => {});
  await expectReject('WRONGPASS', wrong.connect(), /WRONGPASS invalid username-password pair/);
});
