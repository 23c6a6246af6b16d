/**
 * ReferralTrackerStack, resource by resource: every value asserted here is written out
 * literally, so a change in lib/ has to be made here too.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { ConfigError, bedrockResources, readConfig } from '../lib/config';
import { ReferralTrackerStack, SECRET_PLACEHOLDER } from '../lib/stack';
import { FUNCTIONS, functionId, resourcesOfType, shopSettings, synth, tempDir } from './helpers';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const settingsFile = shopSettings();
const { template, json, assemblyDir } = synth({ settingsFile });
const R = json.Resources;

/** Logical id of the only resource of `type` whose property `prop` equals `value`. */
function idWhere(type: string, prop: string, value: unknown): string {
  const hits = Object.entries(resourcesOfType(json, type)).filter(([, r]) => r.Properties[prop] === value);
  assert.equal(hits.length, 1, `one ${type} with ${prop}=${String(value)}`);
  return hits[0][0];
}
const getAtt = (id: string, attr: string) => ({ 'Fn::GetAtt': [id, attr] });
const ref = (id: string) => ({ Ref: id });
const tableId = (name: string) => idWhere('AWS::DynamoDB::Table', 'TableName', name);
const queueId = (name: string) => idWhere('AWS::SQS::Queue', 'QueueName', name);
const fnId = (name: string) => functionId(json, name);

describe('functions', () => {
  const expected: Record<string, [number, number]> = {
    'rft-edge': [512, 10],
    'rft-minter': [256, 5],
    'rft-attributor': [256, 30],
    'rft-rewarder': [256, 60],
    'rft-screen': [256, 5],
    'rft-sweep': [256, 300],
  };
  const layerIds = Object.keys(resourcesOfType(json, 'AWS::Lambda::LayerVersion'));

  it('there are exactly six', () => {
    template.resourceCountIs('AWS::Lambda::Function', 6);
    assert.deepEqual(
      Object.values(resourcesOfType(json, 'AWS::Lambda::Function')).map((r) => r.Properties.FunctionName).sort(),
      [...FUNCTIONS].sort(),
    );
  });

  for (const name of FUNCTIONS) {
    it(`${name}: provided.al2023, arm64, bootstrap, memory and timeout`, () => {
      const p = R[fnId(name)].Properties;
      assert.equal(p.Runtime, 'provided.al2023');
      assert.deepEqual(p.Architectures, ['arm64']);
      assert.equal(p.Handler, 'bootstrap');
      assert.equal(p.MemorySize, expected[name][0]);
      assert.equal(p.Timeout, expected[name][1]);
    });

    it(`${name}: the settings layer and the shared environment`, () => {
      const p = R[fnId(name)].Properties;
      assert.equal(layerIds.length, 1);
      assert.deepEqual(p.Layers, [ref(layerIds[0])]);
      const env = p.Environment.Variables;
      const keys = [
        'RFT_SETTINGS', 'RFT_SECRET_ID', 'RFT_TABLE_CODES', 'RFT_TABLE_CLICKS', 'RFT_TABLE_REFERRALS',
        'RFT_TABLE_REWARDS', 'RFT_TABLE_AUDIT', 'RFT_TABLE_KEYS', 'RFT_SIGNUP_QUEUE_URL', 'RFT_REWARD_QUEUE_URL',
        'RFT_MINTER_FUNCTION', 'RFT_SCREEN_FUNCTION', 'RFT_REWARDER_FUNCTION', 'RUST_LOG',
      ];
      assert.deepEqual(Object.keys(env).sort(), keys.sort());
      assert.equal(env.RFT_SETTINGS, '/opt/rft/settings.toml');
      assert.equal(env.RUST_LOG, 'info');
      assert.equal(env.RFT_MINTER_FUNCTION, 'rft-minter');
      assert.equal(env.RFT_SCREEN_FUNCTION, 'rft-screen');
      assert.deepEqual(env.RFT_SECRET_ID, ref(idWhere('AWS::SecretsManager::Secret', 'Name', 'rft/secrets')));
      assert.deepEqual(env.RFT_TABLE_CODES, ref(tableId('rft-codes')));
      assert.deepEqual(env.RFT_TABLE_CLICKS, ref(tableId('rft-clicks')));
      assert.deepEqual(env.RFT_TABLE_REFERRALS, ref(tableId('rft-referrals')));
      assert.deepEqual(env.RFT_TABLE_REWARDS, ref(tableId('rft-rewards')));
      assert.deepEqual(env.RFT_TABLE_AUDIT, ref(tableId('rft-audit')));
      assert.deepEqual(env.RFT_TABLE_KEYS, ref(tableId('rft-keys')));
      assert.deepEqual(env.RFT_SIGNUP_QUEUE_URL, ref(queueId('rft-signup-jobs')));
      assert.deepEqual(env.RFT_REWARD_QUEUE_URL, ref(queueId('rft-reward-jobs')));
    });

    it(`${name}: its own log group, kept 7 days, and its own role`, () => {
      const p = R[fnId(name)].Properties;
      const lg = idWhere('AWS::Logs::LogGroup', 'LogGroupName', `/aws/lambda/${name}`);
      assert.equal(R[lg].Properties.RetentionInDays, 7);
      assert.deepEqual(p.LoggingConfig, { LogGroup: ref(lg) });
      const roleId = p.Role['Fn::GetAtt'][0];
      assert.equal(R[roleId].Type, 'AWS::IAM::Role');
      const sharing = Object.values(resourcesOfType(json, 'AWS::Lambda::Function')).filter(
        (f) => f.Properties.Role['Fn::GetAtt'][0] === roleId,
      );
      assert.equal(sharing.length, 1, `${name}'s role is its own`);
    });
  }

  it('every environment variable the stack sets is read by the Rust code', () => {
    const sources = rustSources().join('\n');
    const set = new Set(
      Object.values(resourcesOfType(json, 'AWS::Lambda::Function')).flatMap((f) => Object.keys(f.Properties.Environment.Variables)),
    );
    for (const key of set) assert.ok(sources.includes(`"${key}"`), `${key} is set by the stack but no Rust code reads it`);
  });

  it('rft-edge alone has reserved concurrency: aws.edge_reserved_concurrency (20), 0 meaning none', () => {
    for (const name of FUNCTIONS) {
      assert.equal(R[fnId(name)].Properties.ReservedConcurrentExecutions, name === 'rft-edge' ? 20 : undefined, name);
    }
    const custom = synth({ settingsFile: shopSettings([['edge_reserved_concurrency = 20', 'edge_reserved_concurrency = 0']]) });
    assert.equal(custom.json.Resources[functionId(custom.json, 'rft-edge')].Properties.ReservedConcurrentExecutions, undefined);
  });

  it('six log groups, all with 7-day retention', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 6);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('the settings layer is arm64 and ships the settings file at rft/settings.toml', () => {
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleArchitectures: ['arm64'],
    });
    const staged = findStagedSettings(assemblyDir);
    assert.equal(staged.length, 1, 'one asset holds rft/settings.toml');
    assert.equal(fs.readFileSync(staged[0], 'utf8'), fs.readFileSync(settingsFile, 'utf8'));
  });
});

