/**
 * The stack's inputs, read once from CDK context (`-c key=value` or cdk.json) and from the
 * settings file the functions will run with. Everything the stack varies on is here, so tests
 * can set it explicitly, and every mistake a first deploy could make quietly stops synth here
 * with a message saying what to do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Node } from 'constructs';
import { parse as parseToml } from 'smol-toml';

/** The repository root: infra/ sits directly under it. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The example settings: FreshBox's, which must not reach a real deployment by accident. */
export const EXAMPLE_SETTINGS_FILE = path.join(REPO_ROOT, 'settings.example.toml');

/** Where the Lambda code comes from. */
export type LambdaSource = 'prebuilt' | 'cargo';

/** What the stack takes from the settings file (the Rust side validates the whole file). */
export interface DeploySettings {
  /** `messages.from_email`: the sender of every email, so the SES identity the roles may use. */
  readonly fromEmail: string;
  /** `team.email`: the default for alarm and budget emails. */
  readonly teamEmail: string;
  /** `messages.model_id`: the Bedrock model or inference profile the roles may invoke. */
  readonly modelId: string;
  /** `aws.edge_reserved_concurrency` (default 20; 0 reserves none). */
  readonly edgeReservedConcurrency: number;
  /** `aws.queue_max_concurrency` (default 2): per SQS event source. */
  readonly queueMaxConcurrency: number;
  /** `store.kind` (default "webhooks"): which secrets the placeholder secret must carry. */
  readonly storeKind: StoreKind;
}

/** `store.kind`: how the programme reaches the shop. */
export type StoreKind = 'webhooks' | 'stripe' | 'shopify';

/** Resolved inputs of `ReferralTrackerStack`. */
export interface StackConfig {
  /** Region the stack deploys to (context `region`, default eu-west-2). */
  readonly region: string;
  /** Prepended to every resource name and to the stack's (context `namePrefix`, default none). */
  readonly namePrefix: string;
  /** `prebuilt`: target/lambda/<fn>/bootstrap from `make build`; `cargo`: cargo-lambda-cdk builds. */
  readonly lambdaSource: LambdaSource;
  /** Directory holding `<fn>/bootstrap` for each function (context `lambdaAssetRoot`). */
  readonly lambdaAssetRoot: string;
  /** The settings TOML shipped to every function in a layer (context `settingsFile`). */
  readonly settingsFile: string;
  /** What the stack reads from it. */
  readonly settings: DeploySettings;
  /** The SES domain identity the functions send from: `messages.from_email`'s domain. */
  readonly sesDomain: string;
  /** Whether the stack creates that identity (false with context `sesIdentityExists=true`). */
  readonly createSesIdentity: boolean;
  /** Verified recipients the roles may send to while SES is in its sandbox (context `sesSandboxRecipients`). */
  readonly sesSandboxRecipients: readonly string[];
  /** Monthly cost budget in USD (context `budgetAmountUsd`). */
  readonly budgetAmountUsd: number;
  /** Who hears about the budget (context `budgetEmail`, default the settings' team email). */
  readonly budgetEmail: string;
  /** Who hears about alarms and the sweep's failures (context `alarmEmail`, default `budgetEmail`). */
  readonly alarmEmail: string;
  /** Context `demo=true`: the example's own hosts and addresses are allowed. */
  readonly demo: boolean;
}

