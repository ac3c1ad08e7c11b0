// Shared by the client scripts: named checks, a recording fetch, one JSON report line.
export const url = process.argv[2];
if (!url) {
  console.error('usage: node <script> http://HOST:PORT/graphql');
  process.exit(2);
}

const checks = [];

// Runs one named check; a failure is recorded (with its message) and the run goes on.
export async function check(name, fn) {
  try {
    await fn();
    checks.push({ name, ok: true });
  } catch (error) {
    checks.push({ name, ok: false, error: String(error?.stack ?? error) });
  }
}

export function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// fetch that remembers the method, the parsed body or query string, and the status.
export function recordingFetch(log) {
  return async (input, init = {}) => {
    const target = new URL(typeof input === 'string' ? input : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    const sent = method === 'GET'
      ? Object.fromEntries(target.searchParams)
      : JSON.parse(typeof init.body === 'string' ? init.body : '{}');
    const response = await fetch(input, init);
    log.push({ method, sent, status: response.status, type: response.headers.get('content-type') });
    return response;
  };
}

export function unique() {
  return Math.random().toString(36).slice(2, 10);
}

// Prints the report and exits non-zero when a check failed.
export function report(extra = {}) {
  const failed = checks.filter((c) => !c.ok);
  console.log(JSON.stringify({ passed: checks.length - failed.length, failed, ...extra }));
  process.exit(failed.length ? 1 : 0);
}
