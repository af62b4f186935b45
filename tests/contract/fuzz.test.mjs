// fuzz.test.mjs - a seeded, schema-guided random-request pass against the real logger.
//
// Run (after `npm ci` in api/ and a build of the logger):
//   cd api && LOGGER_BIN=../build/bin/event-logger npm run test:contract
// or on its own, with a seed and a count:
//   FUZZ_SEED=1234 FUZZ_REQUESTS=5000 LOGGER_BIN=build/bin/event-logger \
//       node --test tests/contract/fuzz.test.mjs
//
// Builds requests from api/openapi.yaml: for each operation, values generated from
// its schemas (valid ones, and ones broken on purpose: a field missing or unknown, a
// wrong type, an empty, over-long or over-byte-long string, U+0000, 1e999, a scalar
// body, malformed or non-UTF-8 JSON, deep nesting, an oversized body, the wrong media
// type, a bad or repeated query parameter, %00, a bad or unknown id, a missing or
// wrong token, a method or path the spec lacks; for the batch routes, batches of
// valid, broken and non-object items, empty and oversized batches, bodies of the
// wrong shape). Every answer must be one the spec
// documents for the operation (status, Content-Type, headers, body schema, via ajv),
// and the status must be the one the request deserves: ajv (with the spec's
// x-max-bytes) decides whether a body is valid, so an invalid one accepted, or a
// valid one refused, fails; each item of a status batch must get the code it
// deserves, in order. The seed is printed; the same seed replays the same
// requests. Requests go straight to the logger, one at a time, on a kept-alive
// connection: the suite is bounded by FUZZ_REQUESTS (default 3000) and by
// FUZZ_SECONDS (default 40), whichever ends first.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomInt } from 'node:crypto';
import { docsDir, loadSpec, SpecChecker, startLogger } from './harness.mjs';

const TOKEN = 'secret';
const SEED = Number(process.env.FUZZ_SEED ?? randomInt(2 ** 31));
const COUNT = Number(process.env.FUZZ_REQUESTS ?? 3000);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 40);
const MAX_BODY = 16384;
const MAX_BATCH_BODY = 1048576;
const DOCS_FILES = ['index.html', 'swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'];

const spec = loadSpec();
const checker = new SpecChecker(spec);