/** A configuration problem the user must fix; the message says how. */
export class ConfigError extends Error {}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

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
  const flag = (key: string): boolean => {
    const v = str(key);
    if (v === undefined || v === 'false') return false;
    if (v === 'true') return true;
    throw new ConfigError(`context ${key} must be true or false, not "${v}"`);
  };
  const fromRepo = (p: string) => path.resolve(REPO_ROOT, p);

  const lambdaSource = str('lambdaSource') ?? 'prebuilt';
  if (lambdaSource !== 'prebuilt' && lambdaSource !== 'cargo') {
    throw new ConfigError(`context lambdaSource must be "prebuilt" or "cargo", not "${lambdaSource}"`);
  }

  const namePrefix = str('namePrefix') ?? '';
  if (namePrefix && !/^[a-z][a-z0-9]{0,14}-$/.test(namePrefix)) {
    throw new ConfigError(
      `context namePrefix must be a lower-case word ending in "-" such as "staging-", not "${namePrefix}"`,
    );
  }

  const settingsFile = fromRepo(str('settingsFile') ?? 'settings.example.toml');
  if (!fs.existsSync(settingsFile)) {
    throw new ConfigError(`settings file ${settingsFile} does not exist (context settingsFile)`);
  }
  const settings = readDeploySettings(settingsFile);

  const budgetAmountUsd = Number(str('budgetAmountUsd') ?? '5');
  if (!Number.isFinite(budgetAmountUsd) || budgetAmountUsd <= 0) {
    throw new ConfigError(`context budgetAmountUsd must be a positive number, not "${str('budgetAmountUsd')}"`);
  }

  const budgetEmail = str('budgetEmail') ?? str('alarmEmail') ?? settings.teamEmail;
  const alarmEmail = str('alarmEmail') ?? budgetEmail;
  for (const [key, value] of [['budgetEmail', budgetEmail], ['alarmEmail', alarmEmail]]) {
    if (!EMAIL.test(value)) throw new ConfigError(`context ${key} is not an email address: "${value}"`);
  }

  // The roles may send only from this identity, so it must be the one the settings send from.
  const sesDomain = domainOf(settings.fromEmail);
  const askedDomain = str('sesDomain');
  if (askedDomain !== undefined && askedDomain.toLowerCase() !== sesDomain) {
    throw new ConfigError(
      `context sesDomain is "${askedDomain}" but messages.from_email (${settings.fromEmail}) is on ${sesDomain}: ` +
        'every email would be denied. Leave sesDomain out (it follows messages.from_email) or fix the settings.',
    );
  }
  const sesSandboxRecipients = (str('sesSandboxRecipients') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s);
  for (const r of sesSandboxRecipients) {
    if (!EMAIL.test(r)) throw new ConfigError(`context sesSandboxRecipients: "${r}" is not an email address`);
  }

  const demo = flag('demo');
  if (!demo) {
    refuseExampleValues(settingsFile, settings, { budgetEmail, alarmEmail });
  }

  return {
    region: str('region') ?? 'eu-west-2',
    namePrefix,
    lambdaSource,
    lambdaAssetRoot: fromRepo(str('lambdaAssetRoot') ?? 'target/lambda'),
    settingsFile,
    settings,
    sesDomain,
    createSesIdentity: !flag('sesIdentityExists'),
    sesSandboxRecipients,
    budgetAmountUsd,
    budgetEmail,
    alarmEmail,
    demo,
  };
}

/** The domain of an email address, lower-cased. */
export function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

type Table = Record<string, unknown>;

/** A settings file's TOML, or a ConfigError naming the file. */
function parseSettings(file: string): Table {
  try {
    return parseToml(fs.readFileSync(file, 'utf8')) as Table;
  } catch (e) {
    throw new ConfigError(`settings file ${file} is not valid TOML: ${(e as Error).message}`);
  }
}

/** `table.key` of a parsed settings file, or undefined. */
function at(toml: Table, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((t, k) => (t && typeof t === 'object' ? (t as Table)[k] : undefined), toml);
}

/**
 * The values the stack derives from a settings file. Only these are checked here (present, of
 * the right shape); the functions validate the whole file when they start.
 */
export function readDeploySettings(file: string): DeploySettings {
  const toml = parseSettings(file);
  const text = (key: string): string => {
    const v = at(toml, key);
    if (typeof v !== 'string' || !v.trim()) throw new ConfigError(`settings file ${file}: \`${key}\` is missing`);
    return v.trim();
  };
  const email = (key: string): string => {
    const v = text(key);
    if (!EMAIL.test(v)) throw new ConfigError(`settings file ${file}: \`${key}\` is not an email address: "${v}"`);
    return v;
  };
  const count = (key: string, fallback: number, min: number, max: number): number => {
    const v = at(toml, key) ?? fallback;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`settings file ${file}: \`${key}\` must be an integer from ${min} to ${max}`);
    }
    return n;
  };
  const modelId = text('messages.model_id');
  if (modelId.startsWith('arn:')) {
    throw new ConfigError(
      `settings file ${file}: \`messages.model_id\` must be a model or inference profile id, not an ARN ("${modelId}")`,
    );
  }
  const kind = at(toml, 'store.kind') ?? 'webhooks';
  if (kind !== 'webhooks' && kind !== 'stripe' && kind !== 'shopify') {
    throw new ConfigError(`settings file ${file}: \`store.kind\` must be "webhooks", "stripe" or "shopify"`);
  }
  return {
    storeKind: kind,
    fromEmail: email('messages.from_email'),
    teamEmail: email('team.email'),
    modelId,
    edgeReservedConcurrency: count('aws.edge_reserved_concurrency', 20, 0, 1000),
    queueMaxConcurrency: count('aws.queue_max_concurrency', 2, 2, 1000),
  };
}

