/**
 * ReferralTrackerStack: the whole referral tracker in one region (Part 7 of the design, with the
 * corrections of CONTRACT §3): six arm64 Rust functions, five on-demand tables, two job queues
 * with their own DLQs, one Function URL, an hourly sweep, one secret, SES, a budget and alarms.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CfnOutput,
  Duration,
  RemovalPolicy,
  SecretValue,
  Stack,
  type StackProps,
  Stage,
  aws_budgets as budgets,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_secretsmanager as secretsmanager,
  aws_ses as ses,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { RustFunction, cargoLambdaVersion } from 'cargo-lambda-cdk';
import type { Construct } from 'constructs';
import { ConfigError, REPO_ROOT, type StackConfig } from './config';
import { PERMISSIONS, type Target } from './permissions';
import {
  BEDROCK_MODEL_ID,
  BEDROCK_PROFILE_ID,
  FUNCTION_NAMES,
  FUNCTION_SPECS,
  type FunctionName,
  MAX_RECEIVE_COUNT,
  QUEUE_CONSUMERS,
  QUEUE_NAMES,
  type QueueName,
  SECRET_KEYS,
  SECRET_NAME,
  SETTINGS_PATH_IN_LAYER,
  BATCH_SIZES,
  TABLE_NAMES,
  TABLE_SPECS,
  type TableName,
  type TableSpec,
  VISIBILITY_TIMEOUT_FACTOR,
} from './specs';

/** Props: the resolved configuration plus the usual stack props. */
export interface ReferralTrackerStackProps extends StackProps {
  readonly config: StackConfig;
}

/** The placeholder each secret key holds until an operator sets it (docs/deploy.md). */
export const SECRET_PLACEHOLDER = 'REPLACE_ME (see docs/deploy.md)';

/** 'rft-edge' -> 'Edge': construct ids. */
const idOf = (name: string) =>
  name
    .replace(/^rft-/, '')
    .split('-')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');

