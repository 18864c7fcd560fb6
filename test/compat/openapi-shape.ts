/**
 * Whether a real answer has the shape the OpenAPI document declares for its route: every
 * property it carries is declared, every required one is there, and values have the declared
 * JSON types. Lets the client suites hold the document to the answers the clients read.
 */
type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  nullable?: boolean;
};
export interface OpenApiDoc {
  paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json'?: { schema: Schema } } }> }>>;
  components: { schemas: Record<string, Schema> };
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function resolve(doc: OpenApiDoc, schema: Schema): Schema {
  return schema.$ref ? resolve(doc, doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!) : schema;
}

function check(doc: OpenApiDoc, schema: Schema, value: unknown, at: string, problems: string[]): void {
  if (schema.$ref) return check(doc, doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!, value, at, problems);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const fits = alternatives.some((s) => {
      const p: string[] = [];
      check(doc, s, value, at, p);
      return p.length === 0;
    });
    if (!fits) problems.push(`${at}: ${JSON.stringify(value)?.slice(0, 80)} fits none of the alternatives`);
    return;
  }
  if (schema.allOf) {
    // An extended schema: one object with the properties of all its parts.
    const parts = schema.allOf.map((s) => resolve(doc, s));
    const merged: Schema = {
      type: 'object',
      properties: Object.assign({}, ...parts.map((s) => s.properties)),
      required: parts.flatMap((s) => s.required ?? []),
    };
    return check(doc, merged, value, at, problems);
  }
  if (schema.enum && !schema.enum.includes(value))
    problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const t = jsonType(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) problems.push(`${at}: ${t}, declared ${types.join('|')}`);
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && (schema.properties || schema.additionalProperties !== undefined)) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) problems.push(`${at}.${key}: required, missing`);
    for (const [key, v] of Object.entries(record)) {
      const declared = schema.properties?.[key];
      if (declared) check(doc, declared, v, `${at}.${key}`, problems);
      else if (typeof schema.additionalProperties === 'object') check(doc, schema.additionalProperties, v, `${at}.${key}`, problems);
      else if (schema.additionalProperties !== true) problems.push(`${at}.${key}: not declared`);
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => check(doc, schema.items!, v, `${at}[${i}]`, problems));
}

/** Differences between `body` and the document's schema for `method path`'s success answer. */
export function shapeProblems(doc: OpenApiDoc, method: string, path: string, body: unknown): string[] {
  const route = doc.paths[path]?.[method.toLowerCase()];
  const status = Object.keys(route?.responses ?? {}).find((s) => s.startsWith('2')) ?? '200';
  const schema = route?.responses[status]?.content?.['application/json']?.schema;
  if (!schema) return [`${method} ${path} ${status}: no JSON schema in the document`];
  const problems: string[] = [];
  check(doc, schema, body, `${method} ${path}`, problems);
  return problems;
}