/** The settings keys that name hosts or mailboxes of the business running the programme. */
const URL_KEYS = ['links.base_url', 'links.landing_url', 'links.fallback_url', 'store.reward_url'];
const EMAIL_KEYS = ['team.email', 'messages.from_email'];

/** Every host and mail domain the example settings name (refer.freshbox.uk, freshbox.uk, ...). */
function exampleDomains(): Set<string> {
  const toml = parseSettings(EXAMPLE_SETTINGS_FILE);
  const domains = new Set<string>();
  for (const key of URL_KEYS) domains.add(new URL(String(at(toml, key))).hostname);
  for (const key of EMAIL_KEYS) domains.add(domainOf(String(at(toml, key))));
  const cookie = at(toml, 'links.cookie_domain');
  if (typeof cookie === 'string') domains.add(cookie.replace(/^\./, ''));
  return domains;
}

/**
 * Refuses a deployment whose settings (or alert addresses) still point at the example's hosts
 * and mailboxes, or at this machine: its reward calls would carry the store key and customer
 * ids to a stranger's host, and its alarms would go to a stranger's inbox. Context `demo=true`
 * deploys the example anyway.
 */
function refuseExampleValues(file: string, settings: DeploySettings, alerts: Record<string, string>): void {
  const toml = parseSettings(file);
  const examples = exampleDomains();
  const isExample = (host: string) => [...examples].some((d) => host === d || host.endsWith(`.${d}`));
  const isLocal = (host: string) => host === 'localhost' || /^127\./.test(host) || host === '[::1]';
  const found: string[] = [];
  for (const key of URL_KEYS) {
    const raw = at(toml, key);
    if (typeof raw !== 'string') continue;
    let host: string;
    try {
      host = new URL(raw).hostname.toLowerCase();
    } catch {
      continue; // not a URL: the functions refuse it at start, naming the key
    }
    if (isExample(host)) found.push(`${key} (${host}, the example's)`);
    else if (isLocal(host)) found.push(`${key} (${host}, this machine)`);
  }
  const cookie = at(toml, 'links.cookie_domain');
  if (typeof cookie === 'string' && isExample(cookie.replace(/^\./, '').toLowerCase())) {
    found.push(`links.cookie_domain (${cookie}, the example's)`);
  }
  const mailboxes: [string, string][] = [
    ['team.email', settings.teamEmail],
    ['messages.from_email', settings.fromEmail],
    ...Object.entries(alerts).map(([k, v]): [string, string] => [`context ${k}`, v]),
  ];
  for (const [key, value] of mailboxes) {
    if (isExample(domainOf(value))) found.push(`${key} (${value}, the example's)`);
  }
  if (found.length > 0) {
    throw new ConfigError(
      `${path.relative(REPO_ROOT, file)} is not ready for a real deployment; these still name the example ` +
        `business or this machine:\n  ${[...new Set(found)].join('\n  ')}\n` +
        'Copy settings.example.toml to your own file, set your hosts and addresses (docs/deploy.md, section 5), ' +
        'and pass it with -c settingsFile=<file>. To deploy the example itself as a demo, add -c demo=true.',
    );
  }
}

/** Prefixes of Bedrock's cross-Region inference profiles (`global.`, `eu.`, ...). */
const PROFILE_PREFIXES = ['global', 'us', 'us-gov', 'eu', 'apac', 'jp', 'au', 'ca'];

/**
 * What `bedrock:InvokeModel` must name for `modelId`: a model id is one foundation model in the
 * stack's Region; an inference profile id is the profile in the stack's Region and account
 * plus the model behind it in whichever Region the profile routes a call to (IAM checks the
 * model there, so its Region is "*"; the model id still pins it).
 */
export function bedrockResources(modelId: string, partition: string, region: string, account: string): string[] {
  const dot = modelId.indexOf('.');
  const prefix = dot > 0 ? modelId.slice(0, dot) : '';
  if (PROFILE_PREFIXES.includes(prefix)) {
    return [
      `arn:${partition}:bedrock:${region}:${account}:inference-profile/${modelId}`,
      `arn:${partition}:bedrock:*::foundation-model/${modelId.slice(dot + 1)}`,
    ];
  }
  return [`arn:${partition}:bedrock:${region}::foundation-model/${modelId}`];
}