/** The one stack. Resources are exposed for tests and for anyone extending it. */
export class ReferralTrackerStack extends Stack {
  readonly functions: Record<FunctionName, lambda.Function>;
  readonly roles: Record<FunctionName, iam.Role>;
  readonly logGroups: Record<FunctionName, logs.LogGroup>;
  readonly tables: Record<TableName, dynamodb.Table>;
  readonly queues: Record<QueueName, sqs.Queue>;
  readonly deadLetterQueues: Record<QueueName, sqs.Queue>;
  readonly secret: secretsmanager.Secret;
  readonly emailIdentity: ses.EmailIdentity;
  readonly settingsLayer: lambda.LayerVersion;
  readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: ReferralTrackerStackProps) {
    super(scope, id, props);
    const cfg = props.config;

    this.tables = mapNames(TABLE_NAMES, (name) => this.table(name, TABLE_SPECS[name]));

    this.deadLetterQueues = mapNames(QUEUE_NAMES, (name) =>
      new sqs.Queue(this, `${idOf(name)}Dlq`, {
        queueName: `${name}-dlq`,
        retentionPeriod: Duration.days(14),
        enforceSSL: true,
      }),
    );
    this.queues = mapNames(QUEUE_NAMES, (name) =>
      new sqs.Queue(this, `${idOf(name)}Queue`, {
        queueName: name,
        // Lambda's rule: at least six times the consumer's timeout, so a message is not
        // redelivered while a batch is still being worked on.
        visibilityTimeout: Duration.seconds(FUNCTION_SPECS[QUEUE_CONSUMERS[name]].timeoutSecs * VISIBILITY_TIMEOUT_FACTOR),
        deadLetterQueue: { queue: this.deadLetterQueues[name], maxReceiveCount: MAX_RECEIVE_COUNT },
        enforceSSL: true,
      }),
    );

    // One secret, one $0.40 line. CloudFormation writes the placeholders only when it creates
    // the secret (or when this template value changes); values set later with
    // `aws secretsmanager put-secret-value` are left alone by later deploys.
    this.secret = new secretsmanager.Secret(this, 'Secrets', {
      secretName: SECRET_NAME,
      description: 'Referral tracker: webhook signing secret, ops link key, store API key, identity hash key',
      secretObjectValue: Object.fromEntries(SECRET_KEYS.map((k) => [k, SecretValue.unsafePlainText(SECRET_PLACEHOLDER)])),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Easy DKIM is on by default: the three CNAME records are in the outputs below.
    this.emailIdentity = new ses.EmailIdentity(this, 'SendingDomain', {
      identity: ses.Identity.domain(cfg.sesDomain),
    });

    // Stage the layer's files inside this synthesis's output directory, so nothing leaks.
    const stagingRoot = Stage.of(this)?.outdir ?? os.tmpdir();
    this.settingsLayer = new lambda.LayerVersion(this, 'Settings', {
      layerVersionName: 'rft-settings',
      description: `Referral tracker settings (${path.basename(cfg.settingsFile)}) at /opt/${SETTINGS_PATH_IN_LAYER}`,
      code: lambda.Code.fromAsset(stageSettings(cfg.settingsFile, path.join(stagingRoot, 'rft-settings-staging'))),
      // No compatibleRuntimes: it is only a console hint, and CDK compares Runtime objects, which
      // cargo-lambda-cdk builds afresh (so PROVIDED_AL2023 would not match its provided.al2023).
      compatibleArchitectures: [lambda.Architecture.ARM_64],
    });

    const environment: Record<string, string> = {
      RFT_SETTINGS: `/opt/${SETTINGS_PATH_IN_LAYER}`,
      RFT_SECRET_ID: this.secret.secretArn,
      RFT_TABLE_CODES: this.tables['rft-codes'].tableName,
      RFT_TABLE_CLICKS: this.tables['rft-clicks'].tableName,
      RFT_TABLE_REFERRALS: this.tables['rft-referrals'].tableName,
      RFT_TABLE_REWARDS: this.tables['rft-rewards'].tableName,
      RFT_TABLE_AUDIT: this.tables['rft-audit'].tableName,
      RFT_SIGNUP_QUEUE_URL: this.queues['rft-signup-jobs'].queueUrl,
      RFT_REWARD_QUEUE_URL: this.queues['rft-reward-jobs'].queueUrl,
      // Physical names, not references: the minter and screen get these too, and a function
      // cannot reference its own name without a dependency cycle.
      RFT_MINTER_FUNCTION: 'rft-minter',
      RFT_SCREEN_FUNCTION: 'rft-screen',
      RFT_REWARDER_FUNCTION: 'rft-rewarder',
      RUST_LOG: 'info',
    };
    const extraEnvironment: Partial<Record<FunctionName, Record<string, string>>> = {
      // Reward confirmations are transactional SMS (higher delivery priority than promotional).
      'rft-rewarder': { RFT_SMS_TYPE: 'Transactional' },
    };

    if (cfg.lambdaSource === 'cargo' && this.bundlingRequired && !cargoLambdaVersion()) {
      // cargo-lambda-cdk would otherwise fall back to Docker without saying why.
      throw new ConfigError(
        'lambdaSource=cargo needs `cargo lambda` on PATH (make build installs it into .venv: ' +
          'run with PATH=.venv/bin:$PATH), or use the default lambdaSource=prebuilt after `make build`',
      );
    }

    this.logGroups = {} as Record<FunctionName, logs.LogGroup>;
    this.roles = {} as Record<FunctionName, iam.Role>;
    this.functions = mapNames(FUNCTION_NAMES, (name) => {
      const spec = FUNCTION_SPECS[name];
      const logGroup = new logs.LogGroup(this, `${idOf(name)}Logs`, {
        logGroupName: `/aws/lambda/${name}`,
        retention: logs.RetentionDays.ONE_WEEK,
        // Seven-day operational logs are not records; keep redeploys after a teardown clean.
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // An explicit role: no AWSLambdaBasicExecutionRole (its logs grant is on "*"); the
      // permissions matrix adds logging on this function's own log group only.
      const role = new iam.Role(this, `${idOf(name)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of ${name}: exactly its row of infra/lib/permissions.ts`,
      });
      this.logGroups[name] = logGroup;
      this.roles[name] = role;
      const options: lambda.FunctionOptions = {
        functionName: name,
        description: `Referral tracker: ${name}`,
        role,
        logGroup,
        architecture: lambda.Architecture.ARM_64,
        memorySize: spec.memoryMb,
        timeout: Duration.seconds(spec.timeoutSecs),
        layers: [this.settingsLayer],
        environment: { ...environment, ...extraEnvironment[name] },
      };
      if (cfg.lambdaSource === 'cargo') {
        return new RustFunction(this, idOf(name), {
          ...options,
          runtime: 'provided.al2023',
          manifestPath: path.join(REPO_ROOT, 'functions', name, 'Cargo.toml'),
          binaryName: name,
          // The size-optimised profile of Cargo.toml, as `make build` uses.
          bundling: { profile: 'lambda' },
        });
      }
      return new lambda.Function(this, idOf(name), {
        ...options,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(prebuiltDir(cfg.lambdaAssetRoot, name)),
      });
    });

    for (const name of FUNCTION_NAMES) {
      for (const grant of PERMISSIONS[name]) {
        this.roles[name].addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: [...grant.actions],
            resources: this.resolveTarget(grant.on, name),
            conditions: grant.condition ? structuredClone(grant.condition) : undefined,
          }),
        );
      }
    }

    // Each queue feeds exactly one consumer. A plain event source mapping rather than
    // SqsEventSource, because the latter also grants sqs:GetQueueUrl: the consumer's SQS
    // permissions come from the matrix alone. The mapping depends on the function, which depends
    // on its role's policy, so the permissions exist before the mapping is created.
    for (const name of QUEUE_NAMES) {
      this.functions[QUEUE_CONSUMERS[name]].addEventSourceMapping(`${idOf(name)}Source`, {
        eventSourceArn: this.queues[name].queueArn,
        batchSize: BATCH_SIZES[name],
        reportBatchItemFailures: true,
      });
    }

    const url = this.functions['rft-edge'].addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });

    this.sweepSchedule();
    this.alarmTopic = this.alarms(cfg.alarmEmail);
    this.budget(cfg);

    new CfnOutput(this, 'EdgeUrl', {
      value: url.url,
      description: 'The one public surface: links are <base_url>/r/<code>; the store posts to /webhooks/* and /api/*',
    });
    new CfnOutput(this, 'SecretArn', { value: this.secret.secretArn, description: `Set its four keys (docs/deploy.md)` });
    const dkim: [string, string][] = [
      [this.emailIdentity.dkimDnsTokenName1, this.emailIdentity.dkimDnsTokenValue1],
      [this.emailIdentity.dkimDnsTokenName2, this.emailIdentity.dkimDnsTokenValue2],
      [this.emailIdentity.dkimDnsTokenName3, this.emailIdentity.dkimDnsTokenValue3],
    ];
    dkim.forEach(([recordName, value], i) => {
      new CfnOutput(this, `DkimRecord${i + 1}`, {
        value: `${recordName} CNAME ${value}`,
        description: `SES DKIM record ${i + 1} for ${cfg.sesDomain}`,
      });
    });
  }

  /** A table from its spec: on-demand, retained, keys, TTL, PITR and GSIs. */
  private table(name: TableName, spec: TableSpec): dynamodb.Table {
    const attr = (a: { name: string; type: 'S' | 'N' }): dynamodb.Attribute => ({
      name: a.name,
      type: a.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
    });
    const table = new dynamodb.Table(this, `${idOf(name)}Table`, {
      tableName: name,
      partitionKey: attr(spec.pk),
      sortKey: spec.sk ? attr(spec.sk) : undefined,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: spec.ttl,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: spec.pitr },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const gsi of spec.gsis) {
      table.addGlobalSecondaryIndex({
        indexName: gsi.name,
        partitionKey: attr(gsi.pk),
        sortKey: gsi.sk ? attr(gsi.sk) : undefined,
        projectionType: gsi.keysOnly
          ? dynamodb.ProjectionType.KEYS_ONLY
          : gsi.include
            ? dynamodb.ProjectionType.INCLUDE
            : dynamodb.ProjectionType.ALL,
        nonKeyAttributes: gsi.include ? [...gsi.include] : undefined,
      });
    }
    return table;
  }

  /** The ARNs a permissions target names, for the function `self`. */
  private resolveTarget(target: Target, self: FunctionName): string[] {
    if ('index' in target) {
      const spec = TABLE_SPECS[target.table];
      if (!spec.gsis.some((g) => g.name === target.index)) {
        throw new Error(`permissions name index ${target.index} which ${target.table} does not have`);
      }
      return [`${this.tables[target.table].tableArn}/index/${target.index}`];
    }
    if ('table' in target) return [this.tables[target.table].tableArn];
    if ('queue' in target) return [this.queues[target.queue].queueArn];
    if ('fn' in target) return [this.functions[target.fn].functionArn];
    if ('secret' in target) return [this.secret.secretArn];
    if ('sesIdentity' in target) return [this.emailIdentity.emailIdentityArn];
    if ('bedrockHaiku' in target) {
      return [
        `arn:${this.partition}:bedrock:${this.region}:${this.account}:inference-profile/${BEDROCK_PROFILE_ID}`,
        // A Global profile routes each call to the model in whichever Region has capacity, and
        // IAM checks the foundation model there (and as the Region-less global model ARN), so
        // the Region is "*" here; the model id still pins it to Haiku 4.5 only.
        `arn:${this.partition}:bedrock:*::foundation-model/${BEDROCK_MODEL_ID}`,
      ];
    }
    if ('ownLogGroup' in target) return [this.logGroups[self].logGroupArn];
    if ('anyResource' in target) return ['*'];
    throw new Error(`unknown permissions target ${JSON.stringify(target)}`);
  }

  /** EventBridge Scheduler: rft-sweep every hour, through a role that may invoke only rft-sweep. */
  private sweepSchedule(): void {
    const role = new iam.Role(this, 'SweepScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'EventBridge Scheduler: may invoke rft-sweep and nothing else',
    });
    new scheduler.Schedule(this, 'SweepSchedule', {
      scheduleName: 'rft-sweep-hourly',
      description: 'Expire pending referrals whose window has passed (CONTRACT invariant 7)',
      schedule: scheduler.ScheduleExpression.rate(Duration.hours(1)),
      // The sweep is idempotent and the next run is an hour away: a few retries are plenty.
      target: new schedulerTargets.LambdaInvoke(this.functions['rft-sweep'], {
        role,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });
  }

  /** Alarms to an SNS topic emailed to the operator: parked jobs, and jobs waiting too long. */
  private alarms(email: string): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', { topicName: 'rft-alarms', displayName: 'Referral tracker alarms' });
    topic.addSubscription(new subscriptions.EmailSubscription(email));
    const action = new cwActions.SnsAction(topic);
    for (const name of QUEUE_NAMES) {
      const dlq = this.deadLetterQueues[name];
      new cloudwatch.Alarm(this, `${idOf(name)}DlqAlarm`, {
        alarmName: `${name}-dlq-not-empty`,
        alarmDescription: `A job failed ${MAX_RECEIVE_COUNT} times and is parked in ${name}-dlq: inspect it, fix, redrive`,
        metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(action);
      new cloudwatch.Alarm(this, `${idOf(name)}AgeAlarm`, {
        alarmName: `${name}-oldest-over-15min`,
        alarmDescription: `The oldest job in ${name} has waited over 15 minutes: is ${QUEUE_CONSUMERS[name]} failing or throttled?`,
        metric: this.queues[name].metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: Duration.minutes(15).toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(action);
    }
    return topic;
  }

  /** A monthly cost budget over the whole account bill, emailing at 80% actual and 100% forecast. */
  private budget(cfg: StackConfig): void {
    const subscribers = [{ subscriptionType: 'EMAIL', address: cfg.budgetEmail }];
    new budgets.CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetName: 'rft-monthly-cost',
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: cfg.budgetAmountUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: [
        {
          notification: { notificationType: 'ACTUAL', comparisonOperator: 'GREATER_THAN', threshold: 80, thresholdType: 'PERCENTAGE' },
          subscribers,
        },
        {
          notification: { notificationType: 'FORECASTED', comparisonOperator: 'GREATER_THAN', threshold: 100, thresholdType: 'PERCENTAGE' },
          subscribers,
        },
      ],
    });
  }
}

/** Builds a record keyed by every name in `names`. */
function mapNames<K extends string, V>(names: readonly K[], f: (name: K) => V): Record<K, V> {
  return Object.fromEntries(names.map((n) => [n, f(n)])) as Record<K, V>;
}

/** The directory `cargo lambda build --profile lambda --arm64` wrote for `name`, checked for `bootstrap`. */
function prebuiltDir(root: string, name: FunctionName): string {
  const dir = path.join(root, name);
  if (!fs.existsSync(path.join(dir, 'bootstrap'))) {
    throw new ConfigError(
      `${path.join(dir, 'bootstrap')} is missing: run \`make build\` first (cargo lambda build --profile lambda --arm64), ` +
        'or synthesize with -c lambdaSource=cargo',
    );
  }
  return dir;
}

/**
 * Copies the settings file into `dir` (emptied first) as `rft/settings.toml`, which a layer
 * unpacks to /opt/rft/settings.toml. The asset hash covers the content, so a changed file
 * publishes a new layer version and every function picks it up on the next deploy.
 */
export function stageSettings(settingsFile: string, dir: string): string {
  fs.rmSync(dir, { recursive: true, force: true });
  const dest = path.join(dir, SETTINGS_PATH_IN_LAYER);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(settingsFile, dest);
  return dir;
}
