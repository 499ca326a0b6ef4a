/**
 * The templates in templates/ are data that four programs must agree on: the simulator (event schema),
 * the consumer (aggregates), Elasticsearch (index templates) and Kibana (saved objects). These tests
 * catch the drift between them that would otherwise only show up as an empty Kibana panel.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type KibanaSavedObject, loadSavedObjects } from '../src/lab/provision/kibana.js';
import { PartitionAggregator } from '../src/pipeline/aggregator.js';
import { WINDOWING_DEFAULTS } from '../src/pipeline/windows.js';

type Json = Record<string, unknown>;

function readJson(relativePath: string): Json {
  return JSON.parse(readFileSync(new URL(`../templates/${relativePath}`, import.meta.url), 'utf8')) as Json;
}

const eventsTemplate = readJson('elasticsearch/events-template.json');
const aggregatesTemplate = readJson('elasticsearch/aggregates-template.json');
const eventSchema = readJson('schema/event.schema.json');
const savedObjects = await loadSavedObjects();
const indexTemplates = { 'gapipe-events': eventsTemplate, 'gapipe-aggregates': aggregatesTemplate };

const NUMERIC_TYPES = new Set(['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float']);
const DATE_TYPES = new Set(['date', 'date_nanos']);
/**
 * Field types that exist in every Elasticsearch distribution, including the minimal integ-test-zip used
 * by the e2e tests: no mapper-extras module (scaled_float, rank_feature…) and no x-pack (wildcard,
 * constant_keyword, unsigned_long, flattened…).
 */
const CORE_FIELD_TYPES = new Set([
  ...NUMERIC_TYPES,
  ...DATE_TYPES,
  'keyword',
  'text',
  'boolean',
  'ip',
  'binary',
]);

