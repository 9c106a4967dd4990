// Tiny assertion helper shared by the client scripts: record every mismatch, exit non-zero at the
// end, and fail fast on a hang.
import { isDeepStrictEqual, inspect } from 'node:util';

const failures = [];
let lastChecked = '(nothing yet)';

export function port() {
  const p = Number(process.argv[2] ?? process.env.SEAWALL_PORT);
  if (!Number.isInteger(p) || p <= 0) {
    console.error('usage: node script.mjs PORT');
    process.exit(2);
  }
  return p;
}

export function expectEqual(label, actual, expected) {
  lastChecked = label;
  if (!isDeepStrictEqual(actual, expected)) {
    failures.push(label);
    if (Array.isArray(actual) && Array.isArray(expected)) {
      const i = actual.findIndex((v, k) => !isDeepStrictEqual(v, expected[k]));
      const at = i < 0 ? Math.min(actual.length, expected.length) : i;
      console.error(`MISMATCH ${label}: lengths ${actual.length} vs ${expected.length}, first ` +
                    `difference at [${at}]: ${inspect(actual[at])} != ${inspect(expected[at])}`);
      return;
    }
    console.error(`MISMATCH ${label}\n  actual:   ${inspect(actual, { depth: 6, maxStringLength: 200 })}` +
                  `\n  expected: ${inspect(expected, { depth: 6, maxStringLength: 200 })}`);
  }
}

export async function expectReject(label, promise, pattern) {
  lastChecked = label;
  try {
    const value = await promise;
    failures.push(label);
    console.error(`MISMATCH ${label}: resolved with ${inspect(value)}, expected an error`);
  } catch (err) {
    if (!pattern.test(String(err?.message ?? err))) {
      failures.push(label);
      console.error(`MISMATCH ${label}: error ${err?.message} does not match ${pattern}`);
    }
  }
}

// Runs `main`; exits 0 only when it finished and nothing mismatched.
export function run(name, main, timeoutMs = 60000) {
  const timer = setTimeout(() => {
    console.error(`${name}: timed out after ${timeoutMs} ms; last check done: ${lastChecked}`);
    process.exit(3);
  }, timeoutMs);
  main().then(
    () => {
      clearTimeout(timer);
      if (failures.length > 0) {
        console.error(`${name}: ${failures.length} mismatches: ${failures.join(', ')}`);
        process.exit(1);
      }
      console.log(`${name}: ok`);
      process.exit(0);
    },
    (err) => {
      console.error(`${name}: failed: ${err?.stack ?? err}`);
      process.exit(1);
    });
}

// Every byte value, with CRLF and RESP-looking text inside.
export function binaryBlob() {
  const bytes = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) bytes[i] = i;
  return Buffer.concat([bytes, Buffer.from('\r\n$5\r\n*1\r\n\r\n'), bytes]);
}
