// Node side of the differential test of package ot against quill-delta.
// Driven by ot/differential_test.go; see README.md.
//
// Protocol: one JSON object per line on stdin; one line per case on stdout,
// in the same order. The first output line is a JSON hello naming the
// versions in use.
//
//   in:  {"id":7, "doc":[...], "a":[...], "b":[...], "c":[...], "raw":[...], "index":3}
//   out: 7<TAB>apply<TAB>[...]<TAB>compose<TAB>[...]...
//
// (JSON.stringify never writes a raw tab, so the Go side splits the line
// without parsing it.) Every input field is optional; a result is present
// only when its inputs are. a and b are edits of doc, c is an edit of
// doc∘a, raw is any delta:
//
//   apply         doc.compose(a)
//   applyAC       doc.compose(a).compose(c)
//   compose       a.compose(c)
//   transformAB1  a.transform(b, true)
//   transformAB0  a.transform(b, false)
//   transformBA1  b.transform(a, true)
//   position1     a.transformPosition(index, true)
//   position0     a.transformPosition(index, false)
//   invert        a.invert(doc)
//   canonical     raw pushed op by op onto a new Delta, then chop()ped
//                 (quill's normal form, as ot.Canonical documents it)
//
// A result is the delta's .ops (or the number), or {"error": message} when
// quill-delta throws, written with object keys sorted recursively (except
// that "attributes" goes last, so an op reads {"insert":...,"attributes":...}
// as Go's MarshalJSON writes it): the Go side compares bytes, whatever order
// either side inserted keys in, and re-sorts both the same way only when the
// bytes differ.

import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import Delta from 'quill-delta';

const require = createRequire(import.meta.url);
const quillVersion = require('quill-delta/package.json').version;

// keyOrder is the Go side's diffKeyOrder: by code unit, "attributes" last.
function keyOrder(x, y) {
  if ((x === 'attributes') !== (y === 'attributes')) return x === 'attributes' ? 1 : -1;
  return x < y ? -1 : x > y ? 1 : 0;
}

// sortKeys returns v with every object's keys in keyOrder. Null-prototype
// objects keep a key named "__proto__" an ordinary key. (JavaScript lists
// integer-like keys first whatever the insertion order; the Go side then
// finds the bytes differ and re-sorts both sides itself.)
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const out = Object.create(null);
  for (const k of Object.keys(v).sort(keyOrder)) out[k] = sortKeys(v[k]);
  return out;
}

function canonical(ops) {
  const d = new Delta();
  for (const op of ops) {
    if (op.insert !== undefined) d.insert(op.insert, op.attributes);
    else if (op.retain !== undefined) d.retain(op.retain, op.attributes);
    else if (op.delete !== undefined) d.delete(op.delete);
    else throw new Error(`not an op: ${JSON.stringify(op)}`);
  }
  return d.chop();
}

// attempt runs f and returns its delta's ops, its number, or the error.
function attempt(f) {
  try {
    const r = f();
    return r instanceof Delta ? r.ops : r;
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

function run(c) {
  // Each operation gets its own copies: quill-delta never mutates its
  // arguments as far as we know, but one result must not depend on another.
  const d = (ops) => new Delta(structuredClone(ops));
  const has = (k) => c[k] !== undefined && c[k] !== null;
  const out = [];
  const put = (key, f) => out.push(key, JSON.stringify(sortKeys(attempt(f))));
  if (has('doc') && has('a')) {
    put('apply', () => d(c.doc).compose(d(c.a)));
    put('invert', () => d(c.a).invert(d(c.doc)));
  }
  if (has('doc') && has('a') && has('c')) put('applyAC', () => d(c.doc).compose(d(c.a)).compose(d(c.c)));
  if (has('a') && has('c')) put('compose', () => d(c.a).compose(d(c.c)));
  if (has('a') && has('b')) {
    put('transformAB1', () => d(c.a).transform(d(c.b), true));
    put('transformAB0', () => d(c.a).transform(d(c.b), false));
    put('transformBA1', () => d(c.b).transform(d(c.a), true));
  }
  if (has('a') && has('index')) {
    put('position1', () => d(c.a).transformPosition(c.index, true));
    put('position0', () => d(c.a).transformPosition(c.index, false));
  }
  if (has('raw')) put('canonical', () => canonical(structuredClone(c.raw)));
  return out;
}

process.stdout.write(JSON.stringify({ hello: 'quilldiff', quillDelta: quillVersion, node: process.version }) + '\n');

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === '') continue;
  let fields;
  try {
    const c = JSON.parse(line);
    fields = [String(c.id), ...run(c)];
  } catch (e) {
    fields = ['fatal', JSON.stringify(String(e && e.message ? e.message : e))];
  }
  // The Go side reads concurrently; wait for 'drain' when the pipe is full.
  if (!process.stdout.write(fields.join('\t') + '\n')) {
    await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}
