// Checks Kubernetes manifests against the Kubernetes API schemas, offline.
//
// The schemas come from the npm package kubernetes-models, generated from the Kubernetes OpenAPI
// spec (pinned in package.json / package-lock.json). Two passes per YAML document:
//   schema  the package's compiled JSON-schema validator for the kind: types, required fields,
//           enums and formats.
//   strict  unknown fields. The Kubernetes JSON schemas accept any extra property, so a misspelt
//           field (readOnlyRootFileSystem) would pass them and then be dropped or rejected by the
//           cluster. The package's TypeScript declarations list every field of every type, so each
//           document is type-checked as an object literal, whose unknown properties TypeScript
//           reports at any depth.
// Every error is printed as FILE:LINE: Kind/name: field.path: message; the exit status is 1 if
// there was any, 2 on bad usage.
//
// usage: node validate.mjs FILE.yaml...

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import ts from "typescript";
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments } from "yaml";

const toolsDir = path.dirname(fileURLToPath(import.meta.url));
const modelsVersion = JSON.parse(
  fs.readFileSync(path.join(toolsDir, "node_modules/kubernetes-models/package.json"), "utf8"),
).version;

// "apps/v1" -> "kubernetes-models/apps/v1"; "v1" (the core group) -> "kubernetes-models/v1".
function modelModule(apiVersion) {
  return `kubernetes-models/${apiVersion}`;
}

// Offset in the YAML text of the node at `fieldPath` (keys and indexes), or of its nearest
// existing ancestor: for a map entry the key's offset, so the line names the field.
function offsetOf(doc, fieldPath) {
  let node = doc.contents;
  let offset = node?.range?.[0] ?? 0;
  for (const step of fieldPath) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) {
        break;
      }
      offset = pair.key.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && Number.isInteger(Number(step)) && node.items[Number(step)]) {
      node = node.items[Number(step)];
      offset = node.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset;
}

function dotted(fieldPath) {
  let out = "";
  for (const step of fieldPath) {
    out += typeof step === "number" ? `[${step}]` : (out ? "." : "") + step;
  }
  return out || "(document)";
}

// ajv's "/spec/template/0/name" -> ["spec", "template", 0, "name"].
function fromPointer(pointer) {
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

// Pretty-prints `value` as a TypeScript literal, one property or element a line, and records for
// each line the field path it holds, so that a diagnostic's line leads back to the field.
function literal(value, fieldPath, indent, head, tail, out) {
  if (value !== null && typeof value === "object") {
    const isArray = Array.isArray(value);
    const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
    const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
    if (entries.length === 0) {
      out.push({ text: `${indent}${head}${open}${close}${tail}`, fieldPath });
      return;
    }
    out.push({ text: `${indent}${head}${open}`, fieldPath });
    entries.forEach(([key, v], i) => {
      const keyText = isArray ? "" : `${JSON.stringify(String(key))}: `;
      const sep = i < entries.length - 1 ? "," : "";
      literal(v, [...fieldPath, key], `${indent}  `, keyText, sep, out);
    });
    out.push({ text: `${indent}${close}${tail}`, fieldPath });
  } else {
    out.push({ text: `${indent}${head}${JSON.stringify(value)}${tail}`, fieldPath });
  }
}

const errors = [];
function report(source, fieldPath, message) {
  const { file, doc, lineCounter, label } = source;
  const line = doc ? lineCounter.linePos(offsetOf(doc, fieldPath)).line : 1;
  errors.push(`${file}:${line}: ${label}: ${dotted(fieldPath)}: ${message}`);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs FILE.yaml...");
  process.exit(2);
}

const checked = []; // documents that passed parsing and have a known kind
for (const file of files) {
  const text = fs.readFileSync(file, "utf8");
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const [index, doc] of list.entries()) {
    const source = { file, doc, lineCounter, label: `document ${index + 1}` };
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        errors.push(`${file}:${lineCounter.linePos(e.pos[0]).line}: YAML: ${e.message}`);
      }
      continue;
    }
    const data = doc.toJS();
    if (data === null || data === undefined) {
      continue; // an empty document, e.g. after a trailing ---
    }
    if (typeof data !== "object" || Array.isArray(data)) {
      report(source, [], "a manifest must be a mapping");
      continue;
    }
    const { apiVersion, kind } = data;
    source.label = `${kind ?? "?"}/${data.metadata?.name ?? "?"}`;
    if (typeof apiVersion !== "string" || typeof kind !== "string") {
      report(source, [], "apiVersion and kind are required strings");
      continue;
    }
    let Model;
    try {
      Model = (await import(modelModule(apiVersion)))[kind];
    } catch {
      Model = undefined;
    }
    if (typeof Model !== "function") {
      const where = `${apiVersion} (kubernetes-models ${modelsVersion})`;
      report(source, ["kind"], `no kind ${kind} in ${where}`);
      continue;
    }
    try {
      new Model(data).validate();
    } catch (e) {
      const found = Array.isArray(e.errors) && e.errors.length > 0 ? e.errors : null;
      if (!found) {
        report(source, [], e.message);
      }
      for (const err of found ?? []) {
        const at = fromPointer(err.instancePath ?? "");
        const extra = err.params?.allowedValues ? `: ${err.params.allowedValues.join(", ")}` : "";
        report(source, at, `${err.message}${extra} (schema)`);
      }
    }
    checked.push({ source, data, apiVersion, kind });
  }
}

// Strict pass: one TypeScript file per document, all in one program.
const genDir = fs.mkdtempSync(path.join(toolsDir, ".check-"));
try {
  const generated = new Map(); // file name -> { source, lines }
  checked.forEach(({ source, data, apiVersion, kind }, i) => {
    const typesModule = `${modelModule(apiVersion)}/${kind}`;
    const lines = [{ text: `import type { I${kind} } from "${typesModule}";`, fieldPath: [] }];
    literal(data, [], "", `export const doc${i}: I${kind} = `, ";", lines);
    const name = path.join(genDir, `doc${i}.ts`);
    fs.writeFileSync(name, lines.map((l) => l.text).join("\n") + "\n");
    generated.set(path.resolve(name), { source, lines });
  });
  const program = ts.createProgram([...generated.keys()], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
  });
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
    const entry = d.file ? generated.get(path.resolve(d.file.fileName)) : undefined;
    if (!entry) {
      errors.push(`typescript: ${message}`); // e.g. a broken install: not about a manifest
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const fieldPath = entry.lines[line]?.fieldPath ?? [];
    report(entry.source, fieldPath, `${message.replace(/"/g, "")} (strict)`);
  }
} finally {
  fs.rmSync(genDir, { recursive: true, force: true });
}

if (errors.length > 0) {
  for (const e of errors) {
    console.error(e);
  }
  console.error(`${errors.length} error(s)`);
  process.exit(1);
}
console.log(
  `ok: ${checked.length} document(s) in ${files.length} file(s) match the Kubernetes API ` +
    `schemas (kubernetes-models ${modelsVersion}, schema and unknown-field checks)`,
);
