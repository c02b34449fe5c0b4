// Copies the TextMate grammar (editors/textmate/, the one source of it) into this folder, where
// package.json's `contributes.grammars` expects it: VS Code only reads files inside the
// extension. Runs after `npm install` and before `vsce package` (vscode:prepublish).
'use strict';
const fs = require('fs');
const path = require('path');

const manifest = require('./package.json');
for (const grammar of manifest.contributes.grammars) {
  const target = path.join(__dirname, grammar.path);
  const source = path.join(__dirname, '..', 'textmate', path.basename(grammar.path));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(source, target);
  console.log(`copied ${path.relative(__dirname, source)} to ${path.relative(__dirname, target)}`);
}
