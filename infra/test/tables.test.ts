/**
 * The stack's tables are infra/tables.json's, the file crates/rft-aws/src/tables.rs creates the
 * emulators' tables from (its tests hold the adapters' index names to it). The file is read
 * here as plain JSON, not through lib/specs.ts, so this proves what the stack did with it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FUNCTIONS, functionId, resourcesOfType, synth } from './helpers';

interface Key { name: string; type: string }
interface Gsi { name: string; pk: Key; sk?: Key; include?: string[]; keysOnly?: boolean }
interface Table { env: string; pk: Key; sk?: Key; ttl?: string; pitr: boolean; gsis: Gsi[] }

const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'tables.json'), 'utf8')) as {
  tables: Record<string, Table>;
};
const { json } = synth();
const tables = Object.values(resourcesOfType(json, 'AWS::DynamoDB::Table')).map((r) => r.Properties);

const keySchema = (pk: Key, sk?: Key) => [
  { AttributeName: pk.name, KeyType: 'HASH' },
  ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' }] : []),
];

describe('infra/tables.json', () => {
  it('names exactly the tables the stack creates', () => {
    assert.deepEqual(tables.map((t) => t.TableName).sort(), Object.keys(schema.tables).sort());
  });

  for (const [name, spec] of Object.entries(schema.tables)) {
    it(`${name}: the stack's keys, attributes, GSIs, TTL and PITR are the file's`, () => {
      const t = tables.find((x) => x.TableName === name);
      assert.ok(t, name);
      assert.deepEqual(t.KeySchema, keySchema(spec.pk, spec.sk));
      const keys = [spec.pk, spec.sk, ...spec.gsis.flatMap((g) => [g.pk, g.sk])].filter((k): k is Key => !!k);
      const attrs = [...new Set(keys.map((k) => `${k.name}:${k.type}`))].sort();
      const actual = (t.AttributeDefinitions as { AttributeName: string; AttributeType: string }[]).map(
        (a) => `${a.AttributeName}:${a.AttributeType}`,
      );
      assert.deepEqual(actual.sort(), attrs);
      const projection = (g: Gsi) =>
        g.keysOnly
          ? { ProjectionType: 'KEYS_ONLY' }
          : g.include
            ? { ProjectionType: 'INCLUDE', NonKeyAttributes: g.include }
            : { ProjectionType: 'ALL' };
      assert.deepEqual(
        t.GlobalSecondaryIndexes ?? [],
        spec.gsis.map((g) => ({ IndexName: g.name, KeySchema: keySchema(g.pk, g.sk), Projection: projection(g) })),
      );
      assert.deepEqual(t.TimeToLiveSpecification, spec.ttl ? { AttributeName: spec.ttl, Enabled: true } : undefined);
      assert.equal(t.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled === true, spec.pitr);
    });
  }

  it("gives every function each table's physical name in the table's variable", () => {
    const ids = Object.entries(resourcesOfType(json, 'AWS::DynamoDB::Table'));
    const idOf = Object.fromEntries(ids.map(([id, r]) => [r.Properties.TableName, id]));
    for (const fn of FUNCTIONS) {
      const env = json.Resources[functionId(json, fn)].Properties.Environment.Variables;
      for (const [name, spec] of Object.entries(schema.tables)) {
        assert.deepEqual(env[spec.env], { Ref: idOf[name] }, `${fn} ${spec.env}`);
      }
    }
  });
});