describe('function URL', () => {
  it('exactly one, on rft-edge, auth NONE, streamed, with its URL as output EdgeUrl', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    const [urlId, url] = Object.entries(resourcesOfType(json, 'AWS::Lambda::Url'))[0];
    assert.equal(url.Properties.AuthType, 'NONE');
    // rft-edge runs lambda_http's streaming runtime: a buffered URL could not read its answers.
    assert.equal(url.Properties.InvokeMode, 'RESPONSE_STREAM');
    assert.deepEqual(url.Properties.TargetFunctionArn, getAtt(fnId('rft-edge'), 'Arn'));
    assert.deepEqual(json.Outputs?.EdgeUrl?.Value, getAtt(urlId, 'FunctionUrl'));
  });

  it('public invoke permissions exist for rft-edge only', () => {
    const perms = Object.values(resourcesOfType(json, 'AWS::Lambda::Permission'));
    assert.ok(perms.length > 0);
    for (const p of perms) {
      assert.deepEqual(p.Properties.FunctionName, getAtt(fnId('rft-edge'), 'Arn'));
    }
  });
});

describe('tables', () => {
  it('exactly six, on demand, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 6);
    template.allResourcesProperties('AWS::DynamoDB::Table', { BillingMode: 'PAY_PER_REQUEST' });
    for (const r of Object.values(R).filter((r) => r.Type === 'AWS::DynamoDB::Table')) {
      const raw = r as unknown as { DeletionPolicy?: string; UpdateReplacePolicy?: string };
      assert.equal(raw.DeletionPolicy, 'Retain');
      assert.equal(raw.UpdateReplacePolicy, 'Retain');
    }
  });

  type Key = [string, 'S' | 'N'];
  interface Expect {
    pk: Key;
    sk?: Key;
    ttl?: string;
    pitr: boolean;
    gsis: { name: string; pk: Key; sk: Key; projection: 'ALL' | 'KEYS_ONLY' | string[] }[];
    stream?: 'NEW_IMAGE';
  }
  const expected: Record<string, Expect> = {
    'rft-codes': {
      pk: ['code', 'S'],
      pitr: true,
      gsis: [
        { name: 'by_referrer', pk: ['referrer_id', 'S'], sk: ['created_at', 'N'], projection: 'ALL' },
        { name: 'by_flag', pk: ['flag_queue', 'S'], sk: ['flagged_at', 'N'], projection: 'ALL' },
        { name: 'by_status', pk: ['status', 'S'], sk: ['created_at', 'N'], projection: 'ALL' },
      ],
    },
    'rft-clicks': {
      pk: ['attribution_id', 'S'],
      sk: ['click_ts', 'N'],
      ttl: 'expires_at',
      pitr: true,
      gsis: [{ name: 'by_browser', pk: ['browser', 'S'], sk: ['click_ts', 'N'], projection: 'ALL' }],
      stream: 'NEW_IMAGE',
    },
    'rft-referrals': {
      pk: ['referred_id', 'S'],
      pitr: true,
      gsis: [
        { name: 'by_queue', pk: ['queue', 'S'], sk: ['queue_ts', 'N'], projection: 'ALL' },
        { name: 'by_referrer', pk: ['referrer_id', 'S'], sk: ['created_at', 'N'], projection: 'ALL' },
        { name: 'by_claimant', pk: ['claimant', 'S'], sk: ['referred_id', 'S'], projection: 'KEYS_ONLY' },
        { name: 'by_state', pk: ['state', 'S'], sk: ['created_at', 'N'], projection: 'ALL' },
      ],
    },
    'rft-rewards': {
      pk: ['referral_id', 'S'],
      sk: ['side', 'S'],
      pitr: true,
      gsis: [{ name: 'by_customer', pk: ['customer_id', 'S'], sk: ['created_at', 'N'], projection: 'ALL' }],
    },
    'rft-audit': {
      pk: ['event_id', 'S'],
      sk: ['ts', 'N'],
      ttl: 'expires_at',
      pitr: true,
      gsis: [{ name: 'by_subject', pk: ['subject', 'S'], sk: ['ts', 'N'], projection: 'ALL' }],
    },
    // The keys that seal the other tables' personal fields. No PITR, and never backed up (see
    // 'rft-keys is never backed up' below): erasure destroys keys here, which is what leaves
    // the personal fields in older copies of the other tables unreadable.
    'rft-keys': {
      pk: ['owner', 'S'],
      pitr: false,
      gsis: [],
    },
  };

  for (const [name, e] of Object.entries(expected)) {
    it(`${name}: keys, GSIs, TTL, PITR, stream`, () => {
      const p = R[tableId(name)].Properties;
      const keySchema = (pk: Key, sk?: Key) => [
        { AttributeName: pk[0], KeyType: 'HASH' },
        ...(sk ? [{ AttributeName: sk[0], KeyType: 'RANGE' }] : []),
      ];
      assert.deepEqual(p.KeySchema, keySchema(e.pk, e.sk));

      const attrs = new Map<string, string>();
      for (const k of [e.pk, e.sk, ...e.gsis.flatMap((g) => [g.pk, g.sk])]) if (k) attrs.set(k[0], k[1]);
      const actualAttrs = (p.AttributeDefinitions as { AttributeName: string; AttributeType: string }[])
        .map((a) => `${a.AttributeName}:${a.AttributeType}`)
        .sort();
      assert.deepEqual(actualAttrs, [...attrs].map(([n, t]) => `${n}:${t}`).sort());

      const gsis = (p.GlobalSecondaryIndexes ?? []) as { IndexName: string }[];
      assert.deepEqual(
        gsis.map((g) => g.IndexName).sort(),
        e.gsis.map((g) => g.name).sort(),
      );
      for (const g of e.gsis) {
        const actual = gsis.find((x) => x.IndexName === g.name);
        assert.deepEqual(actual, {
          IndexName: g.name,
          KeySchema: keySchema(g.pk, g.sk),
          Projection:
            g.projection === 'ALL' || g.projection === 'KEYS_ONLY'
              ? { ProjectionType: g.projection }
              : { ProjectionType: 'INCLUDE', NonKeyAttributes: g.projection },
        });
      }

      if (e.ttl) assert.deepEqual(p.TimeToLiveSpecification, { AttributeName: e.ttl, Enabled: true });
      else assert.equal(p.TimeToLiveSpecification, undefined);

      if (e.pitr) assert.equal(p.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, true);
      else assert.notEqual(p.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, true);

      assert.deepEqual(p.StreamSpecification, e.stream ? { StreamViewType: e.stream } : undefined);
    });
  }
});

