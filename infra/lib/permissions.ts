/**
 * Least privilege, in one place: what each function's role may do, as data. The stack turns
 * every grant into one IAM statement on that function's own role and adds nothing else
 * (test/permissions.test.ts compares the synthesized roles with an independently written matrix).
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
  /** A job queue (not its DLQ: nothing reads DLQs but a person). */
  | { readonly queue: QueueName }
  /** Another function, to invoke synchronously. */
  | { readonly fn: FunctionName }
  /** The one Secrets Manager secret. */
  | { readonly secret: true }
  /** The SES identity of the sending domain. */
  | { readonly sesIdentity: true }
  /** Claude Haiku 4.5 through its Global inference profile (profile ARN + foundation-model ARNs). */
  | { readonly bedrockHaiku: true }
  /** The function's own log group. */
  | { readonly ownLogGroup: true }
  /** `*`: allowed only where AWS offers no narrower resource; `why` says so. */
  | { readonly anyResource: string };

/** One statement: these actions on that target, optionally under an IAM condition. */
export interface Grant {
  readonly actions: readonly string[];
  readonly on: Target;
  readonly condition?: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

const ddb = (actions: string[], table: TableName, index?: string): Grant => ({
  actions: actions.map((a) => `dynamodb:${a}`),
  on: index === undefined ? { table } : { table, index },
});

/** Writing logs: CreateLogStream and PutLogEvents on the function's own (pre-created) log group. */
const LOGGING: Grant = { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], on: { ownLogGroup: true } };
const SECRET: Grant = { actions: ['secretsmanager:GetSecretValue'], on: { secret: true } };
const SES_SEND: Grant = { actions: ['ses:SendEmail', 'ses:SendRawEmail'], on: { sesIdentity: true } };
/** The Converse API is authorised as bedrock:InvokeModel. */
const BEDROCK: Grant = { actions: ['bedrock:InvokeModel'], on: { bedrockHaiku: true } };
/** What a Lambda SQS event source mapping needs from the consumer's role. */
const consume = (queue: QueueName): Grant => ({
  actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
  on: { queue },
});
const invoke = (fn: FunctionName): Grant => ({ actions: ['lambda:InvokeFunction'], on: { fn } });

/**
 * The edge keeps processed webhook ids in rft-audit under keys `webhook#<id>`; this condition
 * confines its audit item access to those keys so it can never read, forge or erase an audit event.
 */
export const WEBHOOK_KEYS_ONLY = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['webhook#*'] } } as const;

/** Erasure may delete identity claims (`claim#...`) in rft-referrals, and nothing else there. */
export const CLAIM_KEYS_ONLY = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['claim#*'] } } as const;

/** Erasure may delete a customer's active-code guard (`active#...`) in rft-codes, not codes. */
export const GUARD_KEYS_ONLY = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['active#*'] } } as const;

