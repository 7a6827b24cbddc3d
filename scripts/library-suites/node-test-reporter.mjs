//
// A node:test reporter for scripts/library-suites.js: one JSON line per test
// that ended ({ name, status }), the name being the file and the names of its
// enclosing tests, so the two runs of a suite can be compared test by test.
//

import path from 'node:path';

export default async function* reporter(source) {
  // Per file, the names of the tests that started and have not ended, by
  // nesting level: a test's full name is the path down to it.
  const stacks = new Map();

  for await (const event of source) {
    const { data } = event;
    if (!data || data.nesting === undefined) continue;

    const file = data.file ? path.basename(data.file) : '';
    let stack = stacks.get(file);
    if (!stack) stacks.set(file, (stack = []));

    if (event.type === 'test:start') {
      stack.length = data.nesting;
      stack.push(data.name);
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;

    // Suites (describe) and files are reported too: only tests count, and
    // a file that failed outside of its tests (it did not load).
    const details = data.details || {};
    if (details.type === 'suite') continue;
    if (data.file && path.resolve(data.name) === data.file) {
      if (event.type === 'test:fail') {
        yield JSON.stringify({ name: `${file} (file)`, status: 'fail' }) + '\n';
      }
      continue;
    }

    const parents = stack.slice(0, data.nesting);
    const name = [file, ...parents, data.name].join(' > ');
    let status = event.type === 'test:pass' ? 'pass' : 'fail';
    if (data.skip !== undefined || data.todo !== undefined) status = 'skip';

    const result = { name, status };
    if (status === 'fail' && details.error) {
      const err = details.error.cause || details.error;
      result.error = String((err && err.message) || err).slice(0, 500);
    }
    yield JSON.stringify(result) + '\n';
  }
}