/**
 * The AWS Backup selections of a template that would copy rft-keys (logical id `keysId`): one
 * that names it, or one that selects by wildcard or by tag (either can reach it) without
 * excluding it in NotResources.
 */
function selectionsReachingKeys(j: typeof json, keysId: string): string[] {
  const names = (x: unknown) => {
    const text = JSON.stringify(x ?? null);
    return text.includes(`"${keysId}"`) || text.includes('rft-keys');
  };
  return Object.entries(resourcesOfType(j, 'AWS::Backup::BackupSelection'))
    .filter(([, r]) => {
      const selection = r.Properties?.BackupSelection ?? {};
      if (names(selection.Resources)) return true;
      const broad = JSON.stringify(selection.Resources ?? []).includes('*') || (selection.ListOfTags ?? []).length > 0;
      return broad && !names(selection.NotResources);
    })
    .map(([id]) => id);
}

// rft-keys holds the keys that seal the personal fields of the other tables' items. Erasure
// destroys a person's keys, and that is the only thing that reaches the copies of the other
// tables a restore or backup still holds: those copies keep the fields, sealed under keys that
// no longer exist. A copy of rft-keys (PITR, an AWS Backup, an export to S3, which needs PITR)
// would keep the destroyed keys and undo every erasure. So: no PITR, and in no backup.
describe('rft-keys is never backed up', () => {
  const keysId = tableId('rft-keys');

  it('no point-in-time recovery (so no export to S3 either), no stream, no Kinesis destination; retained', () => {
    const r = R[keysId] as unknown as { Properties: Record<string, unknown>; DeletionPolicy?: string };
    assert.deepEqual(r.Properties.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: false });
    assert.equal(r.Properties.StreamSpecification, undefined);
    assert.equal(r.Properties.KinesisStreamSpecification, undefined);
    assert.equal(r.DeletionPolicy, 'Retain');
  });

  it('the stack defines no AWS Backup plan, and no backup selection reaches rft-keys', () => {
    // The other tables' history is their PITR. A plan added here must leave rft-keys out.
    template.resourceCountIs('AWS::Backup::BackupPlan', 0);
    assert.deepEqual(selectionsReachingKeys(json, keysId), []);
  });

  it('a selection naming rft-keys, taking every table or choosing by tag is caught; one excluding it is not (the test can fail)', () => {
    const mutated: typeof json = structuredClone(json);
    const selection = (id: string, s: Record<string, unknown>) => {
      mutated.Resources[id] = {
        Type: 'AWS::Backup::BackupSelection',
        Properties: { BackupPlanId: 'plan', BackupSelection: { SelectionName: id, IamRoleArn: 'role', ...s } },
      };
    };
    const tableArn = (name: string) => getAtt(tableId(name), 'Arn');
    selection('OthersOnly', { Resources: ['rft-codes', 'rft-referrals', 'rft-rewards', 'rft-audit'].map(tableArn) });
    selection('NamesKeys', { Resources: [tableArn('rft-codes'), tableArn('rft-keys')] });
    selection('EveryTable', { Resources: ['arn:aws:dynamodb:*:*:table/*'] });
    selection('ByTag', { ListOfTags: [{ ConditionType: 'STRINGEQUALS', ConditionKey: 'backup', ConditionValue: 'yes' }] });
    selection('EveryTableButKeys', { Resources: ['arn:aws:dynamodb:*:*:table/*'], NotResources: [tableArn('rft-keys')] });
    assert.deepEqual(selectionsReachingKeys(mutated, keysId).sort(), ['ByTag', 'EveryTable', 'NamesKeys']);
  });
});

