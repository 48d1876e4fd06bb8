import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

function files(dir: string): string[] {
  return walk(dir)
    .map((f) => path.relative(dir, f))
    .sort();
}

describe('generated proto types', () => {
  it('proto/gen matches what proto-loader-gen-types makes from the .proto files now', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'lookaside-gen-'));
    try {
      execFileSync(process.execPath, [path.join(root, 'scripts/gen-proto-types.js'), out], { stdio: 'pipe' });
      const committed = path.join(root, 'proto/gen');
      expect(files(out)).toEqual(files(committed));
      for (const f of files(out)) {
        // A mismatch means a .proto changed without `npm run proto:gen`.
        expect({ f, text: readFileSync(path.join(out, f), 'utf8') }).toEqual({
          f,
          text: readFileSync(path.join(committed, f), 'utf8'),
        });
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
