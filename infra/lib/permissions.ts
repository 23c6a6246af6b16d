/**
 * Least privilege, in one place: what each function's role may do, as data. The stack turns
 * every grant into one IAM statement on that function's own role and adds nothing else.
 *
 * The matrix follows the code's calls: tests/it/aws_permissions.rs drives every function's
 * wiring down every path on the emulators and records each IAM action its calls needed into
 * test/aws-calls.json; test/permissions.test.ts fails on a grant no call needs or a call no
 * grant allows, naming it, and checks the synthesized roles hold exactly this matrix. Grants
 * marked `platform` are for AWS acting with the function's role (writing its logs, polling its
 * queue, delivering its failures), not for a call of ours; each says why.
 *
 * To add a grant: one entry in the function's list below (and, when the code's calls changed,
 * `RFT_RECORD_CALLS=1` on that test first).
 *
 * rft-keys holds one data key per owner, sealing the personal fields of that owner's items in the
 * other tables (crates/rft-aws/src/dynamo/seal.rs): a function that reads sealed items reads keys
 * (GetItem, BatchGetItem), one that writes them may create a key (PutItem, only where none
 * exists), and only erasure, in the rewarder, destroys one (DeleteItem).
 *
 * DynamoDB notes: TransactWriteItems is authorised by the per-item actions (PutItem, UpdateItem,
 * DeleteItem) on each item's table, so it needs no action of its own. A Query on a GSI is
 * authorised on `<tableArn>/index/<name>` alone: the table ARN grants nothing on its indexes and
 * an index ARN grants nothing on the table or on other indexes.
 */
import type { FunctionName, QueueName, TableName } from './specs';

/** What a grant applies to; the stack resolves each to ARNs. */
export type Target =
  /** The table itself (items and table-level Query). */
  | { readonly table: TableName }
  /** One named GSI of a table: `<tableArn>/index/<index>`. */
  | { readonly table: TableName; readonly index: string }
  /** A table's stream (its current label's ARN). */
  | { readonly stream: TableName }
  /** A job queue (not its DLQ: nothing reads DLQs but a person). */
  | { readonly queue: QueueName }
  /** Another function, to invoke synchronously. */
  | { readonly fn: FunctionName }
  /** The one Secrets Manager secret. */
  | { readonly secret: true }
  /** The SES identity `messages.from_email` sends from (and, in the sandbox, its verified recipients). */
  | { readonly sesIdentity: true }
  /** The Bedrock model or inference profile of `messages.model_id` (and the model behind a profile). */
  | { readonly bedrockModel: true }
  /** SMS straight to phone numbers: AWS authorises that sns:Publish only on "*". */
  | { readonly smsToPhoneNumbers: true }
  /** The function's own log group. */
  | { readonly ownLogGroup: true }
  /** The SNS topic of the alarms (and of the sweep's failures). */
  | { readonly alarmTopic: true };

/** An IAM condition, as CloudFormation writes it. */
export type Condition = Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

/** One statement: these actions on that target, optionally under an IAM condition. */
export interface Grant {
  readonly actions: readonly string[];
  readonly on: Target;
  readonly condition?: Condition;
  /** Set when AWS itself acts with this grant rather than our code: why it needs it. */
  readonly platform?: string;
}

const ddb = (actions: string[], table: TableName, index?: string): Grant => ({
  actions: actions.map((a) => `dynamodb:${a}`),
  on: index === undefined ? { table } : { table, index },
});

/** Confines DynamoDB item actions to partition keys starting with `prefix`. */
export const leadingKeys = (prefix: string): Condition => ({
  'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${prefix}*`] },
});

/** Writing logs: CreateLogStream and PutLogEvents on the function's own (pre-created) log group. */
const LOGGING: Grant = {
  actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  on: { ownLogGroup: true },
  platform: 'the Lambda runtime writes the function output to its log group',
};
const SECRET: Grant = { actions: ['secretsmanager:GetSecretValue'], on: { secret: true } };
const SES_SEND: Grant = { actions: ['ses:SendEmail'], on: { sesIdentity: true } };
/** The Converse API is authorised as bedrock:InvokeModel. */
const BEDROCK: Grant = { actions: ['bedrock:InvokeModel'], on: { bedrockModel: true } };
/** What a Lambda SQS event source mapping needs from the consumer's role. */
const consume = (queue: QueueName): Grant => ({
  actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
  on: { queue },
  platform: "Lambda's event source mapping polls the queue and deletes what the function finished",
});
const invoke = (fn: FunctionName): Grant => ({ actions: ['lambda:InvokeFunction'], on: { fn } });

/**
 * The edge keeps processed webhook ids in rft-audit under keys `webhook#<id>`; this condition
 * confines its audit item access to those keys so it can never read, forge or erase an audit event.
 */