/** The matrix: every function's grants, and nothing else. */
export const PERMISSIONS: Record<FunctionName, readonly Grant[]> = {
  'rft-edge': [
    LOGGING,
    ddb(['GetItem'], 'rft-codes'),
    ddb(['Query'], 'rft-codes', 'by_referrer'),
    // Clicks; counter reads (the programme's totals) for the referrer's stats.
    ddb(['PutItem', 'Query', 'GetItem'], 'rft-clicks'),
    ddb(['Query'], 'rft-clicks', 'by_code'),
    ddb(['GetItem'], 'rft-referrals'),
    ddb(['Query'], 'rft-referrals', 'by_queue'),
    ddb(['Query'], 'rft-referrals', 'by_referrer'),
    ddb(['GetItem', 'Query'], 'rft-rewards'),
    ddb(['Query'], 'rft-rewards', 'by_customer'),
    { ...ddb(['PutItem', 'GetItem', 'DeleteItem'], 'rft-audit'), condition: WEBHOOK_KEYS_ONLY },
    ddb(['Query'], 'rft-audit', 'by_subject'),
    { actions: ['sqs:SendMessage'], on: { queue: 'rft-signup-jobs' } },
    { actions: ['sqs:SendMessage'], on: { queue: 'rft-reward-jobs' } },
    SECRET,
    invoke('rft-minter'),
    // Erasure runs in the rewarder, the one role allowed to rewrite the ledger.
    invoke('rft-rewarder'),
  ],
  'rft-minter': [
    LOGGING,
    ddb(['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'], 'rft-codes'),
    // Email-invite touches, and the daily invite quota (a counter item in rft-clicks).
    ddb(['GetItem', 'PutItem', 'UpdateItem'], 'rft-clicks'),
    ddb(['PutItem'], 'rft-audit'),
    SES_SEND,
    BEDROCK,
  ],
  'rft-attributor': [
    LOGGING,
    // Touches by token and email; sign-up velocity counters (items in rft-clicks).
    ddb(['Query', 'GetItem', 'PutItem', 'UpdateItem'], 'rft-clicks'),
    ddb(['Query'], 'rft-clicks', 'by_browser'),
    ddb(['GetItem'], 'rft-codes'),
    ddb(['GetItem', 'PutItem', 'UpdateItem'], 'rft-referrals'),
    ddb(['PutItem'], 'rft-audit'),
    consume('rft-signup-jobs'),
    invoke('rft-screen'),
  ],
  // The only role that writes the ledger. It deletes nothing except for erasure (POST
  // /api/customers/{id}/erase): a customer's identity claims, their touches and their
  // active-code guard; each delete is confined to those keys where IAM can say so.
  'rft-rewarder': [
    LOGGING,
    ddb(['GetItem', 'PutItem', 'UpdateItem', 'Query'], 'rft-rewards'),
    ddb(['Query'], 'rft-rewards', 'by_customer'),
    ddb(['GetItem', 'PutItem', 'UpdateItem'], 'rft-referrals'),
    ddb(['Query'], 'rft-referrals', 'by_queue'),
    ddb(['Query'], 'rft-referrals', 'by_referrer'),
    ddb(['Query'], 'rft-referrals', 'by_claimant'),
    { ...ddb(['DeleteItem'], 'rft-referrals'), condition: CLAIM_KEYS_ONLY },
    ddb(['GetItem', 'PutItem'], 'rft-codes'),
    ddb(['Query'], 'rft-codes', 'by_referrer'),
    { ...ddb(['DeleteItem'], 'rft-codes'), condition: GUARD_KEYS_ONLY },
    // Conversion velocity counters (items in rft-clicks); erasure deletes a customer's touches
    // (keyed by random tokens and email hashes, so no narrower key condition exists).
    ddb(['GetItem', 'PutItem', 'UpdateItem', 'Query', 'DeleteItem'], 'rft-clicks'),
    ddb(['PutItem'], 'rft-audit'),
    ddb(['Query'], 'rft-audit', 'by_subject'),
    consume('rft-reward-jobs'),
    invoke('rft-screen'),
    BEDROCK,
    SES_SEND,
    // SMS straight to a phone number has no resource ARN to name: AWS authorises sns:Publish
    // to a PhoneNumber only on "*". No topic exists, so "*" grants no other publish target.
    { actions: ['sns:Publish'], on: { anyResource: 'SNS SMS to a phone number has no narrower resource' } },
    SECRET,
  ],
  // Reads its inputs; sends hold emails through SES only; signs ops links with the secret.
  'rft-screen': [
    LOGGING,
    ddb(['GetItem'], 'rft-codes'),
    // Velocity counters (items in rft-clicks) and clicks per code.
    ddb(['GetItem'], 'rft-clicks'),
    ddb(['Query'], 'rft-clicks', 'by_code'),
    SES_SEND,
    SECRET,
  ],
  'rft-sweep': [
    LOGGING,
    ddb(['Query'], 'rft-referrals', 'by_queue'),
    ddb(['GetItem', 'PutItem', 'UpdateItem'], 'rft-referrals'),
    ddb(['PutItem'], 'rft-audit'),
  ],
};