describe('queues', () => {
  it('four: two job queues and their DLQs', () => {
    template.resourceCountIs('AWS::SQS::Queue', 4);
    assert.deepEqual(
      Object.values(resourcesOfType(json, 'AWS::SQS::Queue')).map((q) => q.Properties.QueueName).sort(),
      ['rft-reward-jobs', 'rft-reward-jobs-dlq', 'rft-signup-jobs', 'rft-signup-jobs-dlq'],
    );
  });

  for (const [queue, consumer, timeout] of [
    ['rft-signup-jobs', 'rft-attributor', 30],
    ['rft-reward-jobs', 'rft-rewarder', 60],
  ] as const) {
    it(`${queue}: own DLQ after 5 receives, visibility >= 6x ${consumer}'s timeout, both kept 14 days`, () => {
      const p = R[queueId(queue)].Properties;
      const dlq = queueId(`${queue}-dlq`);
      assert.deepEqual(p.RedrivePolicy, { deadLetterTargetArn: getAtt(dlq, 'Arn'), maxReceiveCount: 5 });
      assert.ok(p.VisibilityTimeout >= 6 * timeout, `visibility ${p.VisibilityTimeout} >= ${6 * timeout}`);
      assert.equal(p.MessageRetentionPeriod, 14 * 24 * 3600);
      assert.equal(R[dlq].Properties.MessageRetentionPeriod, 14 * 24 * 3600);
      assert.equal(R[dlq].Properties.RedrivePolicy, undefined);
    });

    // The rewarder takes one job at a time (it may wait on the store's endpoint).
    const batch = queue === 'rft-reward-jobs' ? 1 : 10;
    it(`${consumer} consumes ${queue}: batch ${batch}, partial batch failures, at most 2 at once`, () => {
      const mappings = Object.values(resourcesOfType(json, 'AWS::Lambda::EventSourceMapping')).filter(
        (m) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(getAtt(queueId(queue), 'Arn')),
      );
      assert.equal(mappings.length, 1);
      assert.deepEqual(mappings[0].Properties.FunctionName, ref(fnId(consumer)));
      assert.equal(mappings[0].Properties.BatchSize, batch);
      assert.deepEqual(mappings[0].Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.deepEqual(mappings[0].Properties.ScalingConfig, { MaximumConcurrency: 2 });
    });
  }

  it('exactly two queue mappings; aws.queue_max_concurrency sets their cap', () => {
    const fromQueues = (j: typeof json) =>
      Object.values(resourcesOfType(j, 'AWS::Lambda::EventSourceMapping')).filter(
        (m) => m.Properties.StartingPosition === undefined,
      );
    assert.equal(fromQueues(json).length, 2);
    const custom = synth({ settingsFile: shopSettings([['queue_max_concurrency = 2', 'queue_max_concurrency = 7']]) });
    for (const m of fromQueues(custom.json)) {
      assert.deepEqual(m.Properties.ScalingConfig, { MaximumConcurrency: 7 });
    }
  });
});

describe("rft-clicks' stream", () => {
  it('feeds rft-sweep new clicks only, in batches retried whole, failures to the alarm topic', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    const mappings = Object.values(resourcesOfType(json, 'AWS::Lambda::EventSourceMapping')).filter(
      (m) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(getAtt(tableId('rft-clicks'), 'StreamArn')),
    );
    assert.equal(mappings.length, 1);
    const p = mappings[0].Properties;
    assert.deepEqual(p.FunctionName, ref(fnId('rft-sweep')));
    assert.equal(p.StartingPosition, 'TRIM_HORIZON');
    assert.equal(p.BatchSize, 1000);
    assert.equal(p.MaximumBatchingWindowInSeconds, 10);
    assert.equal(p.MaximumRetryAttempts, 50);
    assert.equal(p.BisectBatchOnFunctionError, false);
    assert.equal(p.FunctionResponseTypes, undefined, 'no partial batch responses: a batch is retried whole');
    assert.deepEqual(JSON.parse(p.FilterCriteria.Filters[0].Pattern), {
      eventName: ['INSERT'],
      dynamodb: { NewImage: { c: { S: [{ exists: true }] } } },
    });
    const topicId = idWhere('AWS::SNS::Topic', 'TopicName', 'rft-alarms');
    assert.deepEqual(p.DestinationConfig, { OnFailure: { Destination: ref(topicId) } });
  });
});