// mulberry32: small, seeded, good enough to pick test inputs
function prng (seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6D2B79F5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

// Random choices, all drawn from one seeded stream.
class Dice {
    constructor (seed) { this.next = prng(seed); }
    int (lo, hi) { return lo + Math.floor(this.next() * (hi - lo + 1)); }
    chance (p) { return this.next() < p; }
    pick (list) { return list[this.int(0, list.length - 1)]; }
    uuid () {
        const hex = () => this.int(0, 15).toString(16);
        const part = (n) => Array.from({ length: n }, hex).join('');
        return `${part(8)}-${part(4)}-4${part(3)}-${this.pick(['8', '9', 'a', 'b'])}${part(3)}-${part(12)}`;
    }
    // A string of length characters drawn from the given pools
    text (length, pools) {
        let out = '';
        for (let i = 0; i < length; i++) out += this.pick(this.pick(pools));
        return out;
    }
}

const ASCII = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:/@!?'];
const SPECIAL = ['"', '\\', '\n', '\t', '\u0001', '\u007f', '<', '&', '%'];
const WIDE = ['é', 'ü', 'ß', '€', '日', '本', '🚚', '😀', '\u2028', '\u202e'];
const STATUS_CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789_.-'];
const bytes = (s) => Buffer.byteLength(s, 'utf8');

// A value valid for schema (resolved through $ref).
function validValue (dice, schema0) {
    const schema = checker.deref(schema0);
    if (schema.const !== undefined) return schema.const;
    if (schema.type === 'object') {
        const out = {};
        for (const [name, sub] of Object.entries(schema.properties || {})) {
            if ((schema.required || []).includes(name) || dice.chance(0.5)) out[name] = validValue(dice, sub);
        }
        return out;
    }
    if (schema.type === 'integer') return dice.int(schema.minimum ?? 0, Math.min(schema.maximum ?? 1e6, 1e6));
    if (schema.type === 'string') {
        if (schema.format === 'uuid') return dice.uuid();
        const min = schema.minLength ?? 0;
        const max = Math.min(schema.maxLength ?? 64, 300);
        const length = dice.chance(0.1) ? max : dice.int(Math.max(min, 1), Math.min(max, 40));
        if (schema.pattern === '^[a-z0-9_.-]+$') return dice.text(length, [STATUS_CHARS]);
        let s = dice.text(length, dice.chance(0.7) ? [ASCII] : [ASCII, SPECIAL, WIDE]);
        // Keep to the byte limit the server enforces
        while (schema['x-max-bytes'] && bytes(s) > schema['x-max-bytes']) s = [...s].slice(0, -1).join('');
        return s.length >= min ? s : 'x'.repeat(min);
    }
    throw new Error(`no generator for schema ${JSON.stringify(schema).slice(0, 200)}`);
}

// Raw JSON tokens put where a value would go: numbers JSON.stringify cannot write
const RAW = { '"__1e999__"': '1e999', '"__neg1e999__"': '-1e999', '"__bigint__"': '123456789012345678901234567890' };

// A JSON text for body, with RAW placeholders replaced.
function serialize (body) {
    let text = JSON.stringify(body);
    for (const [k, v] of Object.entries(RAW)) text = text.split(k).join(v);
    return text;
}

// Break a valid object body in one of many ways; returns { text, ok: false }
// or, for a break that keeps it valid, lets ajv decide.
function brokenBody (dice, schema0, valid) {
    const schema = checker.deref(schema0);
    const names = Object.keys(schema.properties);
    const field = dice.pick(names);
    const body = { ...valid };
    switch (dice.int(0, 13)) {
    case 0: delete body[dice.pick(schema.required)]; break;
    case 1: body[dice.pick(['priority', 'event_id', 'status', 'x', 'user_id ', 'a\u0000b'])] = dice.pick([1, 'x', null]); break;
    case 2: body[field] = dice.pick([0, 1.5, true, null, [], {}, ['x'], { a: 1 }]); break;
    case 3: body[field] = dice.pick(Object.keys(RAW)).slice(1, -1); break;
    case 4: body[field] = ''; break;
    case 5: body[field] = 'x'.repeat((checker.deref(schema.properties[field]).maxLength ?? 64) + 1); break;
    case 6: body[field] = dice.pick(['ü', '€', '🚚']).repeat(Math.floor((checker.deref(schema.properties[field]).maxLength ?? 64) / 2) + 1); break;
    case 7: body[field] = `${validValue(dice, schema.properties[field])}\u0000`; break;
    case 8: body[field] = dice.pick(['Processed', 'in progress', 'é', 'a/b']); break;
    case 9: return { text: dice.pick(['[]', '42', '"x"', 'null', 'true', '[{}]', '-1e999']) };
    case 10: return { text: serialize(body).slice(0, dice.int(0, serialize(body).length - 1)) };
    case 11: return { text: `${'['.repeat(17)}1${']'.repeat(17)}` };
    case 12: return { text: serialize({ ...body, pad: 'p'.repeat(MAX_BODY) }) };
    default: return { bytes: Buffer.concat([Buffer.from('{"user_id":"'), Buffer.from([dice.pick([0xff, 0xc0, 0xed])]), Buffer.from('","description":"d"}')]) };
    }
    return { text: serialize(body) };
}

// True when value passes schema and every x-max-bytes in it (ajv decides).
function bodyValid (pointer, value) {
    if (!checker.validatorAt(pointer)(value)) return false;
    const schema = checker.deref(checker.at(pointer));
    for (const [name, sub] of Object.entries(schema.properties || {})) {
        const limit = checker.deref(sub)['x-max-bytes'];
        if (limit && typeof value[name] === 'string' && bytes(value[name]) > limit) return false;
        if (typeof value[name] === 'string' && value[name].includes('\u0000')) return false;
    }
    return true;
}

// One item of a batch: valid for the schema at pointer, broken in one of
// brokenBody's ways (those that leave JSON), or not an object at all.
function batchItem (dice, pointer, valid) {
    if (dice.chance(0.8)) return valid;
    if (dice.chance(0.15)) return dice.pick([1, 'x', null, [], [valid]]);
    const broken = brokenBody(dice, checker.at(pointer), valid);
    const json = broken.text === undefined ? null : parsed(broken.text);
    return json ? json.value : {};
}

// The nesting of arrays and objects in a JSON value (the server allows 16).
function depth (value) {
    if (value === null || typeof value !== 'object') return 0;
    return 1 + Math.max(0, ...Object.values(value).map(depth));
}

// True when a batch item passes its schema and the limits ajv cannot see.
function itemValid (pointer, item) {
    return item !== null && typeof item === 'object' && !Array.isArray(item) && bodyValid(pointer, item);
}

// Parse a body text the way a server would see it: JSON or not.
function parsed (text) {
    try {
        return { value: JSON.parse(text) };
    } catch {
        return null;
    }
}

describe(`a schema-guided random-request pass (FUZZ_SEED=${SEED})`, { timeout: (SECONDS + 60) * 1000 }, () => {
    let logger;
    let docs;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ids = [];                 // events this pass created
    const cursors = [];             // next values seen

    before(async () => {
        docs = docsDir();
        logger = await startLogger({ token: TOKEN, docs: docs.dir });
    });

    after(async () => {
        agent.destroy();
        if (logger) await logger.stop();
        if (docs) docs.cleanup();
    });

    // One request on the kept-alive connection. Resolves to { status, headers, body, text }.
    function send ({ method, path: target, headers = {}, body }) {
        return new Promise((resolve, reject) => {
            const hdrs = { ...headers };
            if (body !== undefined) hdrs['Content-Length'] = Buffer.byteLength(body);
            const req = http.request({ host: '127.0.0.1', port: logger.port, method, path: target, headers: hdrs, agent }, (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => {
                    const buf = Buffer.concat(chunks);
                    resolve({ status: res.statusCode, headers: res.headers, body: buf, text: buf.toString('utf8') });
                });
                res.on('error', reject);
            });
            req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
            req.on('error', reject);
            req.end(body);
        });
    }

    // A request for a body operation (POST /events, PATCH /events/{id}).
    function bodyRequest (dice, method, target, pointer, headers) {
        const valid = validValue(dice, checker.at(pointer));
        let text; let raw;
        if (dice.chance(0.45)) {
            text = serialize(valid);
        } else {
            const broken = brokenBody(dice, checker.at(pointer), valid);
            text = broken.text;
            raw = broken.bytes;
        }
        const body = raw ?? text;
        const size = Buffer.byteLength(body);
        let type = 'application/json';
        if (dice.chance(0.05)) type = dice.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', null]);
        else if (dice.chance(0.1)) type = dice.pick(['application/json; charset=utf-8', 'Application/JSON']);
        const hdrs = { ...headers };
        if (type) hdrs['Content-Type'] = type;
        // What it deserves, in the order the server looks
        let expect;
        const json = raw ? null : parsed(text);
        if (type === null || !/^application\/json(;|$)/i.test(type)) expect = [415];
        else if (size > MAX_BODY) expect = [413];
        else if (!json) expect = [400];
        else if (typeof json.value !== 'object' || json.value === null || Array.isArray(json.value)) expect = [400];
        else expect = bodyValid(pointer, json.value) ? 'ok' : [422];
        return { method, path: target, headers: hdrs, body, expect };
    }

    // A batch request: { name: [items] } (sometimes of a wrong shape), with
    // what it deserves: the status, and for a status batch each item's code.
    function batchRequest (dice, target, name, pointer, makeItem, headers) {
        const count = dice.chance(0.05) ? dice.pick([0, 1001]) : dice.int(1, 6);
        const items = [];
        for (let i = 0; i < count; i++) items.push(count > 6 ? makeItem(true) : makeItem(false));
        let document = { [name]: items };
        if (dice.chance(0.05)) document = { ...document, [dice.pick(['x', 'event', name.toUpperCase()])]: 1 };
        if (dice.chance(0.03)) document = { [name]: dice.pick([{}, 'x', null, 5]) };
        let text = serialize(document);
        if (dice.chance(0.05)) {
            text = dice.pick(['[]', '"x"', `${'['.repeat(17)}${']'.repeat(17)}`, text.slice(0, dice.int(0, text.length - 1)),
                `{"${name}":[${'['.repeat(14)}${']'.repeat(14)}]}`, `{"${name}":[${'['.repeat(15)}${']'.repeat(15)}]}`]);
        }
        let type = 'application/json';
        if (dice.chance(0.03)) type = dice.pick(['text/plain', null]);
        const hdrs = { ...headers };
        if (type) hdrs['Content-Type'] = type;
        const json = parsed(text);
        const shaped = json && json.value && typeof json.value === 'object' && !Array.isArray(json.value);
        let expect;
        if (!type || type !== 'application/json') expect = [415];
        else if (bytes(text) > MAX_BATCH_BODY) expect = [413];
        else if (!shaped || depth(json.value) > 16) expect = [400];
        else {
            const list = json.value[name];
            const rightShape = Object.keys(json.value).length === 1 && Array.isArray(list) &&
                list.length >= 1 && list.length <= 1000 && list.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x));
            expect = rightShape ? list.map((item) => itemValid(pointer, item)) : [422];
        }
        return { method: 'POST', path: target, headers: hdrs, body: text, expect, template: target };
    }

    // One random request and what it deserves: a list of statuses, or 'ok'.
    function nextRequest (dice) {
        const auth = { Authorization: `Bearer ${TOKEN}` };
        const anId = () => (ids.length && dice.chance(0.8) ? dice.pick(ids) : dice.uuid());
        switch (dice.int(0, 13)) {
        case 0: case 1: case 2: {
            const r = bodyRequest(dice, 'POST', '/events', '/components/schemas/EventCreate', {});
            if (r.expect === 'ok') r.expect = [201];
            return { ...r, template: '/events' };
        }
        case 3: case 4: {
            const id = anId();
            const noAuth = dice.chance(0.1);
            const r = bodyRequest(dice, 'PATCH', `/events/${id}`, '/components/schemas/StatusPatch',
                noAuth ? (dice.chance(0.5) ? {} : { Authorization: dice.pick(['Bearer nope', 'Basic c2VjcmV0', TOKEN]) }) : auth);
            // The token is checked first, the event looked up last
            if (noAuth) r.expect = [401];
            else if (r.expect === 'ok') r.expect = ids.includes(id) ? [200] : [404];
            return { ...r, template: '/events/{event_id}' };
        }
        case 5: {
            const kind = dice.int(0, 3);
            const id = kind === 0 ? dice.uuid() : kind === 1 ? dice.pick(['nope', '123', `${dice.uuid()}x`, 'zf2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b']) : anId();
            const target = kind === 3 ? `/events/${id.toUpperCase()}` : `/events/${id}`;
            const expect = kind === 1 ? [400] : ids.includes(id) ? [200] : [404];
            return { method: 'GET', path: target, expect, template: '/events/{event_id}' };
        }
        case 6: case 7: {
            const params = [];
            let ok = true;
            let unknownCursor = false;
            const op = spec.paths['/events'].get;
            for (const p of op.parameters.map((x) => checker.deref(x))) {
                if (!dice.chance(0.4)) continue;
                let value;
                if (p.name === 'after') {
                    value = cursors.length && dice.chance(0.7) ? dice.pick(cursors) : dice.uuid();
                    if (!ids.includes(value)) unknownCursor = true;
                } else {
                    value = String(validValue(dice, p.schema));
                }
                if (dice.chance(0.2)) {
                    ok = false;
                    value = dice.pick({
                        limit: ['0', '1001', 'abc', '05', ' 5', '+5', '5 ', '\n5', '1.5', ''],
                        status: ['Pending', 'a b', 's'.repeat(65), ''],
                        user_id: ['u'.repeat(257), 'ü'.repeat(129), ''],
                        after: ['not-a-cursor', `${dice.uuid()}x`, ''],
                    }[p.name]);
                }
                params.push(`${p.name}=${encodeURIComponent(value)}`);
                if (dice.chance(0.05)) {
                    ok = false;
                    params.push(`${p.name}=${encodeURIComponent(value)}`);
                }
            }
            if (dice.chance(0.1)) params.push(`${dice.pick(['x', 'page', 'LIMIT'])}=${dice.int(0, 9)}`);
            let expect = ok ? (unknownCursor ? [422] : [200]) : [422];
            if (dice.chance(0.05)) {
                params.push(`${dice.pick(['status', 'x'])}=a%00b`);
                expect = [400];
            }
            return { method: 'GET', path: `/events${params.length ? `?${params.join('&')}` : ''}`, expect, template: '/events' };
        }
        case 8: {
            const [target, expect] = dice.pick([['/healthz', [200]], ['/readyz', [503]], ['/metrics', [200]],
                ['/openapi.yaml', [200]], ['/docs', [200]], [`/docs/${dice.pick(DOCS_FILES)}`, [200]],
                [`/docs/${dice.text(dice.int(1, 12), [STATUS_CHARS])}`, [404]]]);
            return { method: 'GET', path: target, expect, template: checker.templateOf(target) };
        }
        case 9: {
            const target = dice.pick(['/events', `/events/${anId()}`, '/healthz', '/readyz', '/metrics', '/openapi.yaml', '/docs']);
            const template = checker.templateOf(target);
            const documented = checker.methodsOf(template);
            const method = dice.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'].filter((m) => !documented.includes(m)));
            return { method, path: target, expect: [405], template };
        }
        case 10: {
            const target = dice.pick(['/', '/events/', '//events', `/events/${anId()}/x`, '/healthz/', '/nope',
                `/${dice.text(dice.int(1, 20), [STATUS_CHARS])}`, '/events%00', `/events/${anId()}%00x`, '/docs/a/b']);
            return { method: dice.pick(['GET', 'POST', 'DELETE']), path: target, expect: [404], template: null };
        }
        case 12: {
            const pointer = '/components/schemas/EventCreate';
            const r = batchRequest(dice, '/events:batchCreate', 'events', pointer,
                () => batchItem(dice, pointer, validValue(dice, checker.at(pointer))), {});
            // All or nothing: one bad item refuses the batch
            if (typeof r.expect[0] === 'boolean') r.expect = r.expect.every(Boolean) ? [201] : [422];
            return r;
        }
        case 13: {
            const pointer = '/components/schemas/StatusUpdate';
            const noAuth = dice.chance(0.1);
            const r = batchRequest(dice, '/events:batchUpdateStatus', 'updates', pointer,
                (many) => batchItem(dice, pointer, { event_id: many ? dice.uuid() : anId(), status: validValue(dice, checker.at('/components/schemas/EventStatus')) }),
                noAuth ? {} : auth);
            if (noAuth) r.expect = [401];
            else if (typeof r.expect[0] === 'boolean') {
                // 200, and each item the code PATCH would give it
                const items = JSON.parse(r.body).updates;
                r.items = r.expect.map((ok, i) => (!ok ? 422 : ids.includes(items[i].event_id.toLowerCase()) ? 200 : 404));
                r.expect = [200];
            }
            return r;
        }
        default: {
            // A query %00 on any operation
            const target = dice.pick(['/healthz', '/readyz', '/metrics', '/openapi.yaml', '/events', `/events/${anId()}`]);
            return { method: 'GET', path: `${target}?q=%00`, expect: [400], template: checker.templateOf(target) };
        }
        }
    }

    it(`sends ${COUNT} requests (or ${SECONDS} s) and every answer is in the spec, and deserved`, async (t) => {
        t.diagnostic(`FUZZ_SEED=${SEED} FUZZ_REQUESTS=${COUNT} reproduces this pass`);
        const dice = new Dice(SEED);
        const deadline = Date.now() + SECONDS * 1000;
        const seen = new Map();
        let sent = 0;
        for (; sent < COUNT && Date.now() < deadline; sent++) {
            const r = nextRequest(dice);
            const what = `FUZZ_SEED=${SEED}, request #${sent}: ${r.method} ${r.path.slice(0, 120)} ` +
                `${JSON.stringify(r.headers || {})} ${r.body === undefined ? '' : String(r.body).slice(0, 200)}`;
            let res;
            try {
                res = await send(r);
            } catch (err) {
                throw new Error(`${what}: ${err.message}`);
            }
            try {
                // HEAD answers carry no body to check
                if (r.method !== 'HEAD') checker.check(res, r.template, r.method.toLowerCase(), what);
                assert.ok(r.expect.includes(res.status), `deserved ${r.expect.join(' or ')}, got ${res.status}: ${res.text.slice(0, 300)}`);
                if (res.status === 405) assert.ok(res.headers.allow, '405 without Allow');
                if (r.items && res.status === 200) {
                    assert.deepEqual(JSON.parse(res.text).results.map((x) => x.code), r.items, 'the items\' codes');
                }
            } catch (err) {
                throw new Error(`${what}\n${err.message}`);
            }
            if (r.method === 'POST' && res.status === 201) {
                const created = JSON.parse(res.text);
                for (const ev of created.events || [created]) ids.push(ev.event_id);
            }
            if (r.method === 'GET' && r.template === '/events' && res.status === 200) {
                const next = JSON.parse(res.text).next;
                if (next) cursors.push(next);
            }
            seen.set(res.status, (seen.get(res.status) || 0) + 1);
        }
        t.diagnostic(`${sent} requests; statuses ${JSON.stringify(Object.fromEntries([...seen].sort()))}; ${ids.length} events created`);
        assert.ok(sent >= Math.min(COUNT, 1000), `only ${sent} requests in ${SECONDS} s`);
        for (const code of [200, 201, 400, 401, 404, 405, 413, 415, 422]) assert.ok(seen.has(code), `no ${code} among the answers`);
    });
});