export const WEBHOOK_KEYS_ONLY = leadingKeys('webhook#');

/** Erasure may delete identity claims (`claim#...`) in rft-referrals, and nothing else there. */
export const CLAIM_KEYS_ONLY = leadingKeys('claim#');

/** Unsubscribed addresses (`unsub#<hash>`) in rft-referrals: recorded by the edge, read before mailing. */
export const UNSUBSCRIBE_KEYS_ONLY = leadingKeys('unsub#');

/** Retiring and erasure delete a customer's active-code guard (`active#...`) in rft-codes, never a code. */
export const GUARD_KEYS_ONLY = leadingKeys('active#');

/**
 * Counters and rollup rows live in rft-clicks under `counter#...`; a role that only counts or
 * reads counts (the console and the stats included) is confined to them, so it can never read
 * a browser's clicks.
 */
export const COUNTER_KEYS_ONLY = leadingKeys('counter#');

/** The matrix: every function's grants, and nothing else. */
export const PERMISSIONS: Record<FunctionName, readonly Grant[]> = {
  'rft-edge': [
    LOGGING,
    ddb(['GetItem'], 'rft-codes'),
    ddb(['Query'], 'rft-codes', 'by_referrer'),
    // The ops queue's flagged codes.
    ddb(['Query'], 'rft-codes', 'by_flag'),
    // Clicks (written, never read here); the referrer's stats and the console read counts only:
    // rollup rows (a Query of a code's days) and the programme's totals.
    ddb(['PutItem'], 'rft-clicks'),
    { ...ddb(['Query', 'BatchGetItem'], 'rft-clicks'), condition: COUNTER_KEYS_ONLY },
    ddb(['GetItem'], 'rft-referrals'),
    ddb(['Query'], 'rft-referrals', 'by_queue'),
    ddb(['Query'], 'rft-referrals', 'by_referrer'),
    // A referrer's tally (their stats), and a reward's row before the console retries it.
    ddb(['GetItem'], 'rft-rewards'),
    // The ledger export (GET /api/exports/ledger.csv) reads the whole table, a page at a time:
    // a Scan is the one access that does (no index would read less).
    ddb(['Scan'], 'rft-rewards'),
    ddb(['Query'], 'rft-rewards', 'by_customer'),
    // Processed webhook ids, and the console's used sign-in links (`webhook#console-sign-in:...`).
    { ...ddb(['PutItem', 'GetItem', 'DeleteItem'], 'rft-audit'), condition: WEBHOOK_KEYS_ONLY },
    { actions: ['sqs:SendMessage'], on: { queue: 'rft-signup-jobs' } },
    // The CSV import reads which of a file's orders were imported before (`order#<id>`, many at once).
    { ...ddb(['BatchGetItem'], 'rft-referrals'), condition: leadingKeys('order#') },
    // The unsubscribe link's button records the address's hash, and nothing else there.
    { ...ddb(['PutItem'], 'rft-referrals'), condition: UNSUBSCRIBE_KEYS_ONLY },
    // Webhook jobs, ops decisions and the console's decisions.
    { actions: ['sqs:SendMessage'], on: { queue: 'rft-reward-jobs' } },
    SECRET,
    // Minting, invites, and retiring a code (the store's API and the console).
    invoke('rft-minter'),
    // Erasure runs in the rewarder, the one role allowed to rewrite the ledger.
    invoke('rft-rewarder'),
    // The owner's console reads: the referrals by state and the codes by status (its listings),
    // a referral's story from the audit, ledger rows by referral (its counters are read with
    // the stats' above); and it emails team members their sign-in links.
    ddb(['Query'], 'rft-referrals', 'by_state'),
    ddb(['Query'], 'rft-codes', 'by_status'),
    ddb(['Query'], 'rft-audit', 'by_subject'),
    ddb(['Query'], 'rft-rewards'),
    SES_SEND,
    // The keys of what it reads (a code's referrer, a referral's friend, an audit event's
    // subject), to open their personal fields; and the key it seals each kept answer under
    // (the opaque id of the customer the request named, created with their first answer), so
    // that their erasure forgets it.
    ddb(['GetItem', 'PutItem', 'BatchGetItem'], 'rft-keys'),
  ],
  'rft-minter': [
    LOGGING,
    ddb(['GetItem', 'PutItem', 'UpdateItem'], 'rft-codes'),
    { ...ddb(['DeleteItem'], 'rft-codes'), condition: GUARD_KEYS_ONLY },
    // Email-invite touches, and the daily invite quota (a counter item in rft-clicks, counted
    // by a conditional update: never read).
    ddb(['PutItem', 'UpdateItem'], 'rft-clicks'),
    ddb(['PutItem'], 'rft-audit'),
    SES_SEND,
    BEDROCK,
    // A connected store (Stripe, Shopify): the provider's API key, for each code's friend
    // discount; a discount the provider does not make in time is queued for the rewarder.
    // Invites are not sent to unsubscribed addresses: the friend's address is hashed with the
    // identity key from the secret, and its `unsub#` item read.
    { ...ddb(['GetItem'], 'rft-referrals'), condition: UNSUBSCRIBE_KEYS_ONLY },
    SECRET,
    { actions: ['sqs:SendMessage'], on: { queue: 'rft-reward-jobs' } },
    // A code's personal fields are sealed under its referrer's key, created with the first code.
    ddb(['GetItem', 'PutItem'], 'rft-keys'),
  ],
  'rft-attributor': [
    LOGGING,
    // Touches by token and email; sign-up velocity counters (items in rft-clicks: counted here
    // by conditional updates, read by the screen).
    ddb(['Query', 'UpdateItem'], 'rft-clicks'),
    ddb(['Query'], 'rft-clicks', 'by_browser'),
    // A code caught spraying is flagged, and its pending referrals (by referrer) held.
    ddb(['GetItem', 'UpdateItem'], 'rft-codes'),
    ddb(['GetItem', 'PutItem'], 'rft-referrals'),
    ddb(['Query'], 'rft-referrals', 'by_referrer'),
    // A connected store's order: each customer's first paid order noted (`first#<customer>`),
    // and the order handed to the rewarder as a conversion.
    { ...ddb(['UpdateItem'], 'rft-referrals'), condition: leadingKeys('first#') },
    { actions: ['sqs:SendMessage'], on: { queue: 'rft-reward-jobs' } },
    // An imported order is marked handled (`order#<id>`), so the same file again is a duplicate.
    { ...ddb(['UpdateItem'], 'rft-referrals'), condition: leadingKeys('order#') },
    ddb(['PutItem'], 'rft-audit'),
    // A sign-up credited by hand from the console: the sign-up and its unpaid first order are
    // read back from the customer's audit rows.
    ddb(['Query'], 'rft-audit', 'by_subject'),
    consume('rft-signup-jobs'),
    invoke('rft-screen'),
    // A job that can never succeed is set aside: an audit row and an email to the team.
    SES_SEND,
    // Enrolment (`enrolment.on_first_order`): a first order queues the customer's enrolment on
    // this function's own queue; it mints through rft-minter, is claimed once per customer in
    // the webhook log (`webhook#enrolment:<customer>`; the PutItem above covers the claim),
    // and emails the link with an unsubscribe link signed with the ops key (hence the secret;
    // the identity key hashes the address).
    { actions: ['sqs:SendMessage'], on: { queue: 'rft-signup-jobs' } },
    invoke('rft-minter'),
    // An enrolment whose email could not be sent gives its claim back (DeleteItem) so the
    // queue's next delivery sends it without waiting out the claim's lease.
    { ...ddb(['GetItem', 'DeleteItem'], 'rft-audit'), condition: WEBHOOK_KEYS_ONLY },
    SECRET,
    // Referrals and audit rows are sealed under their friend's or subject's key, created with
    // the first; codes and a referrer's referrals are read with their keys.
    ddb(['GetItem', 'PutItem', 'BatchGetItem'], 'rft-keys'),
  ],
  // The only role that writes the ledger. It deletes nothing except for erasure (POST
  // /api/customers/{id}/erase): a customer's identity claims, their touches, their
  // active-code guard and the sealing keys of the erased (rft-keys); each delete is confined
  // to those keys where IAM can say so.
  'rft-rewarder': [
    LOGGING,
    ddb(['GetItem', 'PutItem', 'UpdateItem', 'Query'], 'rft-rewards'),
    // Each step of the reward path queues the next (a delayed re-send for a retry).
    { actions: ['sqs:SendMessage'], on: { queue: 'rft-reward-jobs' } },
    ddb(['Query'], 'rft-rewards', 'by_customer'),
    ddb(['GetItem', 'PutItem'], 'rft-referrals'),
    ddb(['Query'], 'rft-referrals', 'by_referrer'),
    ddb(['Query'], 'rft-referrals', 'by_claimant'),
    { ...ddb(['DeleteItem'], 'rft-referrals'), condition: CLAIM_KEYS_ONLY },
    // An order's record: its refund, and the referral that converted with it.
    { ...ddb(['UpdateItem'], 'rft-referrals'), condition: leadingKeys('order#') },
    // Erasure keeps a customer's hashed claims as tombstones, removing whose they were, and
    // forgets which order was their first.
    { ...ddb(['UpdateItem'], 'rft-referrals'), condition: CLAIM_KEYS_ONLY },
    { ...ddb(['DeleteItem'], 'rft-referrals'), condition: leadingKeys('first#') },
    // Codes: read for the screen and thanks, flagged and cleared, forgotten by erasure.
    ddb(['GetItem', 'PutItem', 'UpdateItem'], 'rft-codes'),
    ddb(['Query'], 'rft-codes', 'by_referrer'),
    { ...ddb(['DeleteItem'], 'rft-codes'), condition: GUARD_KEYS_ONLY },
    // Conversion velocity counters and the programme's totals (items in rft-clicks: counted
    // here by updates, read by the screen); erasure deletes a customer's touches (keyed by
    // random tokens and email hashes, so no narrower key condition exists).
    ddb(['UpdateItem', 'Query', 'DeleteItem'], 'rft-clicks'),
    ddb(['PutItem'], 'rft-audit'),
    ddb(['Query'], 'rft-audit', 'by_subject'),
    consume('rft-reward-jobs'),
    invoke('rft-screen'),
    BEDROCK,
    SES_SEND,
    { actions: ['sns:Publish'], on: { smsToPhoneNumbers: true } },
    SECRET,
    // What it reads and writes is sealed under its owners' keys (created where an owner has
    // none); erasure destroys the keys of its subjects, which is what makes the personal
    // fields in older copies of the other tables unreadable, and remembers whom it erased
    // (`erased#<opaque id>`).
    ddb(['GetItem', 'PutItem', 'BatchGetItem', 'DeleteItem'], 'rft-keys'),
    // An operator's direct calls (docs/operations.md, section 11): `seal_existing` scans codes,
    // referrals and the audit for records written before sealing and rewrites each in place;
    // `reapply_erasures`, after a restore, scans codes, referrals and ledger rows for the
    // customers they name. The only scans besides the edge's ledger export.
    ddb(['Scan'], 'rft-codes'),
    ddb(['Scan'], 'rft-referrals'),
    ddb(['Scan'], 'rft-rewards'),
    ddb(['Scan', 'UpdateItem'], 'rft-audit'),
    { ...ddb(['UpdateItem'], 'rft-referrals'), condition: leadingKeys('referral#') },
  ],
  // Reads its inputs; sends hold emails through SES only; signs ops links with the secret.
  'rft-screen': [
    LOGGING,
    ddb(['GetItem'], 'rft-codes'),
    // Velocity counters (items in rft-clicks, read together) and a code's clicks per hour
    // (its rollup rows): counts only.
    { ...ddb(['BatchGetItem', 'Query'], 'rft-clicks'), condition: COUNTER_KEYS_ONLY },
    SES_SEND,
    SECRET,
  ],
  'rft-sweep': [
    LOGGING,
    ddb(['Query'], 'rft-referrals', 'by_queue'),
    // Conversions past their confirmation period are handed to the rewarder.
    { actions: ['sqs:SendMessage'], on: { queue: 'rft-reward-jobs' } },
    ddb(['PutItem'], 'rft-referrals'),
    ddb(['PutItem'], 'rft-audit'),
    // The referrals it expires are read and rewritten under their friends' keys (one written
    // before sealing gets its friend's first key here).
    ddb(['GetItem', 'PutItem', 'BatchGetItem'], 'rft-keys'),
    // Counting rft-clicks' stream into the rollups: updates of counter rows and batch markers.
    { ...ddb(['UpdateItem'], 'rft-clicks'), condition: COUNTER_KEYS_ONLY },
    {
      actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
      on: { stream: 'rft-clicks' },
      platform: "Lambda's event source mapping reads rft-clicks' stream and hands the sweep its batches of new clicks",
    },
    {
      actions: ['sns:Publish'],
      on: { alarmTopic: true },
      platform: "Lambda delivers a failed scheduled run to the alarm topic (the sweep's on-failure destination)",
    },
  ],
};

/**
 * How test/aws-calls.json names a target's resource (`table/rft-codes`, `ses-identity`, ...);
 * undefined for targets only platform grants use.
 */
export function callResourceOf(target: Target): string | undefined {
  if ('stream' in target) return undefined;
  if ('index' in target) return `table/${target.table}/index/${target.index}`;
  if ('table' in target) return `table/${target.table}`;
  if ('queue' in target) return `queue/${target.queue}`;
  if ('fn' in target) return `function/${target.fn}`;
  if ('secret' in target) return 'secret';
  if ('sesIdentity' in target) return 'ses-identity';
  if ('bedrockModel' in target) return 'model';
  if ('smsToPhoneNumbers' in target) return 'sms';
  return undefined;
}

/** The partition key prefix a grant's `dynamodb:LeadingKeys` condition allows, if it has one. */
export function leadingKeyPrefix(grant: Grant): string | undefined {
  const keys = grant.condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
  return keys?.length === 1 && keys[0].endsWith('*') ? keys[0].slice(0, -1) : undefined;
}