describe('alarms', () => {
  const topicId = idWhere('AWS::SNS::Topic', 'TopicName', 'rft-alarms');
  const alarms = Object.values(resourcesOfType(json, 'AWS::CloudWatch::Alarm'));

  it('the alarm topic emails the operator (context alarmEmail)', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: ref(topicId),
    });
  });

  for (const queue of ['rft-signup-jobs', 'rft-reward-jobs']) {
    it(`${queue}-dlq: alarm when any message is visible`, () => {
      const hits = alarms.filter(
        (a) =>
          a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
          JSON.stringify(a.Properties.Dimensions) ===
            JSON.stringify([{ Name: 'QueueName', Value: getAtt(queueId(`${queue}-dlq`), 'QueueName') }]),
      );
      assert.equal(hits.length, 1);
      const p = hits[0].Properties;
      assert.equal(p.Namespace, 'AWS/SQS');
      assert.equal(p.Threshold, 0);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      assert.deepEqual(p.AlarmActions, [ref(topicId)]);
    });

    it(`${queue}: alarm when the oldest message is over 15 minutes old`, () => {
      const hits = alarms.filter(
        (a) =>
          a.Properties.MetricName === 'ApproximateAgeOfOldestMessage' &&
          JSON.stringify(a.Properties.Dimensions) ===
            JSON.stringify([{ Name: 'QueueName', Value: getAtt(queueId(queue), 'QueueName') }]),
      );
      assert.equal(hits.length, 1);
      const p = hits[0].Properties;
      assert.equal(p.Threshold, 900);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      assert.deepEqual(p.AlarmActions, [ref(topicId)]);
    });
  }

  for (const name of FUNCTIONS) {
    for (const metric of ['Errors', 'Throttles']) {
      it(`${name}: alarm on any ${metric} in 5 minutes`, () => {
        const hits = alarms.filter(
          (a) =>
            a.Properties.MetricName === metric &&
            JSON.stringify(a.Properties.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: ref(fnId(name)) }]),
        );
        assert.equal(hits.length, 1);
        const p = hits[0].Properties;
        assert.deepEqual([p.Namespace, p.Statistic, p.Period, p.Threshold, p.ComparisonOperator], ['AWS/Lambda', 'Sum', 300, 0, 'GreaterThanThreshold']);
        assert.deepEqual(p.AlarmActions, [ref(topicId)]);
      });
    }
  }

  it('rft-edge: alarm on any 5xx from its Function URL', () => {
    const hits = alarms.filter((a) => a.Properties.MetricName === 'Url5xxCount');
    assert.equal(hits.length, 1);
    const p = hits[0].Properties;
    assert.deepEqual(p.Dimensions, [{ Name: 'FunctionName', Value: ref(fnId('rft-edge')) }]);
    assert.deepEqual([p.Statistic, p.Threshold, p.AlarmActions], ['Sum', 0, [ref(topicId)]]);
  });

  it('seventeen alarms in all, each to the one topic', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 17);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    for (const a of alarms) assert.deepEqual(a.Properties.AlarmActions, [ref(topicId)]);
  });
});

