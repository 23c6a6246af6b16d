/**
 * The CDK app: one stack, ReferralTrackerStack, in the region from context `region`
 * (default eu-west-2) and the account of the caller's credentials.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError, readConfig } from '../lib/config';
import { ReferralTrackerStack } from '../lib/stack';

const app = new App();
try {
  const config = readConfig(app.node);
  new ReferralTrackerStack(app, 'ReferralTrackerStack', {
    config,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: config.region },
    description: 'Referral tracker: links, attribution, screening and exactly-once rewards',
  });
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
