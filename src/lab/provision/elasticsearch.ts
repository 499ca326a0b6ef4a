/**
 * Elasticsearch provisioning: the raw-events and aggregates index templates (kept in templates/)
 * and their base indices. Idempotent through a content hash stored in each template's _meta.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { GapipeError } from '../../errors.js';
import { templatePath } from '../../paths.js';

export const EVENTS_INDEX = 'gapipe-events';
export const AGGREGATES_INDEX = 'gapipe-aggregates';

export const INDEX_TEMPLATES = [
  { name: EVENTS_INDEX, file: 'elasticsearch/events-template.json', index: EVENTS_INDEX },
  { name: AGGREGATES_INDEX, file: 'elasticsearch/aggregates-template.json', index: AGGREGATES_INDEX },
] as const;

export interface IndexTemplateResult {
  template: string;
  status: 'created' | 'updated' | 'unchanged';
  index: string;
  indexStatus: 'created' | 'unchanged';
}

type TemplateBody = { _meta?: Record<string, unknown> } & Record<string, unknown>;

export function loadIndexTemplate(file: string): { body: TemplateBody; hash: string } {
  const text = readFileSync(templatePath(file), 'utf8');
  const body = JSON.parse(text) as TemplateBody;
  const hash = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  return { body: { ...body, _meta: { ...body._meta, content_hash: hash } }, hash };
}

/**
 * Installs the index template kept in templates/`file` under `name` when it is missing or its content
 * hash differs from the one installed; says which. Every writer of gapipe's indices goes through this
 * (`lab up`, the consumer's store, the bench's run index), so they all agree on one mapping.
 */
export async function ensureIndexTemplate(
  client: Client,
  name: string,
  file: string,
): Promise<IndexTemplateResult['status']> {
  const { body, hash } = loadIndexTemplate(file);
  const existing = await client.indices.getIndexTemplate({ name }, { ignore: [404] });
  if (existing.index_templates?.[0]?.index_template._meta?.content_hash === hash) return 'unchanged';
  await client.indices.putIndexTemplate({ name, ...(body as object) });
  return existing.index_templates?.length ? 'updated' : 'created';
}

export async function provisionElasticsearch(url: string): Promise<IndexTemplateResult[]> {
  const client = new Client({ node: url, requestTimeout: 30_000, maxRetries: 3 });
  const results: IndexTemplateResult[] = [];
  try {
    for (const t of INDEX_TEMPLATES) {
      const status = await ensureIndexTemplate(client, t.name, t.file);
      const exists = await client.indices.exists({ index: t.index });
      if (!exists) await client.indices.create({ index: t.index }, { ignore: [400] });
      results.push({
        template: t.name,
        status,
        index: t.index,
        indexStatus: exists ? 'unchanged' : 'created',
      });
    }
    return results;
  } catch (error) {
    throw new GapipeError('PROVISIONING_FAILED', `Could not install the index templates on ${url}`, {
      cause: error,
      nextSteps: 'Check Elasticsearch with `gapipe lab status` and `gapipe lab logs elasticsearch`',
    });
  } finally {
    await client.close().catch(() => {});
  }
}
