// ioredis v5 with default settings: what one behaviour looks like from the application, printed as
// JSON, so that test_client_behaviour.py can compare direct Redis with seawall side by side.
//   node behaviour_ioredis.mjs PORT CASE
import Redis from 'ioredis';

const port = Number(process.argv[2]);
const which = process.argv[3];

function connect(options = {}) {
  const client = new Redis({ host: '127.0.0.1', port, ...options });
  client.on('error', () => {});  // reconnects are part of what is observed
  return client;
}

function ready(client) {
  if (client.status === 'ready') {
    return Promise.resolve();
  }
  return new Promise((resolve) => client.once('ready', resolve));
}

function field(info, name) {
  const line = info.split('\r\n').find((l) => l.startsWith(`${name}:`));
  return line === undefined ? null : line.slice(name.length + 1);
}

function clientLines(text) {
  return text.split('\n').filter(Boolean).map((line) =>
    Object.fromEntries(line.split(' ').map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), kv.slice(i + 1)];
    })));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const settle = (promise) => promise.then((v) => v, (e) => `error ${String(e.message).split(' ')[0]}`);

async function retry(fn, ms = 10000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) {
        throw err;
      }
      await sleep(50);
    }
  }
}

const cases = {
  // CLIENT SETNAME/ID/LIST/INFO/KILL and INFO, as one application sees them.
  async introspection() {
    const a = connect();
    const b = connect();
    await Promise.all([ready(a), ready(b)]);
    const out = {};
    out.setname = await a.client('SETNAME', 'node-a');
    const id = await a.client('ID');
    const mine = clientLines(await b.client('LIST')).find((c) => c.id === String(id));
    out.listed_name = mine?.name ?? null;
    out.info_name = clientLines(await a.client('INFO'))[0].name;
    out.listed_by_id = clientLines(await b.client('LIST', 'ID', String(id))).map((c) => c.name);
    const info = await a.info();
    out.has_redis_version = field(info, 'redis_version') !== null;
    out.connected_clients = field(await a.info('clients'), 'connected_clients');
    out.kill_by_id = await b.client('KILL', 'ID', String(id));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await ready(a);
    out.after_kill = await a.ping();
    out.kill_user = await b.client('KILL', 'USER', 'default', 'SKIPME', 'yes');
    out.kill_unknown_user = await b.client('KILL', 'USER', 'nobody').catch((e) => e.message);
    a.disconnect();
    b.disconnect();
    return out;
  },

  // CLIENT PAUSE from one client while another writes and reads.
  async pause() {
    const app = connect();
    const admin = connect();
    await Promise.all([ready(app), ready(admin)]);
    const out = {};
    for (const mode of ['WRITE', 'ALL']) {
      out[`pause ${mode}`] = await admin.client('PAUSE', 1000, mode);
      const t0 = Date.now();
      const [write, read] = await Promise.all([app.set('n:p', mode), app.get('n:p')]);
      const waited = Date.now() - t0;
      out[`write during ${mode}`] = write;
      out[`read during ${mode}`] = read;
      out[`waited the pause ${mode}`] = waited > 800 && waited < 3000;
    }
    out.unpause = await admin.client('UNPAUSE');
    app.disconnect();
    admin.disconnect();
    return out;
  },

  // MONITOR from one client while another runs commands.
  async monitor() {
    const app = connect();
    const watcher = connect();
    await Promise.all([ready(app), ready(watcher)]);
    const me = `${app.stream.localAddress}:${app.stream.localPort}`;
    const monitor = await watcher.monitor();
    const seen = [];
    const enough = new Promise((resolve) => {
      monitor.on('monitor', (time, args, source, database) => {
        seen.push([database, source === me ? 'app' : source, args]);
        if (seen.length === 4) {
          resolve();
        }
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await app.set('n:m', 'v "1"');
    await app.get('n:m');
    await app.config('GET', 'maxmemory');
    await app.hset('n:h', 'f', 'x\ty');
    await app.incr('n:i');
    await enough;
    monitor.disconnect();
    app.disconnect();
    watcher.disconnect();
    return seen;
  },

  // db: 3, a BLPOP blocking with a SET queued behind it, and Redis restarted (by the test, once
  // "blocked" is printed): ioredis resends both after its reconnect.
  async reconnect_db() {
    const r = connect({ db: 3 });
    const other = connect({ db: 3 });
    const db0 = connect();
    await Promise.all([ready(r), ready(other), ready(db0)]);
    const closed = new Promise((resolve) => r.once('close', resolve));
    const blocked = settle(r.blpop('n:q', 0));
    const queued = settle(r.set('n:after', 'x'));
    await sleep(200);
    console.log('blocked');
    await closed;
    await ready(r);
    const out = {};
    // The BLPOP it resent (if Redis took it) gets its element...
    await retry(() => other.lpush('n:q', 'v'));
    out.blpop = await Promise.race([blocked, sleep(3000).then(() => 'still blocked')]);
    // ...and whatever became of the resent commands, the connection is in database 3.
    out.later_write = await Promise.race([retry(() => r.set('n:later', 'y')),
                                          sleep(15000).then(() => 'no answer')]);
    out.queued_ran_in = await retry(async () => ({
      db3: await other.get('n:after'), db0: await db0.get('n:after') }));
    out.later_in = await retry(async () => ({
      db3: await other.get('n:later'), db0: await db0.get('n:later') }));
    out.queued = await queued;
    for (const c of [r, other, db0]) {
      c.disconnect();
    }
    return out;
  },

  // A named subscriber, and Redis restarted (by the test, once "blocked" is printed): ioredis
  // sets its name and subscribes again after its reconnect.
  async resubscribe() {
    const sub = connect({ connectionName: 'sub-1' });
    const pub = connect();
    const admin = connect();
    await Promise.all([ready(sub), ready(pub), ready(admin)]);
    const got = [];
    sub.on('message', (channel, message) => got.push([channel, message]));
    await sub.subscribe('n:ch');
    const closed = new Promise((resolve) => sub.once('close', resolve));
    console.log('blocked');
    await closed;
    const until = Date.now() + 15000;
    while (got.length === 0 && Date.now() < until) {
      await settle(pub.publish('n:ch', 'm'));
      await sleep(100);
    }
    const listed = clientLines(await retry(() => admin.client('LIST')))
      .filter((c) => c.name === 'sub-1')
      .map((c) => ({ name: c.name, flags: c.flags, sub: c.sub }));
    for (const c of [sub, pub, admin]) {
      c.disconnect();
    }
    return { got: got.slice(0, 1), listed };
  },

  // A script defined with defineCommand, used after Redis restarted (by the test, once "blocked"
  // is printed; it writes a line to stdin when Redis is back). ioredis sends a script as EVAL
  // once per connection, then EVALSHA; inside MULTI it cannot recover from NOSCRIPT.
  async evalsha_after_restart() {
    const r = connect();
    r.defineCommand('getViaScript', { numberOfKeys: 1, lua: "return redis.call('GET', KEYS[1])" });
    await ready(r);
    const show = (res) => res.map(([err, v]) => (err ? `error ${String(err.message).split(' ')[0]}` : v));
    const before = show(await r.multi().set('n:s', 'b').getViaScript('n:s').exec());
    console.log('blocked');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    process.stdin.pause();
    // Redis answers again (direct: ioredis reconnected; through seawall: its breaker closed).
    await retry(() => r.set('n:back', '1'));
    const out = { before };
    out.multi = show(await r.multi().incr('n:m').getViaScript('n:m').exec());
    out.pipeline = show(await r.pipeline().incr('n:p').getViaScript('n:p').exec());
    out.single = await settle(r.getViaScript('n:m'));
    r.disconnect();
    return out;
  },

  // RESP2 client-side caching: CLIENT TRACKING on REDIRECT to a subscriber's CLIENT ID.
  async tracking() {
    const sub = connect();
    const app = connect();
    const writer = connect();
    await Promise.all([ready(sub), ready(app), ready(writer)]);
    const out = {};
    const id = await sub.client('ID');
    const messages = [];
    let wake = () => {};
    sub.on('messageBuffer', (channel, message) => {
      messages.push([channel.toString(), String(message)]);
      wake();
    });
    out.subscribed = await sub.subscribe('__redis__:invalidate');
    out.tracking = await app.client('TRACKING', 'on', 'REDIRECT', id);
    await app.get('n:t');
    out.write = await writer.set('n:t', 'x');
    await new Promise((resolve) => {
      wake = resolve;
      if (messages.length > 0) {
        resolve();
      }
    });
    out.messages = messages;
    sub.disconnect();
    app.disconnect();
    writer.disconnect();
    return out;
  },
};

const timer = setTimeout(() => {
  console.error(`${which}: timed out`);
  process.exit(3);
}, 60000);
try {
  const result = await cases[which]();
  console.log(JSON.stringify(result));
  clearTimeout(timer);
  process.exit(0);
} catch (err) {
  console.error(`${which}: ${err?.stack ?? err}`);
  process.exit(1);
}
