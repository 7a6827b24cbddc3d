'use strict';

//
// Builds the native addon from source with cargo and copies it to
// js/ws-native.node. Runs as the package's `install` script, so a plain
// `npm install` on a fresh clone (or from the registry) ends with a working
// addon, or with an error that says how to get one.
//

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const target = path.join(root, 'js', 'ws-native.node');
const force = process.argv.includes('--force');
const profile = process.env.WS_NATIVE_PROFILE === 'debug' ? 'debug' : 'release';

if (!force && process.env.WS_NATIVE_SKIP_BUILD) {
  console.log('ws-native: WS_NATIVE_SKIP_BUILD is set, not building the addon');
  process.exit(0);
}

const cargo = process.env.CARGO || 'cargo';
const probe = spawnSync(cargo, ['--version'], { encoding: 'utf8' });

if (probe.error || probe.status !== 0) {
  console.error(
    'ws-native: cannot build the native addon because cargo was not found.\n' +
      'Install the Rust toolchain (https://rustup.rs, or your system package ' +
      'manager), make sure `cargo` is on PATH (or set CARGO=/path/to/cargo), ' +
      'then run `npm install` again.'
  );
  process.exit(1);
}

const args = ['build', '--lib', '--message-format=short'];
if (profile === 'release') args.push('--release');

const build = spawnSync(cargo, args, { cwd: root, stdio: 'inherit' });

if (build.error || build.status !== 0) {
  console.error('ws-native: `cargo ' + args.join(' ') + '` failed (see above)');
  process.exit(1);
}

const names = {
  linux: 'libws_native.so',
  darwin: 'libws_native.dylib',
  win32: 'ws_native.dll'
};
const name = names[process.platform] || 'libws_native.so';
const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const built = path.join(targetDir, profile, name);

//
// Copy to a temporary name and rename, so that a process that has the old
// addon loaded keeps a valid mapping.
//
const tmp = target + '.tmp';
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, target);
console.log('ws-native: built ' + path.relative(root, target));
