/**
 * The stack's inputs, read once from CDK context (`-c key=value` or cdk.json) with the defaults
 * the design names. Everything the stack varies on is here, so tests can set it explicitly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Node } from 'constructs';

/** The repository root: infra/ sits directly under it. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Where the Lambda code comes from. */
export type LambdaSource = 'prebuilt' | 'cargo';

/** Resolved inputs of `ReferralTrackerStack`. */
export interface StackConfig {
  /** Region the stack deploys to (context `region`, default eu-west-2). */
  readonly region: string;
  /** `prebuilt`: target/lambda/<fn>/bootstrap from `make build`; `cargo`: cargo-lambda-cdk builds. */
  readonly lambdaSource: LambdaSource;
  /** Directory holding `<fn>/bootstrap` for each function (context `lambdaAssetRoot`). */
  readonly lambdaAssetRoot: string;
  /** The settings TOML shipped to every function in a layer (context `settingsFile`). */
  readonly settingsFile: string;
  /** The SES sending domain (context `sesDomain`). */
  readonly sesDomain: string;
  /** Monthly cost budget in USD (context `budgetAmountUsd`). */
  readonly budgetAmountUsd: number;
  /** Who hears about the budget (context `budgetEmail`, default the settings' team email). */
  readonly budgetEmail: string;
  /** Who hears about queue alarms (context `alarmEmail`, default `budgetEmail`). */
  readonly alarmEmail: string;
}

/** A configuration problem the user must fix; the message says how. */
export class ConfigError extends Error {}

/**
 * Reads the stack inputs from the construct tree's context (the App's), resolving relative
 * paths against the repository root.
 */
export function readConfig(node: Node): StackConfig {
  const str = (key: string): string | undefined => {
    const v = node.tryGetContext(key);
    if (v === undefined || v === null || v === '') return undefined;
    return String(v);
  };
  const fromRepo = (p: string) => path.resolve(REPO_ROOT, p);

  const lambdaSource = str('lambdaSource') ?? 'prebuilt';
  if (lambdaSource !== 'prebuilt' && lambdaSource !== 'cargo') {
    throw new ConfigError(`context lambdaSource must be "prebuilt" or "cargo", not "${lambdaSource}"`);
  }

  const settingsFile = fromRepo(str('settingsFile') ?? 'settings.example.toml');
  if (!fs.existsSync(settingsFile)) {
    throw new ConfigError(`settings file ${settingsFile} does not exist (context settingsFile)`);
  }

  const budgetAmountUsd = Number(str('budgetAmountUsd') ?? '5');
  if (!Number.isFinite(budgetAmountUsd) || budgetAmountUsd <= 0) {
    throw new ConfigError(`context budgetAmountUsd must be a positive number, not "${str('budgetAmountUsd')}"`);
  }

  const teamEmail = teamEmailFromSettings(fs.readFileSync(settingsFile, 'utf8'));
  const budgetEmail = str('budgetEmail') ?? str('alarmEmail') ?? teamEmail;
  if (!budgetEmail) {
    throw new ConfigError('set context budgetEmail (or [team] email in the settings file) to receive budget alerts');
  }
  const alarmEmail = str('alarmEmail') ?? budgetEmail;
  for (const [key, value] of [['budgetEmail', budgetEmail], ['alarmEmail', alarmEmail]]) {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) {
      throw new ConfigError(`context ${key} is not an email address: "${value}"`);
    }
  }

  return {
    region: str('region') ?? 'eu-west-2',
    lambdaSource,
    lambdaAssetRoot: fromRepo(str('lambdaAssetRoot') ?? 'target/lambda'),
    settingsFile,
    sesDomain: str('sesDomain') ?? 'freshbox.uk',
    budgetAmountUsd,
    budgetEmail,
    alarmEmail,
  };
}

/**
 * The `email` key of the `[team]` table in a settings TOML, or undefined. A deliberately small
 * reader: the Rust side validates the file properly; here it only supplies a default address.
 */
export function teamEmailFromSettings(toml: string): string | undefined {
  let inTeam = false;
  for (const raw of toml.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    const table = /^\[([^\]]+)\]$/.exec(line);
    if (table) {
      inTeam = table[1].trim() === 'team';
      continue;
    }
    const kv = /^email\s*=\s*"([^"]*)"$/.exec(line);
    if (inTeam && kv) return kv[1];
  }
  return undefined;
}