describe('sweep schedule', () => {
  it('EventBridge Scheduler invokes rft-sweep at rate(1 hour)', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.resourceCountIs('AWS::Events::Rule', 0);
    const s = Object.values(resourcesOfType(json, 'AWS::Scheduler::Schedule'))[0].Properties;
    assert.equal(s.ScheduleExpression, 'rate(1 hour)');
    assert.equal(s.State, 'ENABLED');
    assert.deepEqual(s.Target.Arn, getAtt(fnId('rft-sweep'), 'Arn'));
  });

  it('through its own role that may only invoke rft-sweep', () => {
    const s = Object.values(resourcesOfType(json, 'AWS::Scheduler::Schedule'))[0].Properties;
    const roleId = s.Target.RoleArn['Fn::GetAtt'][0];
    const role = R[roleId].Properties;
    assert.deepEqual(
      role.AssumeRolePolicyDocument.Statement.map((st: { Principal: unknown }) => st.Principal),
      [{ Service: 'scheduler.amazonaws.com' }],
    );
    assert.equal(role.ManagedPolicyArns, undefined);
    assert.equal(role.Policies, undefined);
    const statements = Object.values(resourcesOfType(json, 'AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: unknown) => JSON.stringify(r) === JSON.stringify(ref(roleId))))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const sweepArn = getAtt(fnId('rft-sweep'), 'Arn');
    assert.deepEqual(statements, [
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: [sweepArn, { 'Fn::Join': ['', [sweepArn, ':*']] }],
      },
    ]);
  });
});

describe("the sweep's failures", () => {
  it('a failed run goes, after two retries, to the alarm topic', () => {
    const configs = Object.values(resourcesOfType(json, 'AWS::Lambda::EventInvokeConfig'));
    assert.equal(configs.length, 1);
    const p = configs[0].Properties;
    assert.deepEqual(p.FunctionName, ref(fnId('rft-sweep')));
    assert.equal(p.MaximumRetryAttempts, 2);
    assert.deepEqual(p.DestinationConfig, {
      OnFailure: { Destination: ref(idWhere('AWS::SNS::Topic', 'TopicName', 'rft-alarms')) },
    });
  });
});

describe('secret, SES, budget', () => {
  it('exactly one secret, rft/secrets, holding the keys a webhooks store needs as placeholders', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const s = R[idWhere('AWS::SecretsManager::Secret', 'Name', 'rft/secrets')].Properties;
    const value = JSON.parse(s.SecretString);
    assert.deepEqual(Object.keys(value).sort(), [
      'identity_key',
      'ops_secret',
      'signing_secret',
      'store_api_key',
      'store_signing_secret',
    ]);
    // The functions refuse this value in every key (crates/rft-core/src/secrets.rs).
    for (const v of Object.values(value)) assert.equal(v, SECRET_PLACEHOLDER);
    assert.match(SECRET_PLACEHOLDER, /^REPLACE_ME/);
  });

  it('a Stripe store gets its two provider keys as placeholders instead of the store signing secret', () => {
    const stripe = shopSettings([[/kind = "webhooks"[^\n]*/, 'kind = "stripe"']]);
    const j = synth({ settingsFile: stripe }).json;
    const secret = Object.values(resourcesOfType(j, 'AWS::SecretsManager::Secret'))[0].Properties;
    assert.deepEqual(Object.keys(JSON.parse(secret.SecretString)).sort(), [
      'identity_key',
      'ops_secret',
      'signing_secret',
      'store_api_key',
      'stripe_api_key',
      'stripe_webhook_secret',
    ]);
  });

  const sendGrant = (j: typeof json, fn: string) =>
    Object.values(resourcesOfType(j, 'AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([ref(j.Resources[functionId(j, fn)].Properties.Role['Fn::GetAtt'][0])]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .find((st: { Action: unknown }) => st.Action === 'ses:SendEmail');
  const identities = (st: { Resource: unknown[] }) =>
    st.Resource.map((r) => JSON.stringify(r).match(/identity\/([^"]+)/)?.[1]);

  it("the SES identity is messages.from_email's domain, and the roles may send from it", () => {
    template.resourceCountIs('AWS::SES::EmailIdentity', 1);
    template.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'shop.example' });
    for (const fn of ['rft-minter', 'rft-screen', 'rft-rewarder']) {
      assert.deepEqual(identities(sendGrant(json, fn)), ['shop.example', 'hello@shop.example'], fn);
    }
    const other = synth({ settingsFile: shopSettings([['hello@shop.example', 'news@mail.other.example']]) });
    other.template.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'mail.other.example' });
    assert.deepEqual(identities(sendGrant(other.json, 'rft-minter')), ['mail.other.example', 'news@mail.other.example']);
  });

  it('a context sesDomain that is not the sender\'s stops synth', () => {
    assert.throws(
      () => synth({ sesDomain: 'freshbox.uk' }),
      (e: Error) => e instanceof ConfigError && /messages.from_email \(hello@shop.example\) is on shop.example/.test(e.message),
    );
    synth({ sesDomain: 'shop.example' });
  });

  it('sesIdentityExists=true uses the existing identity: none created, no DKIM outputs, same grant', () => {
    const existing = synth({ sesIdentityExists: 'true' });
    existing.template.resourceCountIs('AWS::SES::EmailIdentity', 0);
    assert.deepEqual(Object.keys(existing.json.Outputs ?? {}).filter((k) => k.startsWith('Dkim')), []);
    assert.deepEqual(identities(sendGrant(existing.json, 'rft-rewarder')), ['shop.example', 'hello@shop.example']);
    assert.deepEqual(Object.keys(json.Outputs ?? {}).filter((k) => k.startsWith('Dkim')).length, 3);
  });

  it('sesSandboxRecipients adds verified test recipients to the send grant', () => {
    const sandbox = synth({ sesSandboxRecipients: 'me@shop.example, you@other.example' });
    assert.deepEqual(identities(sendGrant(sandbox.json, 'rft-screen')), [
      'shop.example', 'hello@shop.example', 'me@shop.example', 'you@other.example',
    ]);
  });

  it('a monthly COST budget of $5 emailing at 80% actual and 100% forecast, named for its Region', () => {
    template.resourceCountIs('AWS::Budgets::Budget', 1);
    template.hasResourceProperties('AWS::Budgets::Budget', { Budget: { BudgetName: 'rft-monthly-cost-eu-west-2' } });
    const subscribers = [{ SubscriptionType: 'EMAIL', Address: 'budget@example.com' }];
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: 5, Unit: 'USD' } },
      NotificationsWithSubscribers: Match.arrayWith([
        {
          Notification: { NotificationType: 'ACTUAL', ComparisonOperator: 'GREATER_THAN', Threshold: 80, ThresholdType: 'PERCENTAGE' },
          Subscribers: subscribers,
        },
        {
          Notification: { NotificationType: 'FORECASTED', ComparisonOperator: 'GREATER_THAN', Threshold: 100, ThresholdType: 'PERCENTAGE' },
          Subscribers: subscribers,
        },
      ]),
    });
  });

  it('context budgetAmountUsd sets the limit', () => {
    synth({ budgetAmountUsd: '12' }).template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetLimit: { Amount: 12, Unit: 'USD' } },
    });
  });
});

