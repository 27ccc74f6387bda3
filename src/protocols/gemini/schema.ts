// JSON Schema → the OpenAPI 3.0 subset Gemini's `parameters` field takes (Google's Schema
// object). Where Gemini reads a tool's schema as `parameters` — its OpenAI-compatible endpoint
// does — it refuses the whole request over one keyword it does not know (`$schema`,
// `additionalProperties`, `const`, `$ref`, `propertyNames`: "Invalid JSON payload received.
// Unknown name …"), and MCP tools and zod-generated schemas carry them. BitRouter's native
// Gemini requests send `parametersJsonSchema`, which takes full JSON Schema, so this is applied
// only where a source needs it (exchange.ts). Pure.
import { isObject, type Json } from "../json.ts";

/** The Schema fields Gemini knows; every other keyword is left out. */
const KNOWN = new Set([
  "type",
  "format",
  "title",
  "description",
  "nullable",
  "enum",
  "items",
  "minItems",
  "maxItems",
  "properties",
  "required",
  "minProperties",
  "maxProperties",
  "propertyOrdering",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "anyOf",
  "default",
  "example",
]);

/** $ref chains deeper than this (a recursive type) end as a plain object. */
const MAX_REF_DEPTH = 8;

export function geminiSchema(schema: unknown): Json {
  const root = isObject(schema) ? schema : {};
  const defs = { ...(isObject(root.definitions) ? root.definitions : {}), ...(isObject(root.$defs) ? root.$defs : {}) };
  return clean(root, defs, 0);
}

function clean(node: Json, defs: Json, depth: number): Json {
  if (typeof node.$ref === "string") {
    const name = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(node.$ref)?.[1];
    const target = name !== undefined ? defs[decodeURIComponent(name)] : undefined;
    if (!isObject(target) || depth >= MAX_REF_DEPTH) return { type: "object", ...(typeof node.description === "string" ? { description: node.description } : {}) };
    return clean({ ...target, ...withoutRef(node) }, defs, depth + 1);
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (!KNOWN.has(key)) continue;
    if (key === "properties" && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, clean(isObject(sub) ? sub : {}, defs, depth)]));
    } else if (key === "items" && isObject(value)) {
      out.items = clean(value, defs, depth);
    } else if (key === "anyOf" && Array.isArray(value)) {
      out.anyOf = value.filter(isObject).map((sub) => clean(sub, defs, depth));
    } else if (key === "type" && Array.isArray(value)) {
      // ["string", "null"] → string, nullable: Gemini takes one type.
      const types = value.filter((t) => t !== "null");
      if (types.length > 0) out.type = types[0];
      if (types.length < value.length) out.nullable = true;
    } else {
      out[key] = value;
    }
  }
  // The spellings Gemini has no field for, kept in its own terms where one exists.
  if (out.anyOf === undefined && Array.isArray(node.oneOf)) out.anyOf = node.oneOf.filter(isObject).map((sub) => clean(sub, defs, depth));
  if (out.enum === undefined && node.const !== undefined) out.enum = [node.const];
  if (out.minimum === undefined && typeof node.exclusiveMinimum === "number") out.minimum = node.exclusiveMinimum;
  if (out.maximum === undefined && typeof node.exclusiveMaximum === "number") out.maximum = node.exclusiveMaximum;
  if (Array.isArray(node.allOf) && node.allOf.length > 0) {
    // An intersection: its parts' properties and requirements merged into this node.
    for (const part of node.allOf.filter(isObject).map((sub) => clean(sub, defs, depth))) {
      if (isObject(part.properties)) out.properties = { ...(isObject(out.properties) ? out.properties : {}), ...part.properties };
      if (Array.isArray(part.required)) out.required = [...new Set([...(Array.isArray(out.required) ? out.required : []), ...part.required])];
      out.type ??= part.type;
    }
  }
  // Gemini refuses `required` names that are not among the properties.
  if (Array.isArray(out.required) && isObject(out.properties)) {
    const names = out.properties;
    out.required = out.required.filter((r) => typeof r === "string" && r in names);
  }
  return out;
}

function withoutRef(node: Json): Json {
  const rest: Json = { ...node };
  delete rest.$ref;
  return rest;
}

/**
 * Google's Schema (what a Gemini client sends as `parameters` or `responseSchema`: OpenAPI 3.0
 * subset, types in capitals, `nullable`) → JSON Schema, which the other protocols' sources take.
 * Unknown keywords pass on untouched.
 */
export function jsonSchemaFromGemini(schema: unknown): Json {
  if (!isObject(schema)) return {};
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "type" && typeof value === "string") {
      if (value.toUpperCase() !== "TYPE_UNSPECIFIED") out.type = value.toLowerCase();
    } else if (key === "properties" && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, jsonSchemaFromGemini(sub)]));
    } else if (key === "items" && isObject(value)) {
      out.items = jsonSchemaFromGemini(value);
    } else if (key === "anyOf" && Array.isArray(value)) {
      out.anyOf = value.map(jsonSchemaFromGemini);
    } else if (key === "propertyOrdering" || key === "nullable") {
      // Gemini's own: ordering has no JSON Schema keyword; nullable is folded into the type below.
    } else {
      out[key] = value;
    }
  }
  if (schema.nullable === true) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    else if (Array.isArray(out.anyOf)) out.anyOf = [...out.anyOf, { type: "null" }];
  }
  return out;
}
