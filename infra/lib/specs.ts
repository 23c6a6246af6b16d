/**
 * The shape of the system as data: the six functions, the six tables and the two queues.
 * Names here are physical names. The tables' schema is infra/tables.json, which the Rust
 * adapters read too; the queue names and variables are the Rust functions' environment.
 */

import schema from '../tables.json';

/** The six Lambda functions (docs/architecture.md). */
export const FUNCTION_NAMES = ['rft-edge', 'rft-minter', 'rft-attributor', 'rft-rewarder', 'rft-screen', 'rft-sweep'] as const;
/** One of the six functions. */
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** Size and time limit of one function. */
export interface FunctionSpec {
  readonly memoryMb: number;
  readonly timeoutSecs: number;
}

/** Memory and timeout per function: the edge answers browsers and the store, so it gets more memory. */
export const FUNCTION_SPECS: Record<FunctionName, FunctionSpec> = {
  'rft-edge': { memoryMb: 512, timeoutSecs: 10 },
  'rft-minter': { memoryMb: 256, timeoutSecs: 5 },
  'rft-attributor': { memoryMb: 256, timeoutSecs: 30 },
  'rft-rewarder': { memoryMb: 256, timeoutSecs: 60 },
  'rft-screen': { memoryMb: 256, timeoutSecs: 5 },
  'rft-sweep': { memoryMb: 256, timeoutSecs: 300 },
};

/** The six tables, as infra/tables.json names them. */
export type TableName = keyof typeof schema.tables;
/** The six tables. */
export const TABLE_NAMES = Object.keys(schema.tables) as TableName[];

/** A key attribute: name and DynamoDB scalar type. */
export interface KeyAttr {
  readonly name: string;
  readonly type: 'S' | 'N';
}

/** A global secondary index. `include` lists the non-key attributes projected; absent means ALL. */
export interface GsiSpec {
  readonly name: string;
  readonly pk: KeyAttr;
  readonly sk?: KeyAttr;
  readonly include?: readonly string[];
  /** Project only the keys (the index is used to find items, not to read them). */
  readonly keysOnly?: boolean;
}

/** One table: keys, indexes, TTL attribute, point-in-time recovery, stream, and the variable its name is passed in. */
export interface TableSpec {
  readonly env: string;
  readonly pk: KeyAttr;
  readonly sk?: KeyAttr;
  readonly ttl?: string;
  readonly pitr: boolean;
  readonly gsis: readonly GsiSpec[];
  /** A DynamoDB Stream of each new item image (read by an event source mapping). */
  readonly streamNewImages?: boolean;
}

/** A key attribute as the schema file spells it (JSON cannot say `'S' | 'N'`). */
interface RawKey {
  readonly name: string;
  readonly type: string;
}

/** A table as the schema file spells it. */
interface RawTable extends Omit<TableSpec, 'pk' | 'sk' | 'gsis'> {
  readonly pk: RawKey;
  readonly sk?: RawKey;
  readonly gsis: readonly (Omit<GsiSpec, 'pk' | 'sk'> & { readonly pk: RawKey; readonly sk?: RawKey })[];
}

function keyAttr(where: string, raw: RawKey): KeyAttr {
  if (raw.type !== 'S' && raw.type !== 'N') throw new Error(`infra/tables.json: ${where} has type ${raw.type}, not S or N`);
  return { name: raw.name, type: raw.type };
}

function tableSpec(name: TableName, raw: RawTable): TableSpec {
  return {
    env: raw.env,
    pk: keyAttr(`${name}.pk`, raw.pk),
    sk: raw.sk && keyAttr(`${name}.sk`, raw.sk),
    ttl: raw.ttl,
    pitr: raw.pitr,
    streamNewImages: raw.streamNewImages,
    gsis: raw.gsis.map((g) => ({
      name: g.name,
      pk: keyAttr(`${name}.${g.name}.pk`, g.pk),
      sk: g.sk && keyAttr(`${name}.${g.name}.sk`, g.sk),
      include: g.include,
      keysOnly: g.keysOnly,
    })),
  };
}

/**
 * The tables, defined once in infra/tables.json (which crates/rft-aws/src/tables.rs reads too):
 * keys, GSIs, TTL, PITR, each with why. Adding a GSI is one entry there; the permissions matrix
 * then names it where a function queries it, and the Rust tests name the adapter that does.
 */
export const TABLE_SPECS = Object.fromEntries(
  TABLE_NAMES.map((name) => [name, tableSpec(name, schema.tables[name])]),
) as Record<TableName, TableSpec>;

/** The two job queues: one per consumer (docs/architecture.md), each with its own DLQ. */
export const QUEUE_NAMES = ['rft-signup-jobs', 'rft-reward-jobs'] as const;
/** One of the job queues. */
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Which function consumes each queue. */
export const QUEUE_CONSUMERS: Record<QueueName, FunctionName> = {
  'rft-signup-jobs': 'rft-attributor',
  'rft-reward-jobs': 'rft-rewarder',
};

/** How long a job queue and its DLQ keep a message (SQS's maximum): time to fix a cause and redrive. */
export const RETENTION_DAYS = 14;
/** Receives before a job is parked in its DLQ. */
export const MAX_RECEIVE_COUNT = 5;
/** Lambda's guidance: a queue's visibility timeout at least six times its consumer's timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
/** SQS batch size for both consumers. */
export const SQS_BATCH_SIZE = 10;
/**
 * Per-queue batch sizes. The rewarder takes one job at a time: a job may wait on the store's
 * endpoint (3 tries of up to 3 s per side, with backoff), so one job fits its 60 s timeout
 * with room, where ten might not.
 */
export const BATCH_SIZES: Record<QueueName, number> = { 'rft-signup-jobs': SQS_BATCH_SIZE, 'rft-reward-jobs': 1 };

/**
 * How rft-sweep reads rft-clicks' stream. Up to 1,000 new clicks a batch, gathered for up to
 * 10 s, so counts run about 10 s behind (a referrer's page polls every 15 s) and a busy code's
 * clicks are counted in one update per batch. A batch that fails is retried whole (never
 * bisected: the follower's markers name a batch by its records) up to 50 times, then reported
 * to the alarm topic and skipped.
 */
export const CLICK_STREAM = { batchSize: 1000, maxBatchingWindowSecs: 10, retryAttempts: 50 } as const;

/** The one secret (a single $0.40/month line): JSON with these keys. */
export const SECRET_NAME = 'rft/secrets';
/** Keys of the secret's JSON every installation has (crates/rft-core/src/secrets.rs `SecretJson`). */
export const SECRET_KEYS = ['signing_secret', 'ops_secret', 'store_api_key', 'identity_key'] as const;

/** The further keys each `store.kind` needs (docs/settings.md, "Secrets"). */
export const SECRET_KEYS_OF_KIND = {
  webhooks: ['store_signing_secret'],
  stripe: ['stripe_api_key', 'stripe_webhook_secret'],
  shopify: ['shopify_admin_token', 'shopify_webhook_secret'],
} as const;

/** Where the settings file lands inside the layer (layers are unpacked under /opt). */
export const SETTINGS_PATH_IN_LAYER = 'rft/settings.toml';