function asRecord(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${what} is not an object`);
  return value as Json;
}

function mappingProperties(template: Json): Record<string, { type?: string }> {
  const mappings = asRecord(asRecord(template.template, 'template').mappings, 'mappings');
  return asRecord(mappings.properties, 'mappings.properties') as Record<string, { type?: string }>;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** The template whose index_patterns cover every index the data view title can match. */
function templateForTitle(title: string): { name: string; template: Json } | undefined {
  const candidates = ['', '-1', '-2026.11.21', '-run-7f3a'].map((suffix) => title.replace(/\*/g, suffix));
  for (const [name, template] of Object.entries(indexTemplates)) {
    const patterns = (template.index_patterns as string[]).map(globToRegExp);
    if (candidates.every((index) => patterns.some((pattern) => pattern.test(index))))
      return { name, template };
  }
  return undefined;
}

const dataViews = savedObjects.filter((object) => object.type === 'index-pattern');
const lensObjects = savedObjects.filter((object) => object.type === 'lens');
const dashboard = savedObjects.find(
  (object) => object.type === 'dashboard' && object.id === 'gapipe-overview',
);

function dataViewTemplate(dataViewId: string): Json {
  const dataView = dataViews.find((view) => view.id === dataViewId);
  if (dataView === undefined) throw new Error(`no data view ${dataViewId} in the saved objects file`);
  const match = templateForTitle(String(dataView.attributes.title));
  if (match === undefined)
    throw new Error(`no index template covers data view title ${dataView.attributes.title}`);
  return match.template;
}

interface LensColumn {
  operationType: string;
  sourceField?: string;
  dataType?: string;
  isBucketed?: boolean;
  params?: { secondaryFields?: string[]; interval?: string };
}

interface LensLayerUse {
  lens: string;
  layerId: string;
  dataViewId: string;
  columns: Record<string, LensColumn>;
  columnOrder: string[];
}

function lensLayers(lens: KibanaSavedObject): LensLayerUse[] {
  const state = asRecord(lens.attributes.state, `${lens.id} state`);
  const formBased = asRecord(asRecord(state.datasourceStates, 'datasourceStates').formBased, 'formBased');
  const layers = asRecord(formBased.layers, 'formBased.layers');
  return Object.entries(layers).map(([layerId, layer]) => {
    const reference = (lens.references ?? []).find(
      (candidate) => candidate.name === `indexpattern-datasource-layer-${layerId}`,
    );
    if (reference === undefined) throw new Error(`${lens.id}: layer ${layerId} has no data view reference`);
    const { columns, columnOrder } = layer as { columns: Record<string, LensColumn>; columnOrder: string[] };
    return { lens: lens.id, layerId, dataViewId: reference.id, columns, columnOrder };
  });
}

/** The column ids the visualization draws, per layer id. */
function visualizationAccessors(lens: KibanaSavedObject): Map<string, string[]> {
  const state = asRecord(lens.attributes.state, `${lens.id} state`);
  const visualization = asRecord(state.visualization, `${lens.id} visualization`);
  const byLayer = new Map<string, string[]>();
  const layers = Array.isArray(visualization.layers) ? (visualization.layers as Json[]) : [visualization];
  for (const layer of layers) {
    const ids = [layer.xAccessor, layer.splitAccessor, layer.metricAccessor, layer.breakdownByAccessor]
      .concat(Array.isArray(layer.accessors) ? layer.accessors : [])
      .filter((id): id is string => typeof id === 'string');
    byLayer.set(String(layer.layerId), ids);
  }
  return byLayer;
}

const FIELD_TYPE_FOR_OPERATION: Record<string, (type: string) => boolean> = {
  sum: (type) => NUMERIC_TYPES.has(type),
  average: (type) => NUMERIC_TYPES.has(type),
  min: (type) => NUMERIC_TYPES.has(type),
  max: (type) => NUMERIC_TYPES.has(type),
  median: (type) => NUMERIC_TYPES.has(type),
  percentile: (type) => NUMERIC_TYPES.has(type),
  date_histogram: (type) => DATE_TYPES.has(type),
  terms: (type) => type === 'keyword',
  unique_count: (type) => type === 'keyword' || NUMERIC_TYPES.has(type),
};

describe('Elasticsearch index templates', () => {
  for (const [name, template] of Object.entries(indexTemplates)) {
    describe(name, () => {
      it('is a composable template gapipe owns, for a plain index with one shard', () => {
        expect(template.index_patterns).toEqual([`${name}*`]);
        expect(template.priority).toBe(200);
        expect(template._meta).toEqual(
          expect.objectContaining({ managed_by: 'gapipe', template_version: expect.any(Number) }),
        );
        const body = asRecord(template.template, 'template');
        expect(asRecord(body.settings, 'settings')).toEqual(
          expect.objectContaining({ number_of_shards: 1, number_of_replicas: 0 }),
        );
        expect(asRecord(body.mappings, 'mappings').dynamic).toBe(false);
      });

      it('needs nothing beyond the minimal Elasticsearch distribution', () => {
        expect(template).not.toHaveProperty('data_stream');
        const text = JSON.stringify(template);
        for (const forbidden of ['default_pipeline', 'final_pipeline', '"script"', 'runtime', 'lifecycle']) {
          expect(text).not.toContain(forbidden);
        }
        for (const [field, mapping] of Object.entries(mappingProperties(template))) {
          expect(CORE_FIELD_TYPES.has(String(mapping.type)), `${name}.${field}: ${mapping.type}`).toBe(true);
        }
      });
    });
  }

  it('maps the aggregate document the consumer writes', () => {
    const types = Object.fromEntries(
      Object.entries(mappingProperties(aggregatesTemplate)).map(([field, mapping]) => [field, mapping.type]),
    );
    expect(types).toEqual({
      window_start: 'date',
      window_end: 'date',
      window_kind: 'keyword',
      region: 'keyword',
      event_type: 'keyword',
      player_id: 'keyword',
      partition: 'integer',
      events: 'long',
      unique_players: 'long',
      revenue_usd: 'double',
      revenue_cents: 'long',
      late_events: 'long',
      late_revenue_cents: 'long',
      duplicates: 'long',
      final: 'boolean',
      last_offset: 'long',
      updated_at: 'date',
      run_id: 'keyword',
      topic: 'keyword',
    });
    // Every field of a document the consumer really writes (session windows carry player_id) is mapped.
    const aggregator = new PartitionAggregator('t', 0, { ...WINDOWING_DEFAULTS, kind: 'session' });
    aggregator.apply(
      0,
      {
        ok: true,
        event: {
          tsMs: 0,
          region: 'EU',
          eventType: 'item_purchase',
          playerId: 'p-1',
          eventHi: 1,
          eventLo: 2,
          playerHi: 3,
          playerLo: 4,
          priceCents: 99,
        },
      },
      'run-1',
    );
    const [written] = aggregator.collect(new Date(0).toISOString()).upserts;
    expect(Object.keys(written?.doc ?? {}).filter((field) => !(field in types))).toEqual([]);
  });
});

describe('Kibana saved objects', () => {
  it('has the two data views with fixed ids, each covered by an index template', () => {
    expect(dataViews.map((view) => [view.id, view.attributes.title, view.attributes.timeFieldName])).toEqual(
      expect.arrayContaining([
        ['gapipe-aggregates', 'gapipe-aggregates*', 'window_start'],
        ['gapipe-events', 'gapipe-events*', 'ts'],
      ]),
    );
    for (const view of dataViews) {
      expect(
        templateForTitle(String(view.attributes.title))?.name,
        String(view.attributes.title),
      ).toBeDefined();
    }
  });

  it('uses a mapped date field as every data view time field', () => {
    for (const view of dataViews) {
      const field = String(view.attributes.timeFieldName);
      const mapping = mappingProperties(dataViewTemplate(view.id))[field];
      expect(mapping?.type, `${view.id}.timeFieldName ${field}`).toBe('date');
    }
  });

  it('references only fields the index templates map, with a type that suits each operation', () => {
    const layers = lensObjects.flatMap(lensLayers);
    expect(layers.length).toBeGreaterThanOrEqual(3);
    for (const layer of layers) {
      const properties = mappingProperties(dataViewTemplate(layer.dataViewId));
      for (const [columnId, column] of Object.entries(layer.columns)) {
        const fields = [column.sourceField, ...(column.params?.secondaryFields ?? [])].filter(
          (field): field is string => field !== undefined && field !== '___records___',
        );
        for (const field of fields) {
          const where = `${layer.lens} column ${columnId} (${column.operationType} on ${field})`;
          const type = properties[field]?.type;
          expect(type, `${where}: not mapped`).toBeDefined();
          const suits = FIELD_TYPE_FOR_OPERATION[column.operationType];
          expect(suits, `${where}: operation not covered by this test`).toBeDefined();
          expect(suits?.(String(type)), `${where}: mapped as ${type}`).toBe(true);
        }
      }
    }
  });

  it('draws only columns that exist, and every column is in columnOrder', () => {
    for (const lens of lensObjects) {
      const layers = lensLayers(lens);
      for (const [layerId, accessors] of visualizationAccessors(lens)) {
        const layer = layers.find((candidate) => candidate.layerId === layerId);
        expect(layer, `${lens.id}: visualization layer ${layerId} has no datasource layer`).toBeDefined();
        for (const accessor of accessors) expect(Object.keys(layer?.columns ?? {})).toContain(accessor);
      }
      for (const layer of layers)
        expect([...layer.columnOrder].sort()).toEqual(Object.keys(layer.columns).sort());
    }
  });

  it('has the dashboard panels the design promises, summing unique players across partitions', () => {
    const byTitle = new Map(lensObjects.map((lens) => [String(lens.attributes.title), lens]));
    const columnsOf = (title: string) => {
      const lens = byTitle.get(title);
      expect(lens, title).toBeDefined();
      return lens === undefined ? [] : lensLayers(lens).flatMap((layer) => Object.values(layer.columns));
    };
    const has = (columns: LensColumn[], operationType: string, sourceField: string) =>
      columns.some((column) => column.operationType === operationType && column.sourceField === sourceField);

    const eventsPerRegion = columnsOf('Events per region over time');
    expect(has(eventsPerRegion, 'date_histogram', 'window_start')).toBe(true);
    expect(has(eventsPerRegion, 'sum', 'events')).toBe(true);
    expect(has(eventsPerRegion, 'terms', 'region')).toBe(true);
    expect(byTitle.get('Live event count')?.attributes.visualizationType).toBe('lnsMetric');
    expect(has(columnsOf('Live event count'), 'sum', 'events')).toBe(true);
    const revenue = columnsOf('Revenue per region');
    expect(has(revenue, 'sum', 'revenue_usd')).toBe(true);
    expect(has(revenue, 'terms', 'region')).toBe(true);

    const uniquePlayerColumns = lensObjects
      .flatMap(lensLayers)
      .flatMap((layer) => Object.values(layer.columns))
      .filter((column) => column.sourceField === 'unique_players');
    expect(uniquePlayerColumns.length).toBeGreaterThan(0);
    for (const column of uniquePlayerColumns) expect(column.operationType).toBe('sum');
    // Hopping and session windows overlap in time: sums are over tumbling windows only.
    for (const lens of lensObjects) {
      const state = lens.attributes.state as { query?: { query?: string } };
      expect(state.query?.query, String(lens.attributes.title)).toBe('window_kind : "tumbling"');
    }
  });

  it('has a dashboard whose panels all resolve to objects in the file', () => {
    expect(dashboard).toBeDefined();
    const attributes = dashboard?.attributes ?? {};
    expect(attributes.title).toBe('gapipe — game analytics overview');
    expect(attributes.timeRestore).toBe(true);
    expect([attributes.timeFrom, attributes.timeTo]).toEqual(['now-1h', 'now']);
    expect(attributes.refreshInterval).toEqual({ pause: false, value: 5000 });

    const panels = JSON.parse(String(attributes.panelsJSON)) as Array<{
      panelIndex: string;
      panelRefName?: string;
      gridData: { i: string };
      type: string;
    }>;
    expect(panels.length).toBeGreaterThanOrEqual(4);
    const ids = new Set(savedObjects.map((object) => `${object.type}/${object.id}`));
    for (const panel of panels) {
      expect(panel.gridData.i).toBe(panel.panelIndex);
      const reference = (dashboard?.references ?? []).find(
        (candidate) => candidate.name === `${panel.panelIndex}:${panel.panelRefName}`,
      );
      expect(reference, `panel ${panel.panelIndex}`).toBeDefined();
      expect(ids.has(`${reference?.type}/${reference?.id}`), `panel ${panel.panelIndex} target`).toBe(true);
      expect(reference?.type).toBe(panel.type);
    }
  });

  it('has references that all point inside the file, so an import needs nothing else', () => {
    const ids = new Set(savedObjects.map((object) => `${object.type}/${object.id}`));
    for (const object of savedObjects) {
      for (const reference of object.references ?? []) {
        expect(
          ids.has(`${reference.type}/${reference.id}`),
          `${object.id} → ${reference.type}/${reference.id}`,
        ).toBe(true);
      }
    }
  });
});

// --- event JSON schema --------------------------------------------------------------------------------

const SCHEMA_KEYWORDS = new Set([
  '$schema',
  '$id',
  '$ref',
  '$defs',
  '$comment',
  'title',
  'description',
  'type',
  'const',
  'enum',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'properties',
  'required',
  'additionalProperties',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
  'items',
]);
const JSON_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

/** Structural problems in a (sub)schema: unknown keywords, ill-typed keyword values, broken refs. */
function schemaProblems(node: unknown, path: string, root: Json): string[] {
  if (typeof node === 'boolean') return [];
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return [`${path}: not a schema`];
  const schema = node as Json;
  const problems: string[] = [];
  const sub = (value: unknown, where: string): void => {
    problems.push(...schemaProblems(value, where, root));
  };
  for (const [keyword, value] of Object.entries(schema)) {
    const where = `${path}/${keyword}`;
    if (!SCHEMA_KEYWORDS.has(keyword)) problems.push(`${where}: unknown keyword`);
    if (keyword === 'type' && !(typeof value === 'string' && JSON_TYPES.has(value))) problems.push(where);
    if (
      keyword === 'enum' &&
      !(Array.isArray(value) && value.length > 0 && new Set(value).size === value.length)
    ) {
      problems.push(`${where}: must be a non-empty array of unique values`);
    }
    if (keyword === 'pattern') {
      try {
        new RegExp(String(value), 'u');
      } catch {
        problems.push(`${where}: not a valid regular expression`);
      }
    }
    if (keyword === 'required') {
      if (!Array.isArray(value) || value.some((name) => typeof name !== 'string')) problems.push(where);
    }
    if (
      ['minLength', 'maxLength'].includes(keyword) &&
      !(Number.isInteger(value) && (value as number) >= 0)
    ) {
      problems.push(where);
    }
    if (['minimum', 'maximum'].includes(keyword) && typeof value !== 'number') problems.push(where);
    if (keyword === '$ref' && resolveRef(root, String(value)) === undefined)
      problems.push(`${where}: unresolved`);
    if (keyword === 'properties' || keyword === '$defs') {
      for (const [name, child] of Object.entries(asRecord(value, where))) sub(child, `${where}/${name}`);
    }
    if (['allOf', 'anyOf', 'oneOf'].includes(keyword)) {
      if (!Array.isArray(value) || value.length === 0) problems.push(`${where}: must be a non-empty array`);
      else for (const [index, child] of value.entries()) sub(child, `${where}/${index}`);
    }
    if (['not', 'if', 'then', 'else', 'items', 'additionalProperties'].includes(keyword)) sub(value, where);
  }
  return problems;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    default:
      return value === null;
  }
}

function resolveRef(root: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let current: unknown = root;
  for (const segment of ref.slice(2).split('/')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Json)[segment];
  }
  return current;
}

/**
 * Just enough of JSON Schema 2020-12 to check the keywords this schema uses. Not a general validator
 * (no ajv dependency on purpose); `format` is left to the pattern that accompanies it.
 */
function validate(schemaNode: unknown, value: unknown, path: string, root: Json): string[] {
  if (schemaNode === true) return [];
  if (schemaNode === false) return [`${path}: not allowed`];
  const schema = schemaNode as Json;
  const errors: string[] = [];
  if (typeof schema.$ref === 'string')
    errors.push(...validate(resolveRef(root, schema.$ref), value, path, root));
  if ('const' in schema && value !== schema.const)
    errors.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: not one of the enum`);
  if (schema.type !== undefined && !hasType(value, String(schema.type))) {
    return [...errors, `${path}: must be of type ${schema.type}`];
  }
  // As in JSON Schema, each keyword applies only to values of the kind it talks about.
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      errors.push(`${path}: does not match ${schema.pattern}`);
    }
    const length = [...value].length;
    if (typeof schema.minLength === 'number' && length < schema.minLength) errors.push(`${path}: too short`);
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) errors.push(`${path}: too long`);
  }
  if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) {
    errors.push(`${path}: below ${schema.minimum}`);
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const object = value as Json;
    const properties = (schema.properties ?? {}) as Json;
    for (const name of (schema.required ?? []) as string[]) {
      if (!(name in object)) errors.push(`${path}: missing ${name}`);
    }
    for (const [name, child] of Object.entries(object)) {
      if (name in properties) errors.push(...validate(properties[name], child, `${path}.${name}`, root));
      else if (schema.additionalProperties === false) errors.push(`${path}: unexpected property ${name}`);
    }
  }
  for (const child of (schema.allOf ?? []) as Json[]) {
    if (child.if !== undefined) {
      const branch = validate(child.if, value, path, root).length === 0 ? child.then : child.else;
      if (branch !== undefined) errors.push(...validate(branch, value, path, root));
    } else {
      errors.push(...validate(child, value, path, root));
    }
  }
  return errors;
}

