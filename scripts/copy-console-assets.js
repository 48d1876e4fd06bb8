#!/usr/bin/env node
// Copies the web console's hand-written page (HTML, one script, one stylesheet) into dist/, next
// to the compiled handler that serves it (dist/lb-server/frontends/console/assets).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const rel = path.join('lb-server', 'frontends', 'console', 'assets');
fs.cpSync(path.join(root, rel), path.join(root, 'dist', rel), { recursive: true });
