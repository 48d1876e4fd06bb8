#!/usr/bin/env node
// Copies the .proto contracts into dist/proto, next to the compiled loader that reads them.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'proto');
const dst = path.join(root, 'dist', 'proto');
fs.cpSync(src, dst, {
  recursive: true,
  filter: (p) => fs.statSync(p).isDirectory() || p.endsWith('.proto'),
});
