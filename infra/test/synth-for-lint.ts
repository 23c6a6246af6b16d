/**
 * Writes the synthesized template (a shop's settings, dummy binaries, cdk-nag checked) to the
 * path given, for cfn-lint: `make infra-test` runs it, then lints the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { synth } from './helpers';

const out = process.argv[2];
if (!out) throw new Error('usage: synth-for-lint.ts <template.json>');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(synth().json, null, 1));
