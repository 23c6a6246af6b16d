/**
 * Test helpers: synthesize the stack without Rust (dummy prebuilt `bootstrap` files, bundling
 * off) and read its template.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EXAMPLE_SETTINGS_FILE, readConfig } from '../lib/config';
import { ReferralTrackerStack } from '../lib/stack';

/** The six names, written out here rather than imported, so a rename in lib/ is caught. */
export const FUNCTIONS = ['rft-edge', 'rft-minter', 'rft-attributor', 'rft-rewarder', 'rft-screen', 'rft-sweep'];
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-2';

const tempDirs: string[] = [];
process.on('exit', () => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A temporary directory, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

/** A temp directory shaped like target/lambda: `<fn>/bootstrap` for each function. */
export function dummyAssetRoot(): string {
  const root = tempDir('rft-lambda-');
  for (const fn of FUNCTIONS) {
    fs.mkdirSync(path.join(root, fn));
    fs.writeFileSync(path.join(root, fn, 'bootstrap'), '#!/bin/sh\necho dummy\n', { mode: 0o755 });
  }
  return root;
}

/**
 * A settings file like a real deployment's: the example's, moved from FreshBox's hosts and
 * mailboxes to `shop.example` ones (with `replace`, more changes), written to a temp file.
 */
export function shopSettings(replace: [string | RegExp, string][] = []): string {
  let text = fs.readFileSync(EXAMPLE_SETTINGS_FILE, 'utf8').replaceAll('freshbox.uk', 'shop.example');
  for (const [from, to] of replace) text = text.replace(from, to);
  const file = path.join(tempDir('rft-settings-'), 'settings.shop.toml');
  fs.writeFileSync(file, text);
  return file;
}

/** What one synthesis produced. */
export interface Synth {
  readonly stack: ReferralTrackerStack;
  readonly template: Template;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: { Resources: Resources; Outputs?: Record<string, any> };
  readonly assemblyDir: string;
}

/**
 * Synthesizes the stack with test context (plus `context` overrides): a shop's settings,
 * dummy binaries, and cdk-nag's AwsSolutions checks, which fail the synthesis on any finding
 * the stack does not acknowledge.
 */
export function synth(context: Record<string, unknown> = {}): Synth {
  const app = new App({
    outdir: tempDir('rft-cdk-out-'),
    context: {
      'aws:cdk:bundling-stacks': [],
      lambdaAssetRoot: dummyAssetRoot(),
      settingsFile: shopSettings(),
      budgetEmail: 'budget@example.com',
      alarmEmail: 'ops@example.com',
      ...context,
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const config = readConfig(app.node);
  const stack = new ReferralTrackerStack(app, 'ReferralTrackerStack', {
    config,
    env: { account: ACCOUNT, region: config.region },
  });
  const template = Template.fromStack(stack);
  const assembly = app.synth();
  return { stack, template, json: template.toJSON() as Synth['json'], assemblyDir: assembly.directory };
}

/** Resources of one CloudFormation type, by logical id. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Resources = Record<string, { Type: string; Properties: any; DependsOn?: string[] }>;

/** All resources of `type` in a synthesized template. */
export function resourcesOfType(json: { Resources?: Resources }, type: string): Resources {
  return Object.fromEntries(Object.entries(json.Resources ?? {}).filter(([, r]) => r.Type === type));
}

/** The logical id of the function whose FunctionName is `name`. */
export function functionId(json: { Resources?: Resources }, name: string): string {
  const hits = Object.entries(resourcesOfType(json, 'AWS::Lambda::Function')).filter(
    ([, r]) => r.Properties.FunctionName === name,
  );
  if (hits.length !== 1) throw new Error(`expected one function named ${name}, found ${hits.length}`);
  return hits[0][0];
}