const COMMON = {
  schema: 1,
  player_id: 'p-000417',
  username: 'NightOwl_417',
  region: 'EU',
  country: 'DE',
  platform: 'pc',
  session_id: 's-000417-0003',
};

const SAMPLE_EVENTS: Record<string, Json> = {
  player_join: {
    ...COMMON,
    event_id: '0f8fad5b-d9cb-469f-a165-70867728950e',
    event_type: 'player_join',
    ts: '2026-11-21T20:00:00.123Z',
    client_version: '1.42.0',
  },
  match_start: {
    ...COMMON,
    event_id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
    event_type: 'match_start',
    ts: '2026-11-21T20:00:31.004Z',
    match_id: 'm-88120',
    mode: 'ranked',
  },
  enemy_defeated: {
    ...COMMON,
    event_id: '16fd2706-8baf-433b-82eb-8c7fada847da',
    event_type: 'enemy_defeated',
    ts: '2026-11-21T20:02:10.500Z',
    enemy_type: 'goblin_archer',
    weapon: 'longsword',
    xp: 40,
  },
  item_purchase: {
    ...COMMON,
    event_id: '886313e1-3b8a-5372-9b90-0c9aee199e5d',
    event_type: 'item_purchase',
    ts: '2026-11-21T20:03:00.000Z',
    item_id: 'skin-dragon-07',
    item_name: 'Dragonscale Armor Skin',
    category: 'cosmetic',
    price_usd: 9.99,
  },
  level_up: {
    ...COMMON,
    event_id: 'a8098c1a-f86e-11da-bd1a-00112444be1e',
    event_type: 'level_up',
    ts: '2026-11-21T20:04:12.999Z',
    level: 12,
  },
  match_end: {
    ...COMMON,
    event_id: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    event_type: 'match_end',
    ts: '2026-11-21T20:15:31.004Z',
    match_id: 'm-88120',
    mode: 'ranked',
    result: 'win',
    duration_s: 900,
  },
  player_leave: {
    ...COMMON,
    event_id: '6ba7b811-9dad-11d1-80b4-00c04fd430c8',
    event_type: 'player_leave',
    ts: '2026-11-21T20:16:00.010Z',
    session_length_s: 960.5,
  },
};

