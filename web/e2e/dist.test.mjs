// The production build as it is served: no source maps (they would publish the sources), and
// no inline script in index.html (the Content-Security-Policy allows scripts from files only).
// Runs after `vite build` in web/scripts/test.sh.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { webDir } from './harness.mjs';

const dist = path.join(webDir, 'dist');

function filesUnder(folder) {
  return readdirSync(folder).flatMap((name) => {
    const file = path.join(folder, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

it('web/dist has been built', () => {
  assert.ok(existsSync(path.join(dist, 'index.html')), 'run `npm run build` first');
});

it('ships no source maps and points to none', () => {
  const files = filesUnder(dist);
  assert.ok(files.some((file) => file.endsWith('.js')), 'the build has scripts');
  assert.deepEqual(files.filter((file) => file.endsWith('.map')), []);
  for (const file of files.filter((f) => /\.(js|css)$/.test(f))) {
    assert.doesNotMatch(readFileSync(file, 'utf8'), /[#@] sourceMappingURL=/, file);
  }
});

it('has no inline script in index.html', () => {
  const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.ok(scripts.length > 0);
  for (const [tag, attributes, body] of scripts) {
    assert.match(attributes, /\bsrc=/, tag);
    assert.equal(body.trim(), '', tag);
  }
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
});