describe('configuration', () => {
  const app = (context: Record<string, unknown>) => new App({ context });

  it('defaults: eu-west-2, no prefix, prebuilt, target/lambda, the team email for alerts', () => {
    const cfg = readConfig(app({ settingsFile }).node);
    assert.equal(cfg.region, 'eu-west-2');
    assert.equal(cfg.namePrefix, '');
    assert.equal(cfg.lambdaSource, 'prebuilt');
    assert.equal(cfg.lambdaAssetRoot, path.join(REPO_ROOT, 'target', 'lambda'));
    assert.equal(cfg.sesDomain, 'shop.example');
    assert.equal(cfg.createSesIdentity, true);
    assert.equal(cfg.budgetAmountUsd, 5);
    assert.equal(cfg.budgetEmail, 'referrals@shop.example');
    assert.equal(cfg.alarmEmail, 'referrals@shop.example');
    assert.deepEqual([cfg.settings.edgeReservedConcurrency, cfg.settings.queueMaxConcurrency], [20, 2]);
  });

  it('the example settings (the default file) stop synth, naming every example value, unless demo=true', () => {
    assert.throws(
      () => readConfig(app({}).node),
      (e: Error) =>
        e instanceof ConfigError &&
        ['links.base_url (refer.freshbox.uk', 'store.reward_url (api.freshbox.uk', 'links.cookie_domain', 'team.email',
          'messages.from_email', '-c demo=true'].every((part) => e.message.includes(part)),
    );
    const demo = readConfig(app({ demo: 'true' }).node);
    assert.equal(demo.settingsFile, path.join(REPO_ROOT, 'settings.example.toml'));
    assert.equal(demo.sesDomain, 'freshbox.uk');
  });

  it("one example value left (the store's host, an alert address) or this machine is enough to stop synth", () => {
    const refuses = (context: Record<string, unknown>, part: string) =>
      assert.throws(() => readConfig(app(context).node), (e: Error) => e instanceof ConfigError && e.message.includes(part), part);
    refuses({ settingsFile: shopSettings([['api.shop.example', 'api.freshbox.uk']]) }, 'store.reward_url (api.freshbox.uk');
    refuses({ settingsFile, alarmEmail: 'ops@freshbox.uk' }, 'context alarmEmail (ops@freshbox.uk');
    refuses({ settingsFile: shopSettings([['https://api.shop.example', 'http://127.0.0.1:3001']]) }, 'store.reward_url (127.0.0.1, this machine)');
    refuses({ settingsFile: path.join(REPO_ROOT, 'settings.local.toml') }, 'links.base_url (127.0.0.1, this machine)');
  });

  it('rejects a bad lambdaSource, budget, email, prefix or flag', () => {
    assert.throws(() => readConfig(app({ settingsFile, lambdaSource: 'docker' }).node), ConfigError);
    assert.throws(() => readConfig(app({ settingsFile, budgetAmountUsd: 'lots' }).node), ConfigError);
    assert.throws(() => readConfig(app({ settingsFile, alarmEmail: 'not-an-email' }).node), ConfigError);
    assert.throws(() => readConfig(app({ settingsFile, namePrefix: 'Staging' }).node), ConfigError);
    assert.throws(() => readConfig(app({ settingsFile, demo: 'yes' }).node), ConfigError);
    assert.throws(
      () => readConfig(app({ settingsFile: shopSettings([['queue_max_concurrency = 2', 'queue_max_concurrency = 1']]) }).node),
      /aws.queue_max_concurrency/,
    );
  });

  it("the Bedrock grant follows messages.model_id: a profile's ARN and its model's, or one model", () => {
    const modelGrant = (j: typeof json) =>
      Object.values(resourcesOfType(j, 'AWS::IAM::Policy'))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((st: { Action: unknown }) => st.Action === 'bedrock:InvokeModel')
        .map((st: { Resource: unknown }) => JSON.stringify(st.Resource));
    assert.ok(modelGrant(json).every((r) => r.includes('global.anthropic.claude-haiku-4-5') && r.includes('foundation-model/anthropic.claude-haiku-4-5')));
    const sonnet = 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0';
    const other = synth({ settingsFile: shopSettings([[/model_id = ".*"/, `model_id = "${sonnet}"`]]) });
    const grants = modelGrant(other.json);
    assert.equal(grants.length, 2, 'the minter and the rewarder');
    for (const g of grants) {
      assert.ok(g.includes(`inference-profile/${sonnet}`) && g.includes('bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0'), g);
      assert.ok(!g.includes('haiku'), g);
    }
    assert.deepEqual(bedrockResources('amazon.nova-lite-v1:0', 'aws', 'eu-west-2', '1'), [
      'arn:aws:bedrock:eu-west-2::foundation-model/amazon.nova-lite-v1:0',
    ]);
    assert.throws(
      () => readConfig(app({ settingsFile: shopSettings([[/model_id = ".*"/, 'model_id = "arn:aws:bedrock:eu-west-2:1:application-inference-profile/x"']]) }).node),
      /not an ARN/,
    );
  });

  it('namePrefix names every resource, and the stack, for a second stack in the same account', () => {
    const staging = synth({ namePrefix: 'staging-' });
    const names = (type: string, prop: string) =>
      Object.values(resourcesOfType(staging.json, type)).map((r) => String(r.Properties[prop]));
    for (const [type, prop] of [
      ['AWS::Lambda::Function', 'FunctionName'], ['AWS::DynamoDB::Table', 'TableName'], ['AWS::SQS::Queue', 'QueueName'],
      ['AWS::CloudWatch::Alarm', 'AlarmName'], ['AWS::SNS::Topic', 'TopicName'], ['AWS::Scheduler::Schedule', 'Name'],
      ['AWS::SecretsManager::Secret', 'Name'], ['AWS::Lambda::LayerVersion', 'LayerName'],
    ]) {
      const found = names(type, prop);
      assert.ok(found.length > 0 && found.every((n) => /^staging-rft[-\/]/.test(n)), `${type}: ${found.join(', ')}`);
    }
    assert.ok(names('AWS::Logs::LogGroup', 'LogGroupName').every((n) => n.startsWith('/aws/lambda/staging-rft-')));
    staging.template.hasResourceProperties('AWS::Budgets::Budget', { Budget: { BudgetName: 'staging-rft-monthly-cost-eu-west-2' } });
    const env = staging.json.Resources[functionId(staging.json, 'staging-rft-edge')].Properties.Environment.Variables;
    assert.deepEqual([env.RFT_MINTER_FUNCTION, env.RFT_SCREEN_FUNCTION, env.RFT_REWARDER_FUNCTION], [
      'staging-rft-minter', 'staging-rft-screen', 'staging-rft-rewarder',
    ]);
  });

  it('a missing prebuilt bootstrap says to run make build', () => {
    const a = new App({
      outdir: tempDir('rft-cdk-out-'),
      context: { 'aws:cdk:bundling-stacks': [], lambdaAssetRoot: tempDir('rft-empty-'), settingsFile },
    });
    assert.throws(
      () => new ReferralTrackerStack(a, 'S', { config: readConfig(a.node), env: { region: 'eu-west-2' } }),
      (e: Error) => e instanceof ConfigError && /rft-edge\/bootstrap is missing: run `make build`/.test(e.message),
    );
  });

  it('lambdaSource=cargo builds the same six functions with cargo-lambda-cdk (bundling skipped here)', () => {
    const s = synth({ lambdaSource: 'cargo' });
    const fns = Object.values(resourcesOfType(s.json, 'AWS::Lambda::Function'));
    assert.deepEqual(fns.map((f) => f.Properties.FunctionName).sort(), [...FUNCTIONS].sort());
    for (const f of fns) {
      assert.equal(f.Properties.Runtime, 'provided.al2023');
      assert.deepEqual(f.Properties.Architectures, ['arm64']);
      assert.equal(f.Properties.Handler, 'bootstrap');
    }
  });
});

/** The text of every Rust source of the functions and their crates. */
function rustSources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.rs')) out.push(fs.readFileSync(p, 'utf8'));
    }
  };
  walk(path.join(REPO_ROOT, 'crates'));
  walk(path.join(REPO_ROOT, 'functions'));
  return out;
}

/** Files named rft/settings.toml inside the staged assets of a cloud assembly. */
function findStagedSettings(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((d) => d.startsWith('asset.'))
    .map((d) => path.join(dir, d, 'rft', 'settings.toml'))
    .filter((f) => fs.existsSync(f));
}