describe('event JSON schema', () => {
  const properties = asRecord(eventSchema.properties, 'properties');

  it('is structurally valid JSON Schema 2020-12', () => {
    expect(eventSchema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schemaProblems(eventSchema, '#', eventSchema)).toEqual([]);
    expect(eventSchema.additionalProperties).toBe(false);
    for (const name of [
      ...(eventSchema.required as string[]),
      ...(eventSchema.allOf as Json[]).flatMap((rule) => asRecord(rule.then, 'then').required as string[]),
    ]) {
      expect(Object.keys(properties), `required ${name}`).toContain(name);
    }
  });

  it('is schema version 1 with the documented common fields and event types', () => {
    expect(properties.schema).toEqual(expect.objectContaining({ const: 1 }));
    expect(eventSchema.required).toEqual([
      'schema',
      'event_id',
      'event_type',
      'ts',
      'player_id',
      'username',
      'region',
      'country',
      'platform',
      'session_id',
    ]);
    const eventTypes = asRecord(properties.event_type, 'event_type').enum as string[];
    expect([...eventTypes].sort()).toEqual(Object.keys(SAMPLE_EVENTS).sort());
    expect(asRecord(properties.ts, 'ts')).toEqual(expect.objectContaining({ format: 'date-time' }));
  });

  it('has every property mapped in the events index template, and nothing mapped that it lacks', () => {
    const mapped = mappingProperties(eventsTemplate);
    expect(Object.keys(mapped).sort()).toEqual(Object.keys(properties).sort());
    expect(mapped.ts?.type).toBe('date');
    expect(mapped.price_usd?.type).toSatisfy((type: string) => NUMERIC_TYPES.has(type));
    expect(mapped.xp?.type).toSatisfy((type: string) => NUMERIC_TYPES.has(type));
    for (const keywordField of [
      'event_id',
      'event_type',
      'player_id',
      'region',
      'country',
      'platform',
      'session_id',
    ]) {
      expect(mapped[keywordField]?.type, keywordField).toBe('keyword');
    }
  });

  it('gives every event type a rule that requires its payload', () => {
    const types = (eventSchema.allOf as Json[]).map(
      (rule) =>
        asRecord(asRecord(asRecord(rule.if, 'if').properties, 'if.properties').event_type, 'event_type')
          .const,
    );
    expect([...types].sort()).toEqual(Object.keys(SAMPLE_EVENTS).sort());
  });

  for (const [eventType, sample] of Object.entries(SAMPLE_EVENTS)) {
    it(`accepts a ${eventType} event and rejects it without its payload`, () => {
      expect(validate(eventSchema, sample, 'event', eventSchema)).toEqual([]);

      const rule = (eventSchema.allOf as Json[]).find((candidate) =>
        JSON.stringify(candidate.if).includes(`"${eventType}"`),
      );
      for (const field of asRecord(rule?.then, 'then').required as string[]) {
        const { [field]: _removed, ...withoutField } = sample;
        expect(validate(eventSchema, withoutField, 'event', eventSchema), `without ${field}`).toContain(
          `event: missing ${field}`,
        );
      }
    });
  }

  it('rejects unknown properties, event times without milliseconds or zone, and negative prices', () => {
    const purchase = SAMPLE_EVENTS.item_purchase as Json;
    expect(validate(eventSchema, { ...purchase, run_id: 'r1' }, 'event', eventSchema)).toContain(
      'event: unexpected property run_id',
    );
    expect(
      validate(eventSchema, { ...purchase, ts: '2026-11-21T20:03:00Z' }, 'event', eventSchema),
    ).not.toEqual([]);
    expect(
      validate(eventSchema, { ...purchase, ts: '2026-11-21T20:03:00.000' }, 'event', eventSchema),
    ).not.toEqual([]);
    expect(validate(eventSchema, { ...purchase, price_usd: -1 }, 'event', eventSchema)).not.toEqual([]);
    expect(validate(eventSchema, { ...purchase, region: 'MARS' }, 'event', eventSchema)).not.toEqual([]);
    expect(validate(eventSchema, { ...purchase, schema: 2 }, 'event', eventSchema)).not.toEqual([]);
  });
});
